"""Run records: every run of every connector leaves one, with what it read and rejected.

A run is opened in its own transaction before any work, so a run that crashes still
shows up (as ``running`` with no end) for the operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, select, update

from hub.errors import HubError, PartnerDataError
from hub.store.db import Database
from hub.store.tables import connector_runs, rejects, replays


class RunOutcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class RunCounts:
    """What a run did; added up message by message."""

    messages_seen: int = 0
    messages_read: int = 0
    records_read: int = 0
    events_stored: int = 0
    duplicates: int = 0
    unmapped: int = 0
    orphans: int = 0
    rejected: int = 0

    def add(self, other: RunCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class RunRecord:
    id: int
    connector: str
    started_at: datetime
    finished_at: datetime | None
    outcome: RunOutcome
    counts: RunCounts = field(default_factory=RunCounts)
    error_action: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class ReplayMark:
    """What marks a run as a replay: which message or since when, and who asked."""

    message_id: int | None
    since: datetime | None
    requested_by: str


def start_run(
    database: Database,
    connector: str,
    *,
    now: datetime | None = None,
    replay: ReplayMark | None = None,
) -> int:
    """Open a run record; a replay's mark goes in the same transaction, so a replay is
    never taken for one of the connector's own runs."""
    with database.transaction() as connection:
        run_id: int = connection.execute(
            connector_runs.insert().returning(connector_runs.c.id),
            {
                "connector": connector,
                "started_at": now or datetime.now(UTC),
                "outcome": RunOutcome.RUNNING.value,
            },
        ).scalar_one()
        if replay is not None:
            connection.execute(
                replays.insert(),
                {
                    "run_id": run_id,
                    "message_id": replay.message_id,
                    "since": replay.since,
                    "requested_by": replay.requested_by,
                },
            )
    return run_id


def finish_run(
    database: Database,
    run_id: int,
    counts: RunCounts,
    *,
    error: HubError | None = None,
    now: datetime | None = None,
) -> None:
    values = {
        "finished_at": now or datetime.now(UTC),
        "outcome": (RunOutcome.FAILED if error else RunOutcome.SUCCEEDED).value,
        "error_action": error.action.value if error else None,
        "error_message": error.message if error else None,
        **vars(counts),
    }
    with database.transaction() as connection:
        connection.execute(
            update(connector_runs).where(connector_runs.c.id == run_id).values(values)
        )


def record_rejects(
    connection: Connection,
    connector: str,
    problems: Sequence[PartnerDataError],
    *,
    run_id: int | None,
    message_id: int | None,
    now: datetime,
) -> None:
    """Keep each rejected record with where, why and its raw text, for the operator."""
    if not problems:
        return
    connection.execute(
        rejects.insert(),
        [
            {
                "run_id": run_id,
                "connector": connector,
                "message_id": message_id,
                "source": problem.location.source,
                "line": problem.location.line,
                "field": problem.location.field,
                "reason": problem.reason,
                "raw": problem.raw,
                "created_at": now,
            }
            for problem in problems
        ],
    )


def get_run(database: Database, run_id: int) -> RunRecord:
    with database.transaction() as connection:
        row = connection.execute(select(connector_runs).where(connector_runs.c.id == run_id)).one()
    return run_record(row)


def run_record(row: Row[Any]) -> RunRecord:
    """A ``connector_runs`` row as the record every reader shows."""
    counts = RunCounts(**{name: getattr(row, name) for name in RunCounts.__dataclass_fields__})
    return RunRecord(
        id=row.id,
        connector=row.connector,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=RunOutcome(row.outcome),
        counts=counts,
        error_action=row.error_action,
        error_message=row.error_message,
    )
