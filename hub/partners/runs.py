"""Run records: every run of every connector leaves one, with what it read and rejected.

A run is opened in its own transaction before any work, so a run that crashes still
shows up for the operator: ``running`` with no end until the next claim of its
connector's lease closes it as abandoned (hub.partners.leases.close_abandoned_runs).
The records and their queries live in hub.store.runs; the types are re-exported here
for the services that show runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.errors import HubError
from hub.store import runs
from hub.store.db import Database
from hub.store.runs import ReplayMark, RunCounts, RunOutcome, RunRecord, run_record

__all__ = [
    "ReplayMark",
    "RunCounts",
    "RunOutcome",
    "RunRecord",
    "finish_run",
    "get_run",
    "run_record",
    "start_run",
]


def start_run(
    database: Database,
    connector: str,
    *,
    now: datetime | None = None,
    replay: ReplayMark | None = None,
) -> int:
    """Open a run record (and a replay's mark) in a transaction of its own, before any
    work, so even a run that crashes is seen."""
    with database.transaction() as connection:
        return runs.open_run(connection, connector, now or datetime.now(UTC), replay)


def finish_run(
    database: Database,
    run_id: int,
    counts: RunCounts,
    *,
    error: HubError | None = None,
    now: datetime | None = None,
) -> None:
    """Close the run: failed with the error's next action and message, or succeeded."""
    with database.transaction() as connection:
        runs.close_run(
            connection,
            run_id,
            counts,
            outcome=RunOutcome.FAILED if error else RunOutcome.SUCCEEDED,
            error_action=error.action.value if error else None,
            error_message=error.message if error else None,
            finished_at=now or datetime.now(UTC),
        )


def get_run(database: Database, run_id: int) -> RunRecord:
    with database.reading() as connection:
        return runs.run_by_id(connection, run_id)
