"""A retailer's list of cases: its cases page by page under filters, and which of them
the hub has published a service-level breach for (hub.sla publishes one per late step).

Only the tenant's own cases are ever read here; cursors and limits are
hub.retailers.cases' business.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, exists, or_, select

from hub.model.event import EventType
from hub.model.statuses import CaseStatus
from hub.store.cases import CaseRecord, case_record
from hub.store.tables import case_references, cases, events


def _breach_published() -> ColumnElement[bool]:
    """The case has a service-level breach event."""
    return exists().where(
        events.c.case_id == cases.c.id, events.c.type == EventType.SERVICE_LEVEL.value
    )


def breached_case_ids(connection: Connection, case_ids: list[int]) -> frozenset[int]:
    """Which of these cases the retailer has been told of a breach for."""
    if not case_ids:
        return frozenset()
    found = connection.execute(
        select(cases.c.id).where(cases.c.id.in_(case_ids), _breach_published())
    ).scalars()
    return frozenset(int(case_id) for case_id in found)


def retailer_cases(
    connection: Connection,
    retailer_id: str,
    *,
    after_id: int | None,
    count: int,
    status: CaseStatus | None = None,
    partner: str | None = None,
    breached: bool | None = None,
    updated_since: datetime | None = None,
) -> list[CaseRecord]:
    """At most ``count`` of the retailer's cases after ``after_id``, by id.

    ``breached`` keeps the cases with (or without) a published breach; ``partner`` the
    cases that partner holds a reference for or reported an event on.
    """
    query = select(cases).where(cases.c.retailer_id == retailer_id)
    if after_id is not None:
        query = query.where(cases.c.id > after_id)
    if breached is not None:
        breach = _breach_published()
        query = query.where(breach if breached else ~breach)
    if status is not None:
        query = query.where(cases.c.status == status.value)
    if updated_since is not None:
        query = query.where(cases.c.updated_at >= updated_since)
    if partner is not None:
        query = query.where(
            or_(
                exists().where(
                    case_references.c.case_id == cases.c.id,
                    case_references.c.party_id == partner,
                ),
                exists().where(events.c.case_id == cases.c.id, events.c.reported_by == partner),
            )
        )
    rows = connection.execute(query.order_by(cases.c.id).limit(count)).all()
    return [case_record(row) for row in rows]
