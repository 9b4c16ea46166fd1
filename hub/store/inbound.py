"""The inbound bookkeeping aggregate: what each connector has read (``inbound_messages``:
a file by name, size, time and hash, the archived message it became, when it was
acknowledged), and which archived messages never got that far.

A message is marked read in the transaction that stores its events, so the mark never
runs ahead of them; the unique (connector, name, hash) makes a second concurrent
ingestion of the same message fail at its mark, whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, update

from hub.store.compiled import DriverStatement
from hub.store.tables import inbound_messages, raw_messages

__all__ = [
    "ArchivedRef",
    "ReadState",
    "already_processed",
    "mark_acknowledged",
    "mark_read",
    "read_state",
    "unprocessed",
]


@dataclass(frozen=True)
class ReadState:
    """A listed file seen before: its bookkeeping row, and whether it was acknowledged."""

    id: int
    acknowledged: bool


@dataclass(frozen=True)
class ArchivedRef:
    """An archived message, without its content."""

    id: int
    name: str
    received_at: datetime


def already_processed(connection: Connection, connector: str, name: str, sha256: str) -> bool:
    """Whether the connector stored these very bytes under this name before."""
    found = connection.execute(
        select(inbound_messages.c.id).where(
            inbound_messages.c.connector == connector,
            inbound_messages.c.name == name,
            inbound_messages.c.sha256 == sha256,
        )
    ).first()
    return found is not None


_MARK_READ = DriverStatement(lambda _dialect: inbound_messages.insert())
"""Every message runs it: compiled once per database kind, run on the driver (issue 17)."""


def mark_read(
    connection: Connection,
    connector: str,
    *,
    name: str,
    size: int,
    modified_at: datetime | None,
    sha256: str,
    message_id: int,
    run_id: int | None,
    read_at: datetime,
) -> None:
    """Record the message as read; call it in the transaction that stores its events."""
    _MARK_READ.execute(
        connection,
        {
            "connector": connector,
            "name": name,
            "size": size,
            "modified_at": modified_at,
            "sha256": sha256,
            "message_id": message_id,
            "run_id": run_id,
            "read_at": read_at,
        },
    )


def _read_state_query(size_known: bool, modified_known: bool, _dialect: str) -> Select[Any]:
    """A listed file's row by name, size and time; a size or time the listing did not
    give is matched as NULL (``IS NULL``: a bound NULL would match nothing). The same
    statement on either database kind."""
    table = inbound_messages
    size = table.c.size == bindparam("size") if size_known else table.c.size.is_(None)
    modified = (
        table.c.modified_at == bindparam("modified_at")
        if modified_known
        else table.c.modified_at.is_(None)
    )
    return select(table.c.id, table.c.acknowledged_at).where(
        table.c.connector == bindparam("connector"),
        table.c.name == bindparam("name"),
        size,
        modified,
    )


_READ_STATES = {
    (size, modified): DriverStatement(partial(_read_state_query, size, modified))
    for size in (True, False)
    for modified in (True, False)
}
"""A run asks it of every file it lists: compiled once per database kind, run on the
driver (issue 17, twelfth pass)."""


def read_state(
    connection: Connection,
    connector: str,
    name: str,
    size: int | None,
    modified_at: datetime | None,
) -> ReadState | None:
    """A listed file read before (same name, size and time), or None."""
    values: dict[str, Any] = {"connector": connector, "name": name}
    if size is not None:
        values["size"] = size
    if modified_at is not None:
        values["modified_at"] = modified_at
    rows = _READ_STATES[(size is not None, modified_at is not None)].rows(connection, values)
    if not rows:
        return None
    found, acknowledged_at = rows[0]
    return ReadState(int(found), acknowledged_at is not None)


_MARK_ACKNOWLEDGED = DriverStatement(
    lambda _dialect: (
        update(inbound_messages)
        .where(
            inbound_messages.c.connector == bindparam("of_connector"),
            inbound_messages.c.name == bindparam("of_name"),
            inbound_messages.c.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=bindparam("at"))
    )
)
"""A run writes it after every file it acknowledges: as ``_READ_STATES``."""


def mark_acknowledged(connection: Connection, connector: str, name: str, at: datetime) -> None:
    """Record that the file named so was acknowledged to the partner (if not already)."""
    _MARK_ACKNOWLEDGED.execute(connection, {"of_connector": connector, "of_name": name, "at": at})


def unprocessed(connection: Connection, connector: str) -> list[ArchivedRef]:
    """The connector's archived messages no ingestion marked read, oldest first."""
    rows = connection.execute(
        select(raw_messages.c.id, raw_messages.c.name, raw_messages.c.received_at)
        .where(raw_messages.c.source == connector)
        .where(
            ~select(inbound_messages.c.id)
            .where(inbound_messages.c.message_id == raw_messages.c.id)
            .exists()
        )
        .order_by(raw_messages.c.id)
    ).all()
    return [ArchivedRef(row.id, row.name, row.received_at) for row in rows]
