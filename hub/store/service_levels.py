"""What service levels are measured on: a case's document with its measured events
(mapped ones, not the hub's own service-level verdicts). hub.sla holds the rules.

Open cases are read with two queries whatever their number (their documents, then all
their events), so measuring thousands of cases stays one round trip each.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, Select, String, bindparam, or_, select

from hub.model.event import EventType
from hub.model.statuses import FINAL_CASE_STATUSES
from hub.store.measured_rows import MeasuredCase, measured_case_of, open_cases_of
from hub.store.tables import cases, events

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


def _measured_events() -> ColumnElement[bool]:
    """Mapped events only, and not the hub's own service-level verdicts nor corrections
    of the case's record (they say nothing of the work)."""
    return events.c.status.is_not(None) & events.c.type.not_in(
        (EventType.SERVICE_LEVEL.value, EventType.CASE_RECORD.value)
    )


def _open(retailer: bool) -> ColumnElement[bool]:
    final = sorted(status.value for status in FINAL_CASE_STATUSES)  # one text each run
    is_open = or_(cases.c.status.is_(None), cases.c.status.not_in(final))
    if retailer:
        is_open = is_open & (cases.c.retailer_id == bindparam("retailer", type_=String))
    return is_open


def _open_documents(retailer: bool) -> Select[Any]:
    return select(cases.c.id, cases.c.document).where(_open(retailer)).order_by(cases.c.id)


def _open_events(retailer: bool) -> Select[Any]:
    return (
        select(*_EVENT_COLUMNS)
        .join(cases, cases.c.id == events.c.case_id)
        .where(_open(retailer), _measured_events())
    )


CASE_DOCUMENT = select(cases.c.id, cases.c.document).where(
    cases.c.reference == bindparam("case_ref", type_=String)
)
"""A case's id and document by its reference (the plain reads run these too:
hub.store.plain_sql)."""
MEASURED_EVENTS_OF_CASE = select(*_EVENT_COLUMNS).where(
    events.c.case_id == bindparam("case_id", type_=Integer), _measured_events()
)
"""The measured events of the case ``case_id``."""
OPEN_CASE_DOCUMENTS = _open_documents(retailer=False)
"""Every case not in a final status, by id."""
OPEN_CASE_DOCUMENTS_OF = _open_documents(retailer=True)
"""Every case of ``retailer`` not in a final status, by id."""
OPEN_CASE_EVENTS = _open_events(retailer=False)
"""The measured events of every case not in a final status."""
OPEN_CASE_EVENTS_OF = _open_events(retailer=True)
"""The measured events of every case of ``retailer`` not in a final status."""


def measured_case(connection: Connection, case_ref: str) -> MeasuredCase | None:
    """The case by its reference with its measured events; None if there is no such case."""
    row = connection.execute(CASE_DOCUMENT, {"case_ref": case_ref}).one_or_none()
    if row is None:
        return None
    rows = connection.execute(MEASURED_EVENTS_OF_CASE, {"case_id": row.id}).all()
    return measured_case_of(row.document, rows)


def measured_open_cases(connection: Connection, retailer: str | None = None) -> list[MeasuredCase]:
    """Every case not in a final status (optionally one retailer's), by id, with its
    measured events."""
    if retailer is None:
        documents = connection.execute(OPEN_CASE_DOCUMENTS).all()
        rows = connection.execute(OPEN_CASE_EVENTS)
    else:
        documents = connection.execute(OPEN_CASE_DOCUMENTS_OF, {"retailer": retailer}).all()
        rows = connection.execute(OPEN_CASE_EVENTS_OF, {"retailer": retailer})
    return open_cases_of(documents, rows)
