"""What service levels are measured on: a case's document with its measured events
(mapped ones, not the hub's own service-level verdicts). hub.sla holds the rules.

Open cases are read with two queries whatever their number (their documents, then all
their events), so measuring thousands of cases stays one round trip each.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, or_, select

from hub.model.case import Case
from hub.model.event import STATUS_SETS, Event, EventDetails, EventType
from hub.model.statuses import FINAL_CASE_STATUSES
from hub.store.tables import cases, events


@dataclass(frozen=True)
class MeasuredCase:
    """A case and its measured events, in no particular order."""

    case: Case
    events: list[Event]


_NO_DETAILS = EventDetails()

_EVENT_COLUMNS = (
    events.c.case_id,
    events.c.event_id,
    events.c.case_ref,
    events.c.type,
    events.c.status,
    events.c.occurred_at,
    events.c.occurred_offset_minutes,
    events.c.recorded_at,
    events.c.reported_by,
    events.c.raw_code,
    events.c.subject,
    events.c.details,
)


def _event(row: Row[*tuple[Any, ...]]) -> Event:
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


def _measured_events() -> ColumnElement[bool]:
    """Mapped events only, and not the hub's own words (service-level verdicts, erasures)."""
    own = (EventType.SERVICE_LEVEL.value, EventType.PERSONAL_DATA.value)
    return events.c.status.is_not(None) & events.c.type.not_in(own)


def measured_case(connection: Connection, case_ref: str) -> MeasuredCase | None:
    """The case by its reference with its measured events; None if there is no such case."""
    row = connection.execute(
        select(cases.c.id, cases.c.document).where(cases.c.reference == case_ref)
    ).one_or_none()
    if row is None:
        return None
    rows = connection.execute(
        select(*_EVENT_COLUMNS).where(events.c.case_id == row.id, _measured_events())
    ).all()
    return MeasuredCase(Case.model_validate(row.document), [_event(r) for r in rows])


def measured_open_cases(connection: Connection, retailer: str | None = None) -> list[MeasuredCase]:
    """Every case not in a final status (optionally one retailer's), by id, with its
    measured events."""
    final = [status.value for status in FINAL_CASE_STATUSES]
    is_open = or_(cases.c.status.is_(None), cases.c.status.not_in(final))
    if retailer is not None:
        is_open = is_open & (cases.c.retailer_id == retailer)
    documents = connection.execute(
        select(cases.c.id, cases.c.document).where(is_open).order_by(cases.c.id)
    ).all()
    by_case: dict[int, list[Event]] = defaultdict(list)
    rows = connection.execute(
        select(*_EVENT_COLUMNS)
        .join(cases, cases.c.id == events.c.case_id)
        .where(is_open, _measured_events())
    )
    for row in rows:
        by_case[int(row.case_id)].append(_event(row))
    return [
        MeasuredCase(Case.model_validate(document.document), by_case.get(int(document.id), []))
        for document in documents
    ]
