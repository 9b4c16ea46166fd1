"""bench/ingest.py's small files, to be counted under cachegrind: what a file costs.

Instruction counts do not move with the machine's load, as the wall clock does. A run
ingests ``files`` small files (``generate(rows, seed=n)``, each its own message, cases
opened by ``prepare``) after the same setup whatever their number: every file's bytes
are generated up front (``--generated``), so that two runs differ only by the files
they ingest. A file's count is the difference of two runs over the files between them:

    PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \\
        --cachegrind-out-file=/dev/null .venv/bin/python -P bench/small_files_count.py 300
    (the same with 500; (count(500) - count(300)) / 200 is files 300-499's)

``--postgres-url URL`` ingests into a scratch PostgreSQL database instead: the client
side only is counted (the server is another process).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import generate, prepare
from bench.scratch import scratch_postgres, scratch_sqlite
from hub.partners.connectors import open_network
from hub.partners.ingest.message import ingest_message
from hub.ports import MessageRef, RawMessage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=int)
    parser.add_argument("--rows", type=int, default=10, help="rows a file")
    parser.add_argument("--generated", type=int, default=1_000, help="files generated")
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    contents = [generate(args.rows, seed=seed) for seed in range(args.generated)]
    scratch = scratch_sqlite() if args.postgres_url is None else scratch_postgres(args.postgres_url)
    with scratch as database:
        prepare(database)
        connector = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status")
        pipeline = connector.pipeline()
        stored = 0
        cpu = time.process_time()
        for number, content in enumerate(contents[: args.files]):
            name = f"STATUTS_20261103_{number:05d}.csv"
            message = RawMessage(MessageRef(name, len(content)), content)
            stored += ingest_message(database, "bench", pipeline, message).counts.events_stored
        cpu = time.process_time() - cpu
    per_file = cpu / args.files * 1000 if args.files else 0.0
    print(f"{args.files} files, {stored} events stored, CPU {per_file:.2f} ms a file")


if __name__ == "__main__":
    main()
