"""One stage of the dry run over bench/ingest.py's file, to be counted under cachegrind.

Instruction counts do not move with the machine's load, as the wall clock does; a stage's
count a row is its run's count less the ``none`` run's (imports, the file generated, the
pipeline built and warmed on 50 other rows), divided by the rows:

    PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \\
        --cachegrind-out-file=/dev/null .venv/bin/python bench/dry_run_count.py dry 10000

Stages: ``none``; ``decode`` (the codec's records); ``rows`` (the codec's rows, which
the parse reads instead when its codec gives rows and its mapping has a plan: issue 17,
twelfth pass); ``values`` (the records, and each one's values read by the general
path); ``parse`` (the events and rejects); ``dry`` (the same, and each event's JSON
line, as ``hub ingest --dry-run`` writes them).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import NOW, generate
from hub.errors import PartnerDataError
from hub.model import Event
from hub.partners.connectors import open_network
from hub.partners.ingest.pipeline import dry_run_line

STAGES = ("none", "decode", "rows", "values", "parse", "dry")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("rows", type=int, nargs="?", default=10_000)
    args = parser.parse_args()
    content = generate(args.rows)
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    # Warmed on other rows: what a long run's first rows pay once is not a row's cost.
    for item in pipeline.parse(generate(50, seed=3), source="warm.csv", recorded_at=NOW):
        if isinstance(item, Event):
            dry_run_line(item)
    if args.stage == "decode":
        for _ in pipeline.codec.decode(content, source="bench.csv"):
            pass
    elif args.stage == "rows":
        for _ in pipeline.codec.decode_rows(content, source="bench.csv") or ():  # type: ignore[attr-defined]
            pass
    elif args.stage == "values":
        rejected = 0  # a reject's reading is counted too (a context manager would add its own)
        for record in pipeline.codec.decode(content, source="bench.csv"):
            if not isinstance(record, PartnerDataError):
                try:
                    pipeline.mapping._values(record, "bench.csv")
                except PartnerDataError:
                    rejected += 1
        print(f"{rejected} rejects")
    elif args.stage == "parse":
        for _ in pipeline.parse(content, source="bench.csv", recorded_at=NOW):
            pass
    elif args.stage == "dry":
        sink = io.BytesIO()
        for item in pipeline.parse(content, source="bench.csv", recorded_at=NOW):
            if isinstance(item, Event):
                sink.write(dry_run_line(item))


if __name__ == "__main__":
    main()
