"""What a test checks of a unit of work's locks while it is open: that another
connection, as another process's, cannot write what the unit holds (SQLite: the
database's one writer lock; PostgreSQL: a case's row lock); and a database whose
connections do not wait for a lock, so that a unit that would wait fails at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from hub.store import urls
from hub.store.db import Database


def assert_writer_held(path: Path) -> None:
    """SQLite: another connection to the file ``path`` cannot write now, without waiting."""
    other = sqlite3.connect(path, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("UPDATE cases SET updated_at = updated_at")
    finally:
        other.close()


def assert_case_held(database: Database, reference: str, *, free: str | None = None) -> None:
    """Another connection is kept from writing case ``reference`` now; on PostgreSQL
    case ``free`` (when given) is not held: only what the unit read or named is."""
    if database.dialect == "sqlite":
        path = database.sqlite_file()
        assert path is not None
        assert_writer_held(path)
        return
    url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    wanted = "SELECT id FROM cases WHERE reference = %s FOR UPDATE NOWAIT"
    with psycopg.connect(url, autocommit=True) as rival:
        with pytest.raises(psycopg.errors.LockNotAvailable):
            rival.execute(wanted, (reference,))
        if free is not None:
            assert rival.execute(wanted, (free,)).fetchall()


@contextmanager
def not_waiting(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """Another ``Database`` on ``database``'s data whose connections never wait for a
    lock: SQLite's busy timeout 0 (for every ``Database`` the test makes from here on,
    a command's own too), PostgreSQL's ``lock_timeout`` short. A unit that would wait
    for a writer held elsewhere fails with ``StoreBusy`` instead of hanging: the tests
    assert what happened, never how long it took."""
    monkeypatch.setattr(urls, "SQLITE_BUSY_TIMEOUT_MS", 0)
    other = Database(database.url)
    if other.dialect == "postgresql":

        def no_lock_waits(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("SET lock_timeout = '200ms'")
            dbapi_connection.commit()

        event.listen(other.engine, "connect", no_lock_waits)
    try:
        yield other
    finally:
        other.dispose()
