"""What `hub cases show` reads of a case besides its events, without SQLAlchemy: the
partners' references kept on it and its erasure. The store's reads (hub.store.case_links,
hub.store.erasure) and the plain reads (hub.store.plain_reads) share these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from hub.model.timeline import CaseState, TimelineEvent

__all__ = [
    "CaseView",
    "ErasureRecord",
    "KeptReference",
    "RecordedBy",
    "chosen_reference",
    "kept_references",
]


class RecordedBy(StrEnum):
    """Who wrote a partner's reference on a case."""

    PARTNER = "partner"
    RETAILER = "retailer"


@dataclass(frozen=True)
class KeptReference:
    """A partner's own reference for a case, and who recorded it."""

    party: str
    reference: str
    recorded_by: RecordedBy


def kept_references(rows: Iterable[Sequence[Any]]) -> list[KeptReference]:
    """Rows of (party, reference, recorded by)."""
    return [
        KeptReference(party, reference, RecordedBy(recorded_by))
        for party, reference, recorded_by in rows
    ]


@dataclass(frozen=True)
class ErasureRecord:
    """That a case's personal data was erased (or is being), when and at whose request."""

    case_id: int
    requested_at: datetime
    requested_by: str
    completed_at: datetime | None


def chosen_reference(
    exact: Sequence[Any] | None, by_letters: Sequence[Sequence[Any]]
) -> str | None:
    """The stored reference a typed one names: the exact one, else the one case whose
    reference differs only by letter case (None for none or several)."""
    if exact is not None:
        return str(exact[0])
    return str(by_letters[0][0]) if len(by_letters) == 1 else None


Shown = TypeVar("Shown", bound="TimelineEvent")
"""The events of a case view: stored rows for the table, models for ``--json``."""


@dataclass(frozen=True)
class CaseView(Generic[Shown]):
    """What `hub cases show` shows of a case, read in one transaction (hub.store.plain_reads)."""

    state: CaseState[Shown]
    references: list[KeptReference]
    erasure: ErasureRecord | None
