"""Retention's kinds and what a dry run reads of each, without SQLAlchemy: the store
(hub.store.retention) and the plain reads (hub.store.plain_reads) give the same figures,
for `hub retention --dry-run` to start without it (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["KINDS", "KindFigures", "RetentionReads", "due_name", "kept_name"]

KINDS = (
    "raw_archive",
    "closed_case_events",
    "delivered_outbox",
    "run_records",
    "rejects",
    "file_warnings",
    "acknowledgements",
)
"""The kinds of accumulated data retention removes, in the order it removes them."""


def due_name(kind: str) -> str:
    """The name hub.store.plain_sql gives a kind's count of rows due."""
    return f"DUE_{kind.upper()}"


def kept_name(kind: str) -> str:
    """The name hub.store.plain_sql gives a kind's oldest row kept."""
    return f"OLDEST_KEPT_{kind.upper()}"


@dataclass(frozen=True)
class KindFigures:
    """What retention would remove of one kind now, and the oldest row it keeps."""

    kind: str
    due: int
    oldest_kept: datetime | None


class RetentionReads(Protocol):
    """What the dry run reads: given by the store through the `Database`
    (hub.store.retention) and by the plain reads (hub.store.plain_reads), the same
    statements on either."""

    def figures(self, kind: str, cutoff: datetime) -> KindFigures:
        """How many rows of the kind are due before ``cutoff``, and the oldest kept."""
        ...

    def closed_cases_to_anonymise(self, closed_before: datetime) -> int:
        """How many cases closed before the instant still have their personal data."""
        ...
