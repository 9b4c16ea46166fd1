"""The cases list (filters and search in the address, so a link lands on the list it
means), a case's page (its state, its events and its service levels) and what it links
to: its parcels, its outbox messages and the connectors of its parties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.pages.shared import Session, clock_of, database_of, network_of, party_names
from hub.console.render import page
from hub.console.session import CONSOLE_PATH
from hub.errors import NotFoundError
from hub.model.parties import PartyRole
from hub.model.statuses import CaseStatus
from hub.operators.status import network_status
from hub.sla.compute import CaseServiceLevels
from hub.sla.store import breaches, case_service_levels
from hub.store.case_links import references_of_case
from hub.store.case_lists import (
    CLOSED,
    OPEN,
    CaseFilter,
    case_messages,
    case_parcels,
    case_party_ids,
    count_operator_cases,
    dead_letter_counts,
    operator_cases,
)
from hub.store.case_search import search_matches, stored_reference
from hub.store.cases import case_state, require_case
from hub.store.erasure import erasure_of
from hub.store.parties import list_parties
from hub.sync.failures import case_failures

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)

PAGE_SIZE = 25
STALE_AFTER = timedelta(days=7)
"""An open case nothing was recorded on for this long is stale."""


def _flag(value: str) -> bool:
    return value not in ("", "0", "no", "false")


@router.get("/cases")
def cases_list(
    request: Request,
    session: Session,
    q: str = "",
    status: str = "",
    retailer: str = "",
    partner: str = "",
    breached: str = "",
    stale: str = "",
    dead: str = "",
    before: int | None = None,
    after: int | None = None,
) -> Response:
    """Every case, newest first, narrowed by the filters of the address; a search that
    names one case by its reference opens that case."""
    database = database_of(request)
    network = network_of(request)
    now = datetime.now(UTC)  # when rows were updated: the machine's time, like updated_at
    only: set[str] | None = None
    if _flag(breached):  # by the hub's clock, as the breaches page measures them
        found = [] if network is None else breaches(database, network, now=clock_of(request)())
        only = {breach.case_ref for breach in found}
    where = CaseFilter(
        text=q,
        status=status or None,
        retailer=retailer or None,
        partner=partner or None,
        only=only,
        quiet_since=now - STALE_AFTER if _flag(stale) else None,
        dead_letters=_flag(dead),
    )
    with database.reading() as connection:
        if q.strip() and not (status or retailer or partner or only is not None or stale or dead):
            exact = stored_reference(connection, q)
            if exact is not None:
                return RedirectResponse(f"{CONSOLE_PATH}/cases/{quote(exact)}", 303)
        found_page = operator_cases(connection, where, count=PAGE_SIZE, before=before, after=after)
        total = count_operator_cases(connection, where)
        ids = [record.id for record in found_page.records]
        matches = search_matches(connection, q, ids)
        dead_counts = dead_letter_counts(
            connection, [record.case.reference for record in found_page.records]
        )
        parties = list_parties(connection)
    kept = {
        "q": q.strip(),
        "status": status,
        "retailer": retailer,
        "partner": partner,
        "breached": "1" if _flag(breached) else "",
        "stale": "1" if _flag(stale) else "",
        "dead": "1" if _flag(dead) else "",
    }
    kept = {name: value for name, value in kept.items() if value}

    def link(**change: str | int | None) -> str:
        query = {**kept, **{name: str(value) for name, value in change.items() if value}}
        return f"{CONSOLE_PATH}/cases" + (f"?{urlencode(query)}" if query else "")

    return page(
        request,
        "cases.html",
        session=session,
        now=now,
        q=q.strip(),
        filters=kept,
        page_of=found_page,
        total=total,
        matches=matches,
        dead_counts=dead_counts,
        breached_refs=only,
        statuses=list(CaseStatus),
        open_value=OPEN,
        closed_value=CLOSED,
        retailers=[party for party in parties if party.role is PartyRole.RETAILER],
        partners=[party for party in parties if party.role is not PartyRole.RETAILER],
        names={party.id: party.name for party in parties},
        newer_link=None if found_page.newer is None else link(after=found_page.newer),
        older_link=None if found_page.older is None else link(before=found_page.older),
        first_link=link() if before is not None or after is not None else None,
        stale_days=STALE_AFTER.days,
        searched=bool(q.strip()),
        network_loaded=network is not None,
    )


@router.get("/cases/{reference}/messages")
def case_messages_page(request: Request, session: Session, reference: str) -> Response:
    """What the hub sent for the case (the outbox, with attempts and outcome), the
    parcels it knows, and the connectors of the case's parties."""
    database = database_of(request)
    network = network_of(request)
    with database.reading() as connection:
        stored = stored_reference(connection, reference)
        if stored is None:
            return page(
                request,
                "missing.html",
                session=session,
                status_code=404,
                what=f"no case {reference}",
            )
        if stored != reference:
            return RedirectResponse(f"{CONSOLE_PATH}/cases/{quote(stored)}/messages", 303)
        record = require_case(connection, stored)
        messages = case_messages(connection, stored)
        parcels = case_parcels(connection, record.id)
        involved = case_party_ids(connection, record.id)
    connectors = []
    if network is not None:
        status = network_status(database, network)
        connectors = [c for c in status.connectors if c.partner in involved]
    return page(
        request,
        "case_messages.html",
        session=session,
        record=record,
        messages=messages,
        parcels=parcels,
        connectors=connectors,
        names=party_names(database),
        network_loaded=network is not None,
    )


@router.get("/cases/{reference}")
def case_page(request: Request, session: Session, reference: str) -> Response:
    database = database_of(request)
    with database.reading() as connection:
        stored = stored_reference(connection, reference)
        if stored is not None and stored != reference:  # me-000123: the case's own page
            return RedirectResponse(f"{CONSOLE_PATH}/cases/{quote(stored)}", 303)
        try:
            record = require_case(connection, reference)
        except NotFoundError:
            return page(
                request,
                "missing.html",
                session=session,
                status_code=404,
                what=f"No case has the reference {reference}.",
            )
        state = case_state(connection, reference)
        erasure = erasure_of(connection, record.id)
        references = references_of_case(connection, record.case.reference)
        related = (
            len(case_parcels(connection, record.id)),
            len(case_messages(connection, record.case.reference)),
        )
        names = {party.id: party.name for party in list_parties(connection)}
        network = network_of(request)
        failures = case_failures(
            connection, record.case.reference, network.config if network else None
        )
        levels: CaseServiceLevels | None = None
        if network is not None:
            levels = case_service_levels(connection, network, reference, now=clock_of(request)())
    return page(
        request,
        "case.html",
        session=session,
        record=record,
        state=state,
        names=names,
        levels=levels,
        references=references,
        failures=failures,
        related=related,
        erasure=erasure,
    )
