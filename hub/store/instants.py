"""Instants as the store gives them back, without SQLAlchemy: the column type
(hub.store.types.UtcDateTime) and the plain reads (hub.store.plain) share these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
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


def aware_or_none(value: Any) -> datetime | None:
    """``aware`` for a column that may be NULL: what the plain reads and the driver
    statements give for an instant SQLite returns (hub.store.plain, hub.store.compiled)."""
    return None if value is None else aware(value)


@cache
def sqlite_time() -> Callable[[datetime], str]:
    """The writer of an aware instant in the text form SQLAlchemy's SQLite DateTime writes
    (naive UTC, always with microseconds, year zero-padded), so reads and sorting agree:
    the UTC instant's ISO form without its "+00:00" (``replace(tzinfo=None)`` parses its
    keywords at every call and cost a third of the conversion, issue 17), its hour's text
    (``2026-11-03 09:``) written once an hour, as the ids' instants are (issue 17, tenth
    pass). One writer, made on first use (a reading command that binds no instant imports
    nothing of hub.model): the events' bulk insert (hub.store.bulk) and the plain reads'
    bound instants use it; hub.store.plain_statements checks it still writes what the
    column type writes."""
    from hub.model.utc_texts import hourly_utc_text

    return hourly_utc_text(lambda utc: utc.isoformat(" ", "microseconds")[:-6], ".000000")


def utc_bound(value: datetime) -> datetime:
    """An instant bound as a parameter, in UTC; a naive one is refused rather than read in
    some zone. What hub.store.types.UtcDateTime's bind does, which keeps its own lines:
    it runs for every instant an ingestion stores (tests/test_plain_store.py compares)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r} cannot be stored: give its offset")
    return value.astimezone(UTC)


def sqlite_text(value: datetime) -> str:
    """An instant bound on SQLite, written as the column type writes it (``sqlite_time``);
    a naive one refused."""
    return sqlite_time()(utc_bound(value))
