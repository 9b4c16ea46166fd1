"""``INSERT … ON CONFLICT DO NOTHING`` for whichever of our two databases is in use."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection, Table
from sqlalchemy.sql.dml import Insert


def insert_ignoring_conflicts(connection: Connection, table: Table, *keys: str) -> Insert:
    """An insert that skips rows whose ``keys`` already exist, instead of failing.

    Without keys, a conflict on any unique constraint skips the row. Built once per
    database kind, table and keys: building it costs more than a small insert's work.
    """
    return _ignoring_conflicts(connection.dialect.name, table, keys)


@cache
def _ignoring_conflicts(dialect: str, table: Table, keys: tuple[str, ...]) -> Insert:
    elements = list(keys) or None
    # The dialect's module is imported here, where its engine has loaded it already: at
    # the top, a SQLite hub's every command would import PostgreSQL's (issue 17).
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=elements)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing(index_elements=elements)
