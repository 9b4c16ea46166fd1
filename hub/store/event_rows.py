"""A stored event made an ``Event`` again, without SQLAlchemy: the store's reads
(hub.store.events) and `hub cases show --json`'s plain read share it (the table's read
takes hub.store.stored_events, without pydantic)."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from hub.model.event import Event, EventDetails, EventType


def row_to_event(row: Any) -> Event:
    """Rebuild the event with the offset the partner gave, not just UTC (``row`` has the
    ``events`` table's columns by name)."""
    zone = timezone(timedelta(minutes=row.occurred_offset_minutes))
    return Event(
        id=row.event_id,
        case_ref=row.case_ref,
        partner_ref=row.partner_ref,
        type=EventType(row.type),
        status=row.status,
        occurred_at=row.occurred_at.astimezone(zone),
        recorded_at=row.recorded_at,
        reported_by=row.reported_by,
        raw_code=row.raw_code,
        raw_label=row.raw_label,
        subject=row.subject,
        details=EventDetails.model_validate(row.details or {}),
    )
