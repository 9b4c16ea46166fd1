"""The raw archive: every inbound message byte for byte, before anything parses it.

A message is keyed by its source and SHA-256, so the same bytes from the same source
are recognised however often they arrive, and any message can be replayed later.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from hub.errors import NotFoundError
from hub.ports import RawMessage
from hub.store.compiled import DriverStatement
from hub.store.tables import raw_messages
from hub.store.upsert import ignoring_conflicts


@dataclass(frozen=True)
class ArchivedMessage:
    """A message as the archive holds it; ``duplicate`` means it was there already."""

    id: int
    source: str
    name: str
    sha256: str
    size: int
    received_at: datetime
    duplicate: bool = False


PURGED = "purged"
"""``compression`` of a message whose bytes retention removed (hub.store.retention)."""

COMPRESS_ABOVE = 4096
"""Smaller messages are kept as they are; larger ones (partner files) compress 5-10x,
which also keeps the database's copy of a million-line file small while it is written."""


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _stored_form(content: bytes) -> tuple[bytes, str]:
    if len(content) <= COMPRESS_ABOVE:
        return content, "none"
    return zlib.compress(content, 1), "zlib"


_ARCHIVE = DriverStatement(
    lambda dialect: ignoring_conflicts(dialect, raw_messages, "source", "sha256").returning(
        raw_messages.c.id
    )
)
"""Every message runs it: compiled once per database kind, run on the driver (issue 17)."""


def archive_message(
    connection: Connection, source: str, message: RawMessage, *, now: datetime | None = None
) -> ArchivedMessage:
    """Store the message unless the same bytes from the same source are there already."""
    digest = sha256_of(message.content)
    received_at = now or datetime.now(UTC)
    stored, compression = _stored_form(message.content)
    inserted = _ARCHIVE.rows(
        connection,
        {
            "source": source,
            "name": message.ref.name,
            "sha256": digest,
            "size": len(message.content),
            "content": stored,
            "compression": compression,
            "received_at": received_at,
            "meta": dict(message.metadata),
        },
    )
    if inserted:
        return ArchivedMessage(
            inserted[0][0], source, message.ref.name, digest, len(message.content), received_at
        )
    existing = _find(connection, source, digest)
    assert existing is not None, "a conflicting row must exist"
    return ArchivedMessage(
        existing.id,
        existing.source,
        existing.name,
        existing.sha256,
        existing.size,
        existing.received_at,
        duplicate=True,
    )


def _find(connection: Connection, source: str, digest: str) -> ArchivedMessage | None:
    row = connection.execute(
        select(
            raw_messages.c.id,
            raw_messages.c.source,
            raw_messages.c.name,
            raw_messages.c.sha256,
            raw_messages.c.size,
            raw_messages.c.received_at,
        ).where(raw_messages.c.source == source, raw_messages.c.sha256 == digest)
    ).one_or_none()
    return None if row is None else ArchivedMessage(*row)


def message_content(connection: Connection, message_id: int) -> bytes:
    """The exact bytes that arrived, for replay or support."""
    row = connection.execute(
        select(raw_messages.c.content, raw_messages.c.compression).where(
            raw_messages.c.id == message_id
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no archived message with id {message_id}")
    if row.compression == PURGED:
        raise NotFoundError(
            f"archived message {message_id} is past its retention (retention.raw_archive): "
            "only its name and hash are kept"
        )
    content = bytes(row.content)
    return zlib.decompress(content) if row.compression == "zlib" else content


def is_archived(connection: Connection, source: str, content: bytes) -> bool:
    return _find(connection, source, sha256_of(content)) is not None
