"""TechniService simulator: the repairer's XML-over-REST API, faults included.

``python -m simulators.techniservice --port 8081`` serves in the foreground (the sheet's
sample changes are loaded unless ``--empty``).
"""

from __future__ import annotations

from collections.abc import Sequence

from simulators.server import foreground_parser, listen_options
from simulators.techniservice.app import TechniServiceSimulator, load_sheet_sample


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulators.techniservice``: serve in the foreground for manual runs."""
    parser = foreground_parser("TechniService", port=8081, rate_limit=5)
    parser.add_argument("--api-key", default="ts-demo-key")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page-size", type=int, default=200)
    arguments = parser.parse_args(argv)
    simulator = TechniServiceSimulator(
        api_key=arguments.api_key,
        seed=arguments.seed,
        page_size=arguments.page_size,
        first_seq=4411,
        **listen_options(arguments),
    )
    if not arguments.empty:
        load_sheet_sample(simulator)
    simulator.serve_forever()


if __name__ == "__main__":
    main()
