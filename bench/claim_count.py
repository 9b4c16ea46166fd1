"""Claims of a connector's lease, to be counted under callgrind (issue 17, twelfth pass).

A claim's count is its run's count less the run of 0 claims (imports, the database
built with ``--history`` finished runs of the connector and as many of another, a first
claim and release of another name to warm the statements), divided by the claims:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/claim_count.py won 200 --history 10000

``won``: each claim wins (the lease is free) and is released, as a scheduled run's lease
is; ``lost``: another owner holds the lease, as when several processes share the
connector. SQLite, in a temporary folder; the database's work is in the process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.partners.leases import acquire_lease, release_lease
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.tables import connector_runs

CONNECTOR = "bench-connector"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2027, 1, 1, tzinfo=UTC)


def history(database: Database, runs: int) -> None:
    """``runs`` finished runs of the connector, a minute apart, and as many of another."""
    counted = ("messages_seen", "messages_read", "records_read", "events_stored", "duplicates")
    counts = dict.fromkeys((*counted, "unmapped", "orphans", "rejected"), 0)
    rows = [
        {
            "connector": name,
            "started_at": T0 + timedelta(minutes=number),
            "finished_at": T0 + timedelta(minutes=number, seconds=5),
            "outcome": "succeeded",
            **counts,
        }
        for name in (CONNECTOR, "other-connector")
        for number in range(runs)
    ]
    if rows:
        with database.transaction() as connection:
            connection.execute(connector_runs.insert(), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("won", "lost"))
    parser.add_argument("claims", type=int)
    parser.add_argument("--history", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'hub.db'}")
        upgrade(database)
        history(database, args.history)
        acquire_lease(database, "warm", "me", now=LATER)
        release_lease(database, "warm", "me", None, now=LATER)
        if args.kind == "lost":
            assert acquire_lease(database, CONNECTOR, "another process", now=LATER)
        for number in range(args.claims):
            if args.kind == "won":
                now = LATER + timedelta(minutes=number)
                assert acquire_lease(database, CONNECTOR, "me", now=now)
                release_lease(database, CONNECTOR, "me", None, now=now)
            else:
                now = LATER + timedelta(seconds=number % 50)
                assert not acquire_lease(database, CONNECTOR, "me", now=now)
        database.dispose()


if __name__ == "__main__":
    main()
