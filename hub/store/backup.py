"""An online backup of a SQLite database, through SQLite's own backup API: one
consistent snapshot of the file while the hub goes on writing (in WAL mode readers
never block the writer), checked before it is reported. PostgreSQL has pg_dump for
that (docs/operations.md)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hub.errors import ConfigurationError
from hub.store.db import Database


def backup_sqlite(database: Database, target: Path) -> int:
    """Copy the database to ``target`` (a new file); the copy's size in bytes."""
    source_file = database.sqlite_file()
    if source_file is None:
        raise ConfigurationError(
            f"{database.safe_url()} is PostgreSQL: back it up with pg_dump --format=custom "
            "(docs/operations.md, Backup and restore)"
        )
    if target.exists():
        raise ConfigurationError(f"{target} already exists: give the backup a new file name")
    source = sqlite3.connect(source_file)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # every page in one step: a snapshot of one moment
        verdict = copy.execute("PRAGMA integrity_check").fetchone()
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside
    finally:
        copy.close()
        source.close()
    if verdict is None or verdict[0] != "ok":
        target.unlink(missing_ok=True)
        raise ConfigurationError(f"the copy of {source_file} failed its integrity check")
    return target.stat().st_size
