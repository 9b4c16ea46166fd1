"""Pages of rows newest first by id, for the operator's lists (cases, runs, rejects).

Ids never change and only grow, so a page is bounded by the ids around it: a row added or
updated while an operator pages neither moves nor repeats, whatever the filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Row, Table, select

from hub.store.db import Connection


@dataclass(frozen=True)
class IdPage:
    """One page's rows (newest first) and whether pages lie on either side of it."""

    rows: list[Row[Any]]
    more_newer: bool
    more_older: bool

    def newer(self, ids: Sequence[int]) -> int | None:
        """The id to page newer from (the first shown), when there is a newer page."""
        return ids[0] if ids and self.more_newer else None

    def older(self, ids: Sequence[int]) -> int | None:
        """The id to page older from (the last shown), when there is an older page."""
        return ids[-1] if ids and self.more_older else None


def id_page(
    connection: Connection,
    table: Table,
    conditions: Sequence[Any],
    count: int,
    *,
    before: int | None = None,
    after: int | None = None,
) -> IdPage:
    """``count`` rows of ``table`` kept by ``conditions``, newest first: the page after the
    row with id ``before`` (older ones), or the page before the row with id ``after``."""
    ident: Column[Any] = table.c.id
    query = select(table).where(*conditions)
    if after is not None:
        found = connection.execute(
            query.where(ident > after).order_by(ident).limit(count + 1)
        ).all()
        return IdPage(list(reversed(found[:count])), len(found) > count, True)
    if before is not None:
        query = query.where(ident < before)
    found = connection.execute(query.order_by(ident.desc()).limit(count + 1)).all()
    more_newer = before is not None and bool(
        connection.execute(select(ident).where(*conditions, ident >= before).limit(1)).first()
    )
    return IdPage(list(found[:count]), more_newer, len(found) > count)
