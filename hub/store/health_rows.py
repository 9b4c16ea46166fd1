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

__all__ = ["LeaseState", "StatusReads", "counts_by_target", "lease_states_of"]


class StatusReads(Protocol):
    """What the network's status reads, in one transaction: given by the store on a
    SQLAlchemy connection (hub.store.connector_health) and by the plain reads
    (hub.store.plain_reads), the same statements and rows on either."""

    def lease_states(self) -> dict[str, LeaseState]: ...

    def unmapped_codes_by_source(self) -> dict[str, int]: ...

    def open_warning_counts(self) -> dict[str, int]: ...

    def outbox_counts_by_target(self) -> dict[str, dict[str, int]]: ...

    def oldest_pending_at(self) -> datetime | None: ...

    def last_own_run(self, connector: str, *, outcome: str | None = None) -> RunRecord | None:
        """The connector's latest own run, or its latest own run that ended so."""
        ...

    def consecutive_failures(self, connector: str) -> int: ...

    def last_received_at(self, source: str) -> datetime | None: ...


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


def counts_by_target(rows: Iterable[Sequence[Any]]) -> dict[str, dict[str, int]]:
    """Rows of (target, state, count) as target -> state -> messages."""
    counts: dict[str, dict[str, int]] = {}
    for target, state, count in rows:
        counts.setdefault(str(target), {})[str(state)] = int(count)
    return counts
