"""Many values as one statement parameter: a batch of rows as one typed array a column
on PostgreSQL, and a list of values a column is matched against as one parameter on
either database.

psycopg's ``executemany`` costs the client a row's parameters dumped in Python and a
round trip (or a pipeline's bookkeeping) a row; a statement reading its rows from
``unnest`` of one array a column costs one round trip and one plan, whatever the batch's
size, and keeps one SQL text for the driver to prepare (issue 17). A list matched as an
expanding ``IN`` made a statement text for each length of the list, rendered again by
SQLAlchemy and parsed again by the database, and bound each value on its own.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
)
from sqlalchemy.sql.selectable import Select, TableValuedAlias
from sqlalchemy.types import TypeEngine

__all__ = ["among", "one_list", "unnested"]


def unnested(
    *columns: tuple[str, TypeEngine[Any]], ordinality: str | None = None
) -> TableValuedAlias:
    """Rows from one array parameter a column, each array named as its column plus "s"
    and cast to its type. ``ordinality`` names a column numbering the rows from 1 in the
    arrays' order, for a statement that must keep it (an insert whose ids follow it)."""
    arrays = func.unnest(*(cast(bindparam(f"{name}s"), ARRAY(kind)) for name, kind in columns))
    named = [column(name, kind) for name, kind in columns]
    if ordinality is None:
        return arrays.table_valued(*named).render_derived()
    return arrays.table_valued(*named, with_ordinality=ordinality).render_derived()


def among(
    matched: ColumnElement[Any],
    name: str,
    kind: TypeEngine[Any],
    dialect: str,
    values: list[Any] | None = None,
) -> ColumnElement[bool]:
    """``matched`` is one of the values of the list parameter ``name``: on PostgreSQL an
    array of ``kind`` (``= any``), on SQLite a JSON list (``json_each``), so that the
    statement's text is the same whatever the list's length. ``values``, when given, are
    bound in the statement (as ``one_list`` gives them); otherwise each run binds
    ``one_list(dialect, values)`` under ``name``."""
    if dialect == "postgresql":
        return matched == func.any(bindparam(name, values, type_=ARRAY(kind)))
    given = None if values is None else one_list(dialect, values)
    listed: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam(name, given, type_=String))
    )
    return matched.in_(listed.scalar_subquery())


def one_list(dialect: str, values: list[Any]) -> Any:
    """The value ``among``'s parameter takes on this database: the list itself for
    PostgreSQL's array, its JSON text for SQLite's ``json_each``."""
    return values if dialect == "postgresql" else json.dumps(values)
