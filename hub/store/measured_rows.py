"""A case and its measured events as the store gives them back, without SQLAlchemy nor
pydantic: the store's reads (hub.store.service_levels) and the plain reads
(hub.store.plain_reads) convert rows here, so that both measure the same, and the rules
(hub.sla.compute) read them as they read the canonical model's classes (issue 17)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.model.terms import Coverage, ServiceType
from hub.store.stored_events import StoredEvent, measured_event

__all__ = ["MeasuredCase", "StoredCase", "measured_case_of", "open_cases_of", "stored_case"]


@dataclass(frozen=True, slots=True)
class StoredCase:
    """Of a case's stored document, what the service levels read (``Case``'s fields)."""

    reference: str
    retailer: str
    coverage: Coverage
    service: ServiceType
    opened_at: datetime


@dataclass(frozen=True)
class MeasuredCase:
    """A case and its measured events, in no particular order."""

    case: StoredCase
    events: list[StoredEvent]


def stored_case(document: Mapping[str, Any]) -> StoredCase:
    """The case's document as stored (``Case.model_dump(mode="json")``, validated on the
    way in): its instant is pydantic's ISO text, which ``fromisoformat`` reads back."""
    return StoredCase(
        reference=document["reference"],
        retailer=document["retailer"],
        coverage=Coverage(document["coverage"]),
        service=ServiceType(document["service"]),
        opened_at=datetime.fromisoformat(document["opened_at"]),
    )


def measured_case_of(document: Any, rows: Iterable[Any]) -> MeasuredCase:
    """A case's stored document and its measured events' rows (columns by name)."""
    return MeasuredCase(stored_case(document), [measured_event(row) for row in rows])


def open_cases_of(documents: Iterable[Any], rows: Iterable[Any]) -> list[MeasuredCase]:
    """Rows of (id, document) of the open cases, by id, and every measured event's row of
    them (its ``case_id`` first): each case with its events."""
    by_case: dict[int, list[StoredEvent]] = defaultdict(list)
    for row in rows:
        by_case[int(row.case_id)].append(measured_event(row))
    return [
        MeasuredCase(stored_case(document.document), by_case.get(int(document.id), []))
        for document in documents
    ]
