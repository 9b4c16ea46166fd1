"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.types import TypeDecorator

BigIntId = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit key; SQLite only auto-increments a plain INTEGER PRIMARY KEY."""


class UtcDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC; refuses naive datetimes instead of guessing their zone.

    SQLite has no time zones, so it gets naive UTC text in one fixed format (which also
    sorts correctly); PostgreSQL gets ``timestamptz``. Both give back aware UTC.

    Both are handed the instant in UTC: SQLite's ``DateTime`` writes its text from the
    fields alone, so the zone needs no ``replace(tzinfo=None)``, which parses its
    keywords at every call (a third of a bound instant's cost, issue 17).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored: give its offset")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return _in_utc(value)
        return value.astimezone(UTC)


def _in_utc(naive: datetime) -> datetime:
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
    return _in_utc(value) if value.tzinfo is None else value.astimezone(UTC)
