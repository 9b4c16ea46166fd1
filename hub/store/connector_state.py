"""Cursors a connector keeps between runs (a REST token, a last sequence number).

A cursor is written with the connection of the transaction that stores the events it
stands for, so it can never run ahead of them: a crash loses both or neither.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select, update

from hub.store.tables import connector_cursors
from hub.store.upsert import insert_ignoring_conflicts


def read_cursor(connection: Connection, connector: str, name: str = "default") -> str | None:
    return connection.execute(
        select(connector_cursors.c.value).where(
            connector_cursors.c.connector == connector, connector_cursors.c.name == name
        )
    ).scalar_one_or_none()


def write_cursor(
    connection: Connection,
    connector: str,
    value: str,
    *,
    name: str = "default",
    now: datetime | None = None,
) -> None:
    """Set the cursor; call it inside the transaction that appends the page's events."""
    moment = now or datetime.now(UTC)
    connection.execute(
        insert_ignoring_conflicts(connection, connector_cursors, "connector", "name"),
        {"connector": connector, "name": name, "value": value, "updated_at": moment},
    )
    connection.execute(
        update(connector_cursors)
        .where(connector_cursors.c.connector == connector, connector_cursors.c.name == name)
        .values(value=value, updated_at=moment)
    )
