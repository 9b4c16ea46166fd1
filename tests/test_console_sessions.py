"""Console sessions in the store, on SQLite and PostgreSQL, with the clock given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hub.store.console_sessions import (
    close_console_session,
    find_console_session,
    open_console_session,
    purge_console_sessions,
)
from hub.store.db import Database
from hub.store.tables import console_sessions

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)


def _open(database: Database, id_hash: str = "a" * 64, *, at: datetime = T0) -> None:
    with database.transaction() as connection:
        open_console_session(
            connection, id_hash, credential="cred", now=at, lifetime=LIFETIME, idle=IDLE
        )


def _live(database: Database, at: datetime, *, id_hash: str = "a" * 64, cred: str = "cred") -> bool:
    with database.transaction() as connection:
        found = find_console_session(connection, id_hash, credential=cred, now=at, idle=IDLE)
    return found is not None


def test_a_session_lives_while_used_and_dies_when_idle(database: Database) -> None:
    _open(database)
    moment = T0
    for _ in range(10):  # used every 29 minutes: each use moves the idle horizon
        moment += IDLE - timedelta(minutes=1)
        assert _live(database, moment)
    assert not _live(database, moment + IDLE)


def test_a_session_dies_at_its_absolute_lifetime_however_busy(database: Database) -> None:
    _open(database)
    moment = T0
    while moment + timedelta(minutes=10) < T0 + LIFETIME:
        moment += timedelta(minutes=10)
        assert _live(database, moment)
    assert not _live(database, T0 + LIFETIME)


def test_another_credential_or_an_unknown_hash_finds_nothing(database: Database) -> None:
    _open(database)
    assert not _live(database, T0, cred="other")
    assert not _live(database, T0, id_hash="b" * 64)


def test_closing_revokes_and_a_second_close_says_so(database: Database) -> None:
    _open(database)
    with database.transaction() as connection:
        assert close_console_session(connection, "a" * 64)
        assert not close_console_session(connection, "a" * 64)
    assert not _live(database, T0)


def test_expired_sessions_are_purged_when_another_opens(database: Database) -> None:
    _open(database, "a" * 64)
    _open(database, "b" * 64, at=T0 + IDLE)
    with database.transaction() as connection:
        hashes = connection.execute(select(console_sessions.c.id_hash)).scalars().all()
        assert hashes == ["b" * 64]
        assert purge_console_sessions(connection, now=T0 + LIFETIME * 2, idle=IDLE) == 1
        count = connection.execute(select(func.count()).select_from(console_sessions))
        assert count.scalar_one() == 0
