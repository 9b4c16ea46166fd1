"""Unmapped codes: events stored with a partner code no mapping knew, until a replay
stores them again mapped.

A replay never changes the first event (it is a fact too): it stores the mapped one
under the first id with ``REMAPPED_SUFFIX``, and an unmapped event with such a twin no
longer counts. Operators read these codes to know what to add to a mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, select

from hub.store.tables import events, raw_messages
from hub.store.types import aware

__all__ = [
    "REMAPPED_SUFFIX",
    "UnmappedCode",
    "remapped_id",
    "unmapped_codes",
    "unmapped_codes_by_source",
]

REMAPPED_SUFFIX = "#remapped"
"""An event first stored unmapped and stored again mapped by a replay gets the first id
with this suffix (the first is a fact too, and is never changed): see hub.partners.replay."""


def remapped_id(event_id: str) -> str:
    return event_id + REMAPPED_SUFFIX


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


def _still_unmapped() -> ColumnElement[bool]:
    """Unmapped events no replay has stored again mapped."""
    later = events.alias("remapped")
    fixed = (
        select(later.c.seq).where(later.c.event_id == events.c.event_id + REMAPPED_SUFFIX).exists()
    )
    return events.c.unmapped & ~fixed


def unmapped_codes(connection: Connection) -> list[UnmappedCode]:
    """Codes to add to a mapping, by reporting party and raw code, most frequent first."""
    statement = (
        select(
            events.c.reported_by,
            events.c.type,
            events.c.raw_code,
            func.max(events.c.raw_label).label("raw_label"),
            func.count().label("occurrences"),
            func.min(events.c.recorded_at).label("first_seen"),
            func.max(events.c.recorded_at).label("last_seen"),
            func.max(func.coalesce(events.c.case_ref, events.c.partner_ref)).label("example"),
        )
        .where(_still_unmapped())
        .group_by(events.c.reported_by, events.c.type, events.c.raw_code)
        .order_by(func.count().desc(), events.c.reported_by, events.c.raw_code)
    )
    return [
        UnmappedCode(
            reported_by=row.reported_by,
            event_type=row.type,
            raw_code=row.raw_code,
            raw_label=row.raw_label,
            count=int(row.occurrences),
            first_seen=aware(row.first_seen),
            last_seen=aware(row.last_seen),
            example_case_ref=row.example,
        )
        for row in connection.execute(statement).all()
    ]


def unmapped_codes_by_source(connection: Connection) -> dict[str, int]:
    """Distinct codes still unmapped, by the connector whose messages carried them."""
    rows = connection.execute(
        select(raw_messages.c.source, func.count(func.distinct(events.c.raw_code)))
        .select_from(events.join(raw_messages, raw_messages.c.id == events.c.message_id))
        .where(_still_unmapped())
        .group_by(raw_messages.c.source)
    ).all()
    return {str(source): int(count) for source, count in rows}
