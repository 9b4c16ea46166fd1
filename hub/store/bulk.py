"""Driver-level bulk insert of events, with exactly which ones were new.

Appending is the hub's hot path (a 200,000-line partner file is 200,000 events).
SQLAlchemy's per-row parameter processing costs more than the database work, so rows
are converted here once, in plain Python, and sent as one statement per chunk:
multi-row ``VALUES`` on SQLite, ``unnest`` of typed arrays on PostgreSQL (a fixed,
small number of parameters that psycopg prepares once). Both use ``ON CONFLICT DO
NOTHING RETURNING`` so the caller learns exactly which events it stored, even when
another process writes the same ids at the same moment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

COLUMNS = (
    "event_id",
    "case_id",
    "case_ref",
    "partner_ref",
    "type",
    "status",
    "unmapped",
    "occurred_at",
    "occurred_offset_minutes",
    "recorded_at",
    "reported_by",
    "raw_code",
    "raw_label",
    "subject",
    "details",
    "message_id",
)

_PG_TYPES = {
    "case_id": "bigint",
    "unmapped": "boolean",
    "occurred_at": "timestamptz",
    "occurred_offset_minutes": "integer",
    "recorded_at": "timestamptz",
    "details": "json",
    "message_id": "bigint",
}

SQLITE_ROWS_PER_STATEMENT = 500
"""16 parameters a row; SQLite allows 32,766 parameters a statement."""


def _sqlite_time(moment: datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime uses, so reads and sorting agree.
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_row(row: dict[str, Any]) -> tuple[Any, ...]:
    details = row["details"]
    return (
        row["event_id"],
        row["case_id"],
        row["case_ref"],
        row["partner_ref"],
        row["type"],
        row["status"],
        1 if row["unmapped"] else 0,
        _sqlite_time(row["occurred_at"]),
        row["occurred_offset_minutes"],
        _sqlite_time(row["recorded_at"]),
        row["reported_by"],
        row["raw_code"],
        row["raw_label"],
        row["subject"],
        None if details is None else json.dumps(details, ensure_ascii=False),
        row["message_id"],
    )


def _insert_sqlite(connection: Connection, rows: Sequence[dict[str, Any]]) -> list[str]:
    stored: list[str] = []
    placeholders = "(" + ", ".join("?" for _ in COLUMNS) + ")"
    for start in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
        chunk = rows[start : start + SQLITE_ROWS_PER_STATEMENT]
        sql = (
            f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES "  # noqa: S608 - constant names
            + ", ".join(placeholders for _ in chunk)
            + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )
        values = tuple(value for row in chunk for value in _sqlite_row(row))
        stored.extend(r[0] for r in connection.exec_driver_sql(sql, values))
    return stored


def _insert_postgresql(connection: Connection, rows: Sequence[dict[str, Any]]) -> list[str]:
    arrays = []
    for column in COLUMNS:
        if column == "details":
            arrays.append([None if r[column] is None else json.dumps(r[column]) for r in rows])
        else:
            arrays.append([r[column] for r in rows])
    casts = ", ".join(
        f"%s::{'text' if column == 'details' else _PG_TYPES.get(column, 'text')}[]"
        for column in COLUMNS
    )
    select_list = ", ".join(
        f"{column}::json" if column == "details" else column for column in COLUMNS
    )
    sql = (
        f"INSERT INTO events ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
        f"SELECT {select_list} FROM unnest({casts}) AS t({', '.join(COLUMNS)}) "
        "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
    )
    return [r[0] for r in connection.exec_driver_sql(sql, tuple(arrays))]


def insert_events(connection: Connection, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Insert the rows whose event_id is new; returns those ids."""
    if not rows:
        return []
    if connection.dialect.name == "postgresql":
        return _insert_postgresql(connection, rows)
    return _insert_sqlite(connection, rows)
