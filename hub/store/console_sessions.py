"""Operator console sessions in the database, so every hub process agrees on them.

Only a hash of each session id is stored: someone who reads the table (a backup, a
replica) cannot use it as a cookie. A session is valid while its absolute expiry is
ahead, it was used within the idle lifetime, and it was opened with the credential
configured now. Logging out deletes the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update

from hub.store.tables import console_sessions

TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` is rewritten at most this often: a page load is not a write each time."""


@dataclass(frozen=True)
class StoredSession:
    id_hash: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def open_console_session(
    connection: Connection,
    id_hash: str,
    *,
    credential: str,
    now: datetime,
    lifetime: timedelta,
    idle: timedelta,
) -> None:
    """Store a new session, and forget the expired ones (the table stays small)."""
    purge_console_sessions(connection, now=now, idle=idle)
    connection.execute(
        insert(console_sessions).values(
            id_hash=id_hash,
            credential=credential,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )


def find_console_session(
    connection: Connection,
    id_hash: str,
    *,
    credential: str,
    now: datetime,
    idle: timedelta,
) -> StoredSession | None:
    """The live session with that hash, marked as seen now; None if unknown or expired."""
    row = connection.execute(
        select(
            console_sessions.c.id_hash,
            console_sessions.c.created_at,
            console_sessions.c.last_seen_at,
            console_sessions.c.expires_at,
        ).where(
            console_sessions.c.id_hash == id_hash,
            console_sessions.c.credential == credential,
            console_sessions.c.expires_at > now,
            console_sessions.c.last_seen_at > now - idle,
        )
    ).one_or_none()
    if row is None:
        return None
    session = StoredSession(row.id_hash, row.created_at, row.last_seen_at, row.expires_at)
    if now - session.last_seen_at >= TOUCH_EVERY:
        connection.execute(
            update(console_sessions)
            .where(console_sessions.c.id_hash == id_hash)
            .values(last_seen_at=now)
        )
    return session


def close_console_session(connection: Connection, id_hash: str) -> bool:
    """Revoke: the id is refused from now on, by every process. False if it was not live."""
    return (
        connection.execute(
            delete(console_sessions).where(console_sessions.c.id_hash == id_hash)
        ).rowcount
        > 0
    )


def purge_console_sessions(connection: Connection, *, now: datetime, idle: timedelta) -> int:
    """Delete the sessions that can no longer be used; how many."""
    return connection.execute(
        delete(console_sessions).where(
            or_(
                console_sessions.c.expires_at <= now,
                console_sessions.c.last_seen_at <= now - idle,
            )
        )
    ).rowcount
