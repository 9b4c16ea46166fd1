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
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored: give its offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def aware(value: Any) -> datetime:
    """Aggregates (``max``, ``min``) bypass the column type on SQLite: give their text and
    naive values back in UTC, as the column would."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
