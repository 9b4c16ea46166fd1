"""The distinct values of an indexed column, found one index step each.

``SELECT DISTINCT`` (or ``GROUP BY``) reads every row of the column's index; a
recursive walk (the first value, then the least value after each) reads one entry per
value, so a table of any length costs a step per value. The status reads walk the
connectors that have runs and the sources the archive holds this way (issue 17).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, Column, func, select

__all__ = ["distinct_values"]


def distinct_values(column: Column[Any], name: str) -> CTE:
    """A recursive CTE named ``name`` of the column's distinct values, one column named
    as ``column``, ending with a NULL row (the step after the last value): join or filter
    on it, which drops that row."""
    label = column.name
    found = select(func.min(column).label(label)).cte(name, recursive=True)
    later = column.table.alias("later")
    following = (
        select(func.min(later.c[label])).where(later.c[label] > found.c[label]).scalar_subquery()
    )
    return found.union_all(select(following).where(found.c[label].is_not(None)))
