"""Cursors a connector keeps between runs (a REST token, a last sequence number).

A cursor is written with the connection of the transaction that stores the events it
stands for, so it can never run ahead of them: a crash loses both or neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select, update

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


_ASKED = "asked:"
"""Names of the per-item rows: ``asked:`` and a digest of the key (the key itself is the
row's value), so any key fits the name column."""


def _asked_name(key: str) -> str:
    return _ASKED + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def items_asked(connection: Connection, connector: str) -> dict[str, datetime]:
    """When each item of a per-item pull was last asked about, by its key."""
    rows = connection.execute(
        select(connector_cursors.c.value, connector_cursors.c.updated_at).where(
            connector_cursors.c.connector == connector,
            connector_cursors.c.name.startswith(_ASKED),
        )
    )
    return {key: at for key, at in rows}


def note_item_asked(connection: Connection, connector: str, key: str, at: datetime) -> None:
    """Remember that the item was asked about at ``at`` (after its answer was stored)."""
    write_cursor(connection, connector, key, name=_asked_name(key), now=at)


def forget_items_asked(connection: Connection, connector: str, keep: Collection[str]) -> None:
    """Drop what is remembered of items no longer open (delivered parcels), so the rows
    do not outlive what they stand for."""
    gone = [_asked_name(key) for key in set(items_asked(connection, connector)) - set(keep)]
    for start in range(0, len(gone), 500):
        connection.execute(
            delete(connector_cursors).where(
                connector_cursors.c.connector == connector,
                connector_cursors.c.name.in_(gone[start : start + 500]),
            )
        )
