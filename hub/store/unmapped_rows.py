"""A partner code no mapping knows, as the operators' listing shows it, without
SQLAlchemy: the store's read (hub.store.unmapped) and the plain reads
(hub.store.plain_reads) convert rows here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.store.instants import aware

__all__ = ["UnmappedCode", "unmapped_rows"]


@dataclass(frozen=True)
class UnmappedCode:
    """A partner code no mapping table knows (yet), as the events carry it."""

    reported_by: str
    event_type: str
    raw_code: str | None
    raw_label: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    example_case_ref: str | None


def unmapped_rows(rows: Iterable[Sequence[Any]]) -> list[UnmappedCode]:
    """Rows of ``hub.store.unmapped.UNMAPPED_CODES``, read by position (the first and last
    seen are aggregates, which SQLite gives as text: made instants here)."""
    return [
        UnmappedCode(
            reported_by=reported_by,
            event_type=kind,
            raw_code=raw_code,
            raw_label=raw_label,
            count=int(occurrences),
            first_seen=aware(first_seen),
            last_seen=aware(last_seen),
            example_case_ref=example,
        )
        for (
            reported_by,
            kind,
            raw_code,
            raw_label,
            occurrences,
            first_seen,
            last_seen,
            example,
        ) in rows
    ]
