"""The rows of the network's status (hub.operators.status) as the store gives them back,
without SQLAlchemy: the store's reads (hub.store.connector_health, outbox) and the plain
reads (hub.store.plain_reads) convert them here, so that both say the same (issue 17)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hub.store.run_rows import RunRecord

__all__ = [
    "LeaseState",
    "OwnRunSummary",
    "StatusReads",
    "counts_by_target",
    "lease_states_of",
    "own_run_summaries_of",
]


class StatusReads(Protocol):
    """What the network's status reads, in one transaction: given by the store on a
    SQLAlchemy connection (hub.store.connector_health) and by the plain reads
    (hub.store.plain_reads), the same statements and rows on either."""

    def lease_states(self) -> dict[str, LeaseState]: ...

    def unmapped_codes_by_source(self) -> dict[str, int]: ...

    def open_warning_counts(self) -> dict[str, int]: ...

    def outbox_counts_by_target(self) -> dict[str, dict[str, int]]: ...

    def oldest_pending_at(self) -> datetime | None: ...

    def own_run_summaries(self, connectors: Sequence[str]) -> dict[str, OwnRunSummary]:
        """Each connector's own runs as the status tells them, read for all at once
        (none for a connector without own runs)."""
        ...

    def last_received(self, sources: Sequence[str]) -> dict[str, datetime]:
        """When the raw archive last stored a message from each source that sent one."""
        ...


@dataclass(frozen=True)
class LeaseState:
    """A connector's lease row, less its failure counters."""

    owner: str | None
    lease_until: datetime | None
    not_before: datetime | None
    paused_at: datetime | None
    paused_reason: str | None
    paused_by: str | None


def lease_states_of(rows: Iterable[Any]) -> dict[str, LeaseState]:
    """``connector_leases`` rows (their columns by name), by connector."""
    return {
        row.connector: LeaseState(
            row.owner,
            row.lease_until,
            row.not_before,
            row.paused_at,
            row.paused_reason,
            row.paused_by,
        )
        for row in rows
    }


@dataclass(frozen=True)
class OwnRunSummary:
    """What the status reads of a connector's own runs (replays left out)."""

    last: RunRecord
    """Its latest own run."""
    last_success_at: datetime | None
    """When its latest successful own run ended."""
    consecutive_failures: int
    """Failed own runs since the last success and the last resume."""


def own_run_summaries_of(rows: Iterable[Any]) -> dict[str, OwnRunSummary]:
    """Rows of ``hub.store.run_history.OWN_RUN_SUMMARIES`` (their columns by name), by
    connector."""
    from hub.store.run_rows import run_record

    return {
        row.connector: OwnRunSummary(
            run_record(row), row.last_success_at, int(row.failures_in_a_row)
        )
        for row in rows
    }


def counts_by_target(rows: Iterable[Sequence[Any]]) -> dict[str, dict[str, int]]:
    """Rows of (target, state, count) as target -> state -> messages."""
    counts: dict[str, dict[str, int]] = {}
    for target, state, count in rows:
        counts.setdefault(str(target), {})[str(state)] = int(count)
    return counts
