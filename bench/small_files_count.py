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

Counts of whole runs move by up to 0.5 M a file between runs of one tree (what a run
checks and keeps at its start differs). ``--skip N --callgrind-lib LIB`` counts only
files N and after, in one process, under callgrind started without instrumentation; LIB
is a shared library built from these three lines of C (``gcc -shared -fPIC -o
libcg.so cg.c``)::

    #include <valgrind/callgrind.h>
    void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
    void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("loop"); }

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/cg.out .venv/bin/python -P bench/small_files_count.py \\
        500 --skip 300 --callgrind-lib /tmp/libcg.so
    (valgrind's ``Collected`` line on stderr, over 200, is a file's count)
"""

from __future__ import annotations

import argparse
import ctypes
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
    parser.add_argument("--skip", type=int, default=0, help="files ingested before the count")
    parser.add_argument("--callgrind-lib", default=None, help="cg_start/cg_stop around the count")
    args = parser.parse_args()
    contents = [generate(args.rows, seed=seed) for seed in range(args.generated)]
    scratch = scratch_sqlite() if args.postgres_url is None else scratch_postgres(args.postgres_url)
    with scratch as database:
        prepare(database)
        connector = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status")
        pipeline = connector.pipeline()
        library = None if args.callgrind_lib is None else ctypes.CDLL(args.callgrind_lib)
        stored = 0
        for number, content in enumerate(contents[: args.files]):
            if number == args.skip:
                cpu = time.process_time()
                if library is not None:
                    library.cg_start()
            name = f"STATUTS_20261103_{number:05d}.csv"
            message = RawMessage(MessageRef(name, len(content)), content)
            stored += ingest_message(database, "bench", pipeline, message).counts.events_stored
        if library is not None:
            library.cg_stop()
        cpu = time.process_time() - cpu
    counted = args.files - args.skip
    per_file = cpu / counted * 1000 if counted > 0 else 0.0
    print(f"{args.files} files, {stored} events stored, CPU {per_file:.2f} ms a file counted")


if __name__ == "__main__":
    main()
