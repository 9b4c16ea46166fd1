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
