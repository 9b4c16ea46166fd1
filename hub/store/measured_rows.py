"""A case and its measured events as the store gives them back, without SQLAlchemy: the
store's reads (hub.store.service_levels) and the plain reads (hub.store.plain_reads)
convert rows here, so that both measure the same (issue 17)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any

from hub.model.case import Case
from hub.model.event import STATUS_SETS, Event, EventDetails, EventType

__all__ = ["MeasuredCase", "measured_case_of", "measured_event", "open_cases_of"]


@dataclass(frozen=True)
class MeasuredCase:
    """A case and its measured events, in no particular order."""

    case: Case
    events: list[Event]


_NO_DETAILS = EventDetails()


def measured_event(row: Any) -> Event:
    """The stored event, rebuilt without validating again what was validated on the way
    in (open cases hold tens of thousands of events); with the partner's offset."""
    event_type = EventType(row.type)
    zone = timezone(timedelta(minutes=row.occurred_offset_minutes))
    return Event.model_construct(
        id=row.event_id,
        case_ref=row.case_ref,
        partner_ref=None,
        type=event_type,
        status=STATUS_SETS[event_type](row.status),
        occurred_at=row.occurred_at.astimezone(zone),
        recorded_at=row.recorded_at,
        reported_by=row.reported_by,
        raw_code=row.raw_code,
        raw_label=None,
        subject=row.subject,
        details=EventDetails.model_validate(row.details) if row.details else _NO_DETAILS,
    )


def measured_case_of(document: Any, rows: Iterable[Any]) -> MeasuredCase:
    """A case's stored document and its measured events' rows (columns by name)."""
    return MeasuredCase(Case.model_validate(document), [measured_event(row) for row in rows])


def open_cases_of(documents: Iterable[Any], rows: Iterable[Any]) -> list[MeasuredCase]:
    """Rows of (id, document) of the open cases, by id, and every measured event's row of
    them (its ``case_id`` first): each case with its events."""
    by_case: dict[int, list[Event]] = defaultdict(list)
    for row in rows:
        by_case[int(row.case_id)].append(measured_event(row))
    return [
        MeasuredCase(Case.model_validate(document.document), by_case.get(int(document.id), []))
        for document in documents
    ]
