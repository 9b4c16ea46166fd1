"""Finding a case, and a case's page: its state, its events and its service levels."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from hub.console.pages.shared import Session, database_of, network_of
from hub.console.render import page
from hub.console.session import CONSOLE_PATH
from hub.errors import NotFoundError
from hub.sla.compute import CaseServiceLevels
from hub.sla.store import case_service_levels
from hub.store.case_links import references_of_case
from hub.store.case_search import find_cases, stored_reference
from hub.store.cases import case_state, require_case
from hub.store.erasure import erasure_of
from hub.store.parties import list_parties

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)


@router.get("/cases")
def cases_search(request: Request, session: Session, q: str = "") -> Response:
    database = database_of(request)
    with database.transaction() as connection:
        hits = find_cases(connection, q) if q.strip() else []
    if len(hits) == 1 and hits[0].reference.upper() == q.strip().upper():
        return RedirectResponse(f"{CONSOLE_PATH}/cases/{quote(hits[0].reference)}", 303)
    return page(request, "cases.html", session=session, q=q, hits=hits)


@router.get("/cases/{reference}")
def case_page(request: Request, session: Session, reference: str) -> Response:
    database = database_of(request)
    with database.transaction() as connection:
        stored = stored_reference(connection, reference)
        if stored is not None and stored != reference:  # me-000123: the case's own page
            return RedirectResponse(f"{CONSOLE_PATH}/cases/{quote(stored)}", 303)
        try:
            record = require_case(connection, reference)
        except NotFoundError:
            return page(
                request, "cases.html", session=session, status_code=404, q=reference, hits=[]
            )
        state = case_state(connection, reference)
        erasure = erasure_of(connection, record.id)
        references = references_of_case(connection, record.case.reference)
        names = {party.id: party.name for party in list_parties(connection)}
        network = network_of(request)
        levels: CaseServiceLevels | None = None
        if network is not None:
            levels = case_service_levels(connection, network, reference, now=datetime.now(UTC))
    return page(
        request,
        "case.html",
        session=session,
        record=record,
        state=state,
        names=names,
        levels=levels,
        references=references,
        erasure=erasure,
    )
