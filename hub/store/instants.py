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


SQLITE_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
"""How SQLite holds an instant: UTC's fields, microseconds always written, so that texts
compare as the instants do (SQLAlchemy's SQLite ``DATETIME`` storage format, which
hub.store.plain_statements checks it still is)."""


def utc_bound(value: datetime) -> datetime:
    """An instant bound as a parameter, in UTC; a naive one is refused rather than read in
    some zone. What hub.store.types.UtcDateTime's bind does, which keeps its own lines:
    it runs for every instant an ingestion stores (tests/test_plain_store.py compares)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r} cannot be stored: give its offset")
    return value.astimezone(UTC)


def sqlite_text(value: datetime) -> str:
    """An instant bound on SQLite, written as the column type writes it (SQLITE_TEXT)."""
    utc = utc_bound(value)
    return SQLITE_TEXT % (
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
    )
