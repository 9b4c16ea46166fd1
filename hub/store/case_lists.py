"""Lists of cases: a retailer's cases page by page under filters, and which of them the
hub has published a service-level breach for (hub.sla publishes one per late step); the
operator's list of every case under the console's filters, newest first, by keyset; and
what a case page lists beside its timeline (its parcels and outbox messages).

A retailer's list reads only the tenant's own cases; cursors and limits are
hub.retailers.cases' business.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, exists, func, or_, select

from hub.model.event import EventType
from hub.model.statuses import FINAL_CASE_STATUSES, CaseStatus
from hub.store.case_search import search_condition
from hub.store.cases import CaseRecord, case_record
from hub.store.id_pages import id_page
from hub.store.outbox import ROW_COLUMNS, OutboxRow, OutboxState
from hub.store.tables import case_parties, case_references, cases, events, outbox, parcels


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
        query = query.where(_involves(partner))
    rows = connection.execute(query.order_by(cases.c.id).limit(count)).all()
    return [case_record(row) for row in rows]


def _involves(partner: str) -> ColumnElement[bool]:
    """The partner holds a reference for the case or reported an event on it."""
    return or_(
        exists().where(
            case_references.c.case_id == cases.c.id,
            case_references.c.party_id == partner,
        ),
        exists().where(events.c.case_id == cases.c.id, events.c.reported_by == partner),
    )


# --- the operator's list of every case ----------------------------------------------------

OPEN = "open"
CLOSED = "closed"
FINAL = sorted(status.value for status in FINAL_CASE_STATUSES)


@dataclass(frozen=True)
class CaseFilter:
    """What the console's cases list is narrowed to; every field left empty keeps all."""

    text: str = ""
    """Search text: reference, serial, partner reference, tracking number, customer name."""
    status: str | None = None
    """A stored status, or ``open`` (not final, or no status yet) or ``closed``."""
    retailer: str | None = None
    partner: str | None = None
    """Given the case (sent a message), holding a reference for it, or reporting on it."""
    only: Collection[str] | None = None
    """Only these references (the breached cases, which hub.sla computes)."""
    quiet_since: datetime | None = None
    """Stale: open cases nothing was recorded on since then."""
    dead_letters: bool = False
    """Only cases with an outbox message that gave up."""


def _has_dead_letter() -> ColumnElement[bool]:
    return exists().where(
        outbox.c.case_ref == cases.c.reference, outbox.c.state == OutboxState.DEAD.value
    )


def _open() -> ColumnElement[bool]:
    return or_(cases.c.status.is_(None), cases.c.status.not_in(FINAL))


def _conditions(where: CaseFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    searched = search_condition(where.text)
    if searched is not None:
        conditions.append(searched)
    if where.status == OPEN:
        conditions.append(_open())
    elif where.status == CLOSED:
        conditions.append(cases.c.status.in_(FINAL))
    elif where.status:
        conditions.append(cases.c.status == where.status)
    if where.retailer:
        conditions.append(cases.c.retailer_id == where.retailer)
    if where.partner:
        given = exists().where(
            case_parties.c.case_id == cases.c.id, case_parties.c.party_id == where.partner
        )
        conditions.append(or_(given, _involves(where.partner)))
    if where.only is not None:
        conditions.append(cases.c.reference.in_(sorted(where.only)))
    if where.quiet_since is not None:
        conditions.append(_open())
        conditions.append(cases.c.updated_at < where.quiet_since)
    if where.dead_letters:
        conditions.append(_has_dead_letter())
    return conditions


@dataclass(frozen=True)
class CasePage:
    """One page of the operator's list, newest case first, and where the pages around
    it start: ``newer`` and ``older`` are keys for the previous and next page (None when
    there is none)."""

    records: list[CaseRecord]
    newer: int | None
    older: int | None


def operator_cases(
    connection: Connection,
    where: CaseFilter,
    *,
    count: int,
    before: int | None = None,
    after: int | None = None,
) -> CasePage:
    """A page of the cases ``where`` keeps, newest opened first (by id, which never
    changes: a case updated while the operator pages neither moves nor repeats).

    ``before``: the page after the case with that id; ``after``: the page before it.
    """
    conditions = _conditions(where)
    page = id_page(connection, cases, conditions, count, before=before, after=after)
    records = [case_record(row) for row in page.rows]
    ids = [record.id for record in records]
    return CasePage(records, newer=page.newer(ids), older=page.older(ids))


def count_operator_cases(connection: Connection, where: CaseFilter) -> int:
    """How many cases ``where`` keeps, on every page."""
    total = connection.execute(
        select(func.count()).select_from(cases).where(*_conditions(where))
    ).scalar_one()
    return int(total)


def dead_letter_counts(connection: Connection, references: list[str]) -> dict[str, int]:
    """Outbox messages that gave up, by case, for these cases."""
    if not references:
        return {}
    rows = connection.execute(
        select(outbox.c.case_ref, func.count())
        .where(outbox.c.case_ref.in_(references), outbox.c.state == OutboxState.DEAD.value)
        .group_by(outbox.c.case_ref)
    ).all()
    return {str(reference): int(total) for reference, total in rows}


# --- what a case page lists beside its timeline ------------------------------------------


@dataclass(frozen=True)
class CaseParcel:
    """A parcel the hub knows the tracking number of for the case, and how it learned it."""

    tracking_number: str
    carrier: str | None
    leg: str | None
    learned_from: str
    recorded_at: datetime


def case_parcels(connection: Connection, case_id: int) -> list[CaseParcel]:
    """The case's parcels, in the order the hub learned them."""
    rows = connection.execute(
        select(parcels)
        .where(parcels.c.case_id == case_id)
        .order_by(parcels.c.recorded_at, parcels.c.tracking_number)
    ).all()
    return [
        CaseParcel(row.tracking_number, row.carrier, row.leg, row.learned_from, row.recorded_at)
        for row in rows
    ]


def case_messages(connection: Connection, reference: str) -> list[OutboxRow]:
    """Every outbox message written for the case, whatever its state, in send order."""
    rows = connection.execute(
        select(*ROW_COLUMNS).where(outbox.c.case_ref == reference).order_by(outbox.c.id)
    )
    return [OutboxRow.from_row(row) for row in rows]


def case_party_ids(connection: Connection, case_id: int) -> set[str]:
    """Every party the case involves: given it, holding a reference, or reporting on it."""
    given = select(case_parties.c.party_id).where(case_parties.c.case_id == case_id)
    held = select(case_references.c.party_id).where(case_references.c.case_id == case_id)
    reported = select(events.c.reported_by).where(events.c.case_id == case_id)
    found = connection.execute(given.union(held, reported)).scalars()
    return {str(party) for party in found}
