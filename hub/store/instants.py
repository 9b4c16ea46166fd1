"""Instants as the store gives them back, without SQLAlchemy: the column type
(hub.store.types.UtcDateTime) and the plain reads (hub.store.plain) share these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def in_utc(naive: datetime) -> datetime:
    """The naive UTC instant SQLite gives back, made aware: its date and time combined
    with UTC, a quarter of ``replace(tzinfo=UTC)``'s cost (which parses its keywords at
    every call; every instant read from SQLite pays it, issue 17)."""
    return datetime.combine(naive.date(), naive.time(), UTC)


def aware(value: Any) -> datetime:
    """Aggregates (``max``, ``min``) bypass the column type on SQLite: give their text and
    naive values back in UTC, as the column would."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return in_utc(value) if value.tzinfo is None else value.astimezone(UTC)
