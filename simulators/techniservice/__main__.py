"""TechniService simulator: the repairer's XML-over-REST API, faults included.

``python -m simulators.techniservice --port 8081`` serves in the foreground (the sheet's
sample changes are loaded unless ``--empty``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from simulators.techniservice.app import TechniServiceSimulator, load_sheet_sample


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulators.techniservice``: serve in the foreground for manual runs."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.techniservice",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--api-key", default="ts-demo-key")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--rate-limit", type=int, default=5, help="requests/second; 0 for none")
    parser.add_argument("--empty", action="store_true", help="start without the sheet's sample")
    arguments = parser.parse_args(argv)
    simulator = TechniServiceSimulator(
        api_key=arguments.api_key,
        seed=arguments.seed,
        page_size=arguments.page_size,
        rate_limit=arguments.rate_limit or None,
        first_seq=4411,
        host=arguments.host,
        port=arguments.port,
    )
    if not arguments.empty:
        load_sheet_sample(simulator)
    simulator.serve_forever()


if __name__ == "__main__":
    main()
