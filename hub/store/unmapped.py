"""Unmapped codes: events stored with a partner code no mapping knew, until a replay
stores them again mapped.

A replay never changes the first event (it is a fact too): it stores the mapped one
under the first id with ``REMAPPED_SUFFIX``, and an unmapped event with such a twin no
longer counts. Operators read these codes to know what to add to a mapping.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, func, select

from hub.store.figure_rows import counts_by_name
from hub.store.tables import events, raw_messages
from hub.store.unmapped_rows import UnmappedCode, unmapped_rows

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


def _still_unmapped() -> ColumnElement[bool]:
    """Unmapped events no replay has stored again mapped."""
    later = events.alias("remapped")
    fixed = (
        select(later.c.seq).where(later.c.event_id == events.c.event_id + REMAPPED_SUFFIX).exists()
    )
    return events.c.unmapped & ~fixed


UNMAPPED_CODES = (
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
"""Codes to add to a mapping, in ``UnmappedCode``'s order (the plain reads run it too:
hub.store.plain_sql)."""


def unmapped_codes(connection: Connection) -> list[UnmappedCode]:
    """Codes to add to a mapping, by reporting party and raw code, most frequent first."""
    return unmapped_rows(connection.execute(UNMAPPED_CODES).all())


UNMAPPED_BY_SOURCE = (
    select(raw_messages.c.source, func.count(func.distinct(events.c.raw_code)))
    .select_from(events.join(raw_messages, raw_messages.c.id == events.c.message_id))
    .where(_still_unmapped())
    .group_by(raw_messages.c.source)
)
"""(connector, distinct codes still unmapped) (the plain reads run it too:
hub.store.plain_sql)."""


def unmapped_codes_by_source(connection: Connection) -> dict[str, int]:
    """Distinct codes still unmapped, by the connector whose messages carried them."""
    return counts_by_name(connection.execute(UNMAPPED_BY_SOURCE).all())
