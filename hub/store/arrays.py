"""A batch of rows as one PostgreSQL statement's parameters: one typed array a column.

psycopg's ``executemany`` costs the client a row's parameters dumped in Python and a
round trip (or a pipeline's bookkeeping) a row; a statement reading its rows from
``unnest`` of one array a column costs one round trip and one plan, whatever the batch's
size, and keeps one SQL text for the driver to prepare (issue 17).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, bindparam, cast, column, func
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

__all__ = ["unnested"]


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
