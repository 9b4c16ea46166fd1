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

from sqlalchemy import Connection, select, update

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


def read_state(
    connection: Connection,
    connector: str,
    name: str,
    size: int | None,
    modified_at: datetime | None,
) -> ReadState | None:
    """A listed file read before (same name, size and time), or None."""
    row = connection.execute(
        select(inbound_messages.c.id, inbound_messages.c.acknowledged_at).where(
            inbound_messages.c.connector == connector,
            inbound_messages.c.name == name,
            inbound_messages.c.size == size,
            inbound_messages.c.modified_at == modified_at,
        )
    ).first()
    return None if row is None else ReadState(row.id, row.acknowledged_at is not None)


def mark_acknowledged(connection: Connection, connector: str, name: str, at: datetime) -> None:
    """Record that the file named so was acknowledged to the partner (if not already)."""
    connection.execute(
        update(inbound_messages)
        .where(
            inbound_messages.c.connector == connector,
            inbound_messages.c.name == name,
            inbound_messages.c.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=at)
    )


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
