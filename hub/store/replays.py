"""What a replay reads: the raw archive's messages as a replay picks them (one by id, or
a connector's since a date) and which of a replayed message's events were first stored
unmapped.

The replay's own mark (``replays``) is written with its run record, by hub.store.runs;
the rejects already kept for a message are hub.store.rejects'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from hub.store.tables import events, raw_messages

__all__ = ["ArchivedName", "archived_name", "message_ids_since", "stored_unmapped"]


@dataclass(frozen=True)
class ArchivedName:
    """Where an archived message came from, and the name it came under."""

    source: str
    name: str


def message_ids_since(connection: Connection, connector: str, since: datetime) -> list[int]:
    """Ids of the connector's archived messages received at or after ``since``, oldest first."""
    ids = connection.execute(
        select(raw_messages.c.id)
        .where(raw_messages.c.source == connector, raw_messages.c.received_at >= since)
        .order_by(raw_messages.c.id)
    ).scalars()
    return [int(message_id) for message_id in ids]


def archived_name(connection: Connection, message_id: int) -> ArchivedName | None:
    """The archived message's source and name, or None if there is no such message."""
    row = connection.execute(
        select(raw_messages.c.source, raw_messages.c.name).where(raw_messages.c.id == message_id)
    ).one_or_none()
    return None if row is None else ArchivedName(str(row.source), str(row.name))


def stored_unmapped(connection: Connection, event_ids: Sequence[str]) -> set[str]:
    """Which of these event ids are stored, and were stored unmapped."""
    if not event_ids:
        return set()
    found = connection.execute(
        select(events.c.event_id).where(events.c.event_id.in_(event_ids), events.c.unmapped)
    ).scalars()
    return set(found)
