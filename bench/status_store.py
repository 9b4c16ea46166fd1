"""A store whose connectors have long histories, for `hub status` (issue 17, thirteenth
pass): every inbound, push and import name of connectors.yaml and a few connectors no
longer in it (20 in all), ``--runs`` runs each a minute apart, so that reads that grow with the
history show it.

    python bench/status_store.py sqlite:///var/status.db --runs 10000
    HUB_DATABASE_URL=sqlite:///var/status.db python cli.py status

The push connectors' last arrivals (fourteenth pass) on a large archive: ``--pushes
200000`` archived messages each, ``--pulled 1000`` for each other connector with runs
(sources the status does not ask about, but that the archive holds).

Each connector's runs mostly succeed; every seventh fails, a replay now and then, the
last runs of some fail in a row (one past a resume), one is left running by a dead
owner, push connectors have hours of pushes and archived messages. The database is
migrated first; nothing else is in it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.partners.network_cache import read_outline
from hub.partners.network_outline import NetworkOutline
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.tables import connector_leases, connector_runs, raw_messages, replays

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CONNECTORS = 20
"""Connectors with runs: the network's, and as many as it takes that it no longer names."""


def _names(outline: NetworkOutline) -> tuple[list[str], list[str]]:
    """The names that have runs (inbound, push, imports), and the push connectors'."""
    ran = [spec.name for spec in outline.connectors if spec.direction != "outbound"]
    ran += [drop.name for drop in outline.case_imports]
    return ran, [spec.name for spec in outline.connectors if spec.pushed]


def _run(name: str, number: int, *, failing_from: int | None) -> dict[str, Any]:
    started = T0 + timedelta(minutes=number)
    failed = number % 7 == 3 or (failing_from is not None and number >= failing_from)
    return {
        "connector": name,
        "started_at": started,
        "finished_at": started + timedelta(seconds=5),
        "outcome": "failed" if failed else "succeeded",
        "messages_seen": number % 3,
        "messages_read": number % 3,
        "records_read": 10 * (number % 3),
        "events_stored": 9 * (number % 3),
        "duplicates": 0,
        "unmapped": number % 2,
        "orphans": 0,
        "rejected": number % 5 == 0,
        "error_action": "retry" if failed else None,
        "error_message": "partner timed out" if failed else None,
    }


def _archived(source: str, count: int) -> list[dict[str, Any]]:
    """The source's archived messages, a minute apart from T0."""
    return [
        {
            "source": source,
            "name": f"message-{number}",
            "sha256": f"{number:064x}",
            "size": 2,
            "content": b"{}",
            "compression": "none",
            "received_at": T0 + timedelta(minutes=number),
            "meta": {},
        }
        for number in range(count)
    ]


def fill(database: Database, runs: int, pushes: int, pulled: int = 0) -> None:
    ran, pushed = _names(read_outline(ROOT / "connectors.yaml"))
    with database.transaction() as connection:
        gone = [f"retired-connector-{number}" for number in range(CONNECTORS - len(ran))]
        for index, name in enumerate([*ran, *gone]):
            failing_from = runs - 4 if index % 3 == 1 else None
            rows = [_run(name, number, failing_from=failing_from) for number in range(runs)]
            if name in pushed:
                for row in rows:
                    row["push_window"] = row["started_at"]
            elif index % 4 == 2 and runs:  # the last run's process died
                rows[-1] |= {"outcome": "running", "finished_at": None, "error_message": None}
            ids = connection.execute(connector_runs.insert().returning(connector_runs.c.id), rows)
            replayed = [run_id for (run_id,) in ids][-3::-50][:20]
            if replayed:
                connection.execute(
                    replays.insert(),
                    [{"run_id": run_id, "requested_by": "ops"} for run_id in replayed],
                )
            if index % 5 == 0:  # resumed two runs before the end
                connection.execute(
                    connector_leases.insert(),
                    {
                        "connector": name,
                        "failures": 0,
                        "failures_reset_at": T0 + timedelta(minutes=runs - 2),
                    },
                )
        for name in [*ran, *gone]:
            count = pushes if name in pushed else pulled
            if count:
                connection.execute(raw_messages.insert(), _archived(name, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--pushes", type=int, default=1_000)
    parser.add_argument("--pulled", type=int, default=0, help="messages a connector not pushed")
    args = parser.parse_args()
    database = Database(args.url)
    upgrade(database)
    fill(database, args.runs, args.pushes, args.pulled)
    database.dispose()


if __name__ == "__main__":
    main()
