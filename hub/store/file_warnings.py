"""File warnings kept for the operator: what is wrong around a file that still went in
(a sequence gap between two files), and the connector's last sequence number.

The last number is a cursor of the connector (``connector_cursors``, name ``sequence``),
written in the transaction that stores the file's events, like a page's cursor: it never
runs ahead of the files it stands for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Integer, String, bindparam, func, select, update

from hub.store.connector_state import read_cursor, write_cursor
from hub.store.figure_rows import counts_by_name
from hub.store.listing_rows import FileWarning
from hub.store.listing_rows import warning_of as _warning
from hub.store.tables import file_warnings

SEQUENCE_CURSOR = "sequence"
"""The name of the connector cursor holding the last sequence number seen."""


def last_sequence(connection: Connection, connector: str) -> str | None:
    return read_cursor(connection, connector, SEQUENCE_CURSOR)


def keep_sequence(connection: Connection, connector: str, value: str, *, now: datetime) -> None:
    """Call it in the transaction that stores the file's events."""
    write_cursor(connection, connector, value, name=SEQUENCE_CURSOR, now=now)


def record_warning(
    connection: Connection,
    connector: str,
    *,
    kind: str,
    reason: str,
    source: str,
    message_id: int | None,
    run_id: int | None,
    now: datetime,
) -> None:
    connection.execute(
        file_warnings.insert().values(
            connector=connector,
            kind=kind,
            reason=reason,
            source=source,
            message_id=message_id,
            run_id=run_id,
            created_at=now,
        )
    )


RECENT_WARNINGS = (
    select(file_warnings)
    .where(file_warnings.c.connector == bindparam("connector", type_=String))
    .order_by(file_warnings.c.created_at.desc(), file_warnings.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
"""A connector's warnings, newest first (the plain reads run it too: hub.store.plain_sql)."""


def recent_warnings(connection: Connection, connector: str, *, limit: int) -> list[FileWarning]:
    """The connector's warnings, newest first."""
    rows = connection.execute(RECENT_WARNINGS, {"connector": connector, "limit": limit}).all()
    return [_warning(row) for row in rows]


def all_warnings(connection: Connection) -> list[FileWarning]:
    """Every warning, in the order they were kept."""
    rows = connection.execute(select(file_warnings).order_by(file_warnings.c.id)).all()
    return [_warning(row) for row in rows]


OPEN_WARNING_COUNTS = (
    select(file_warnings.c.connector, func.count())
    .where(file_warnings.c.acknowledged_at.is_(None))
    .group_by(file_warnings.c.connector)
)
"""(connector, warnings not acknowledged yet) (the plain reads run it too:
hub.store.plain_sql)."""


def open_warning_counts(connection: Connection) -> dict[str, int]:
    """Warnings no operator acknowledged yet, by connector."""
    return counts_by_name(connection.execute(OPEN_WARNING_COUNTS).all())


def acknowledge_warnings(connection: Connection, connector: str, *, now: datetime) -> int:
    """Mark the connector's open warnings as seen; how many there were."""
    result = connection.execute(
        update(file_warnings)
        .where(file_warnings.c.connector == connector, file_warnings.c.acknowledged_at.is_(None))
        .values(acknowledged_at=now)
    )
    return int(result.rowcount or 0)
