"""The network's status as the console and /metrics read it (`network_status` on the
`Database`), to be counted under cachegrind (issue 17, thirteenth pass).

A read's count is the run's count less the run of 0 reads (imports, the network opened,
one read to warm the statements), divided by the reads; the store is one that
bench/status_store.py filled:

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python bench/status_count.py sqlite:///var/status.db 20
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.operators.status import network_status
from hub.partners.network import open_network
from hub.store.db import Database

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("reads", type=int)
    args = parser.parse_args()
    database = Database(args.url)
    network = open_network(ROOT / "connectors.yaml")
    network_status(database, network, now=NOW)
    for _ in range(args.reads):
        network_status(database, network, now=NOW)
    database.dispose()


if __name__ == "__main__":
    main()
