"""Cases found from what an operator has in hand (the console's search): by the hub's
reference or any party's reference for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, or_, select

from hub.store.tables import case_references, cases

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class CaseHit:
    """A found case, with what the search results show of it."""

    reference: str
    retailer: str
    status: str | None
    updated_at: datetime


def find_cases(connection: Connection, text: str, *, limit: int = SEARCH_LIMIT) -> list[CaseHit]:
    """Cases whose reference, or any party's reference for them, starts with ``text``.

    Case is ignored (a workshop number typed in lower case still finds its case).
    """
    wanted = text.strip().upper()
    if not wanted:
        return []
    pattern = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    by_party = select(case_references.c.case_id).where(
        func.upper(case_references.c.reference).like(pattern, escape="\\")
    )
    rows = connection.execute(
        select(cases.c.reference, cases.c.retailer_id, cases.c.status, cases.c.updated_at)
        .where(
            or_(func.upper(cases.c.reference).like(pattern, escape="\\"), cases.c.id.in_(by_party))
        )
        .order_by(cases.c.reference)
        .limit(limit)
    )
    return [CaseHit(row[0], row[1], row[2], row[3]) for row in rows]


def stored_reference(connection: Connection, text: str) -> str | None:
    """The reference of the case ``text`` names, as stored, whatever its letter case
    (``me-000123`` → ``ME-000123``): the console and the CLI accept the same spellings.
    None when no case, or more than one differing only by letter case, has it."""
    wanted = text.strip()
    if not wanted:
        return None
    exact = connection.execute(
        select(cases.c.reference).where(cases.c.reference == wanted)
    ).scalar_one_or_none()
    if exact is not None:
        return str(exact)
    found = connection.execute(
        select(cases.c.reference).where(func.upper(cases.c.reference) == wanted.upper()).limit(2)
    ).scalars()
    matches = list(found)
    return str(matches[0]) if len(matches) == 1 else None
