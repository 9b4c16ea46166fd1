"""``INSERT … ON CONFLICT DO NOTHING`` for whichever of our two databases is in use."""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.sql.dml import Insert


def insert_ignoring_conflicts(connection: Connection, table: Table, *keys: str) -> Insert:
    """An insert that skips rows whose ``keys`` already exist, instead of failing.

    Without keys, a conflict on any unique constraint skips the row.
    """
    elements = list(keys) or None
    # The dialect's module is imported here, where its engine has loaded it already: at
    # the top, a SQLite hub's every command would import PostgreSQL's (issue 17).
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=elements)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing(index_elements=elements)
