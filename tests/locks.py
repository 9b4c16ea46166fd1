"""What a test checks of a unit of work's locks while it is open: that another
connection, as another process's, cannot write what the unit holds (SQLite: the
database's one writer lock; PostgreSQL: a case's row lock)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

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
