"""``INSERT … ON CONFLICT`` for whichever of our two databases is in use."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy import Connection, Table
from sqlalchemy.sql.dml import Insert

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

OnConflictInsert: TypeAlias = "postgresql.Insert | sqlite.Insert"


def insert_ignoring_conflicts(connection: Connection, table: Table, *keys: str) -> Insert:
    """An insert that skips rows whose ``keys`` already exist, instead of failing.

    Without keys, a conflict on any unique constraint skips the row. Built once per
    database kind, table and keys: building it costs more than a small insert's work.
    """
    return _ignoring_conflicts(connection.dialect.name, table, keys)


def ignoring_conflicts(dialect: str, table: Table, *keys: str) -> Insert:
    """``insert_ignoring_conflicts`` for a database kind named: for a statement built
    once per kind (``hub.store.compiled``)."""
    return _ignoring_conflicts(dialect, table, keys)


@cache
def _ignoring_conflicts(dialect: str, table: Table, keys: tuple[str, ...]) -> Insert:
    return dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=list(keys) or None)


def dialect_insert(dialect: str, table: Table) -> OnConflictInsert:
    """The dialect's own insert, which can say what a conflict does (``DO NOTHING`` or
    ``DO UPDATE``, with ``excluded``): the same calls on both databases."""
    # The dialect's module is imported here, where its engine has loaded it already: at
    # the top, a SQLite hub's every command would import PostgreSQL's (issue 17).
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
