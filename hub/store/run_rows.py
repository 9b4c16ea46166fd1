"""A connector run as the store gives it back, without SQLAlchemy: the store's reads
(hub.store.runs, run_history) and the plain reads (hub.store.plain_reads) convert rows
here, so that both say the same run (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["ReplayMark", "RunCounts", "RunOutcome", "RunRecord", "run_record"]


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
    push_window: datetime | None = None
    """Set for the record that adds up a push connector's pushes of one hour: the hour's
    start (its ``started_at`` is the first push's, its ``finished_at`` the latest's)."""


@dataclass(frozen=True)
class ReplayMark:
    """What marks a run as a replay: which message or since when, and who asked."""

    message_id: int | None
    since: datetime | None
    requested_by: str


def run_record(row: Any) -> RunRecord:
    """A ``connector_runs`` row (its columns by name) as the record every reader shows."""
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
        push_window=row.push_window,
    )
