"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.types import TypeDecorator

from hub.store.instants import aware as aware
from hub.store.instants import in_utc

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
            return in_utc(value)
        return value.astimezone(UTC)
