"""The overview's figures as the store gives them, without SQLAlchemy: the store's reads
(hub.store.figures) and the plain reads (hub.store.plain_reads) convert rows here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["EventCounts", "Figures", "counts_by_name", "counts_by_status", "event_counts_of"]


@dataclass(frozen=True)
class EventCounts:
    stored: int
    unmapped: int
    """Stored with a code no mapping knew at the time."""
    orphans: int
    """Without a case."""


@dataclass(frozen=True)
class Figures:
    """The overview's counts, read in one transaction so that they agree (the plain
    reads' overview, hub.store.plain_reads)."""

    parties_by_role: dict[str, int]
    cases_by_status: dict[str | None, int]
    events: EventCounts
    raw_messages: int
    outbox_by_state: dict[str, int]


def counts_by_name(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """Rows of (name, count)."""
    return {str(name): int(count) for name, count in rows}


def counts_by_status(rows: Iterable[Sequence[Any]]) -> dict[str | None, int]:
    """Rows of (status, count), None for the cases with no status yet."""
    return {status: int(count) for status, count in rows}


def event_counts_of(row: Sequence[Any]) -> EventCounts:
    """The one row of (stored, unmapped, orphans)."""
    stored, unmapped, orphans = row
    return EventCounts(int(stored), int(unmapped), int(orphans))
