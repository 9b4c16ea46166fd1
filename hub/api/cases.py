"""Routes for a retailer's cases: open, read, read the timeline, list with filters.

They translate HTTP to hub.retailers.cases and back; the tenant rules live there.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import AwareDatetime, BeforeValidator

from hub.api.auth import Caller, DatabaseDep
from hub.api.models import CaseList, CaseRequest, CaseView, Timeline
from hub.model.statuses import CaseStatus
from hub.retailers.cases import (
    DEFAULT_PAGE,
    MAX_PAGE,
    CaseFilters,
    case_of,
    create_case,
    list_cases,
    timeline_of,
)
from hub.retailers.corrections import CasePatch, correct_case
from hub.retailers.cursors import MAX_CURSOR_LENGTH
from hub.store.case_links import references_of_case
from hub.store.case_lists import breached_case_ids
from hub.store.cases import CaseRecord
from hub.store.db import Connection
from hub.sync.failures import case_failures

router = APIRouter(tags=["cases"])

EXAMPLE_CASE = {
    "reference": "ME-000123",
    "retailer": "maison-electro",
    "product": {
        "brand": "Seb",
        "model": "Actifry Genius XL",
        "serial_number": "SN8841XK2",
        "purchase_date": "2026-02-11",
    },
    "coverage": "legal_conformity",
    "service": "workshop_repair",
    "fault": "Ne chauffe plus, affiche E3",
    "customer": {
        "name": "Julie Martin",
        "phone": "+33612345678",
        "email": "julie.martin@example.org",
        "address": {"line1": "12 rue des Lilas", "postcode": "69003", "city": "Lyon"},
    },
    "contract_level": "gold",
    "opened_at": "2026-10-30T16:20:00+01:00",
}
"""Maison Électro's case from the partner samples; `references` may name partners. It
carries the customer's address: the carrier that collects the product needs it."""

EXAMPLE_CORRECTION = {"customer": {"address": {"line1": "14 rue des Lilas", "line2": "Bâtiment B"}}}

NewCase = Annotated[
    CaseRequest,
    Body(
        openapi_examples={
            "workshop_repair": {"summary": "A workshop repair", "value": EXAMPLE_CASE}
        }
    ),
]

PARTY_ID = r"^[a-z0-9][a-z0-9_.-]*$"
"""The model's party id pattern (hub.model.parties.PartyId)."""

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""No control characters: none belongs in a reference, and PostgreSQL refuses NUL."""

RFC3339_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"  # full-date
    r"[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"  # partial-time
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})",  # time-offset
    re.ASCII,
)
"""RFC 3339's date-time, offset required (its section 5.6)."""


def rfc3339_only(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a date-time: a number of seconds since
    1970 (``0.5``, ``1798794000``), a bare date. A retailer means an instant with an offset."""
    if isinstance(value, str) and RFC3339_DATE_TIME.fullmatch(value) is not None:
        return value
    raise ValueError(
        "must be an RFC 3339 date-time with its offset, e.g. 2026-11-01T10:00:00+01:00"
    )


Rfc3339DateTime = Annotated[AwareDatetime, BeforeValidator(rfc3339_only)]

Reference = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=PRINTABLE,
        description="The case reference, e.g. ME-000123.",
    ),
]


@router.post(
    "/cases",
    operation_id="openCase",
    summary="Open a case (canonical JSON)",
    status_code=201,
    responses={200: {"model": CaseView, "description": "Opened before with the same content."}},
)
def open_case(
    body: NewCase, caller: Caller, db: DatabaseDep, request: Request, response: Response
) -> CaseView:
    """Idempotent: the same case again answers 200; other content under its reference 409.
    A case its partners could not work (the carrier's pickup needs the customer's address,
    a repairer's order the retailer's name) is refused with 422, each missing field named
    with the partner that needs it (`needed_by`)."""
    case = body.for_retailer(caller)
    opened = create_case(
        db,
        caller,
        case,
        on_stored=request.app.state.on_stored,
        route_check=request.app.state.route_check,
    )
    response.status_code = 201 if opened.created else 200
    response.headers["Location"] = f"/v1/cases/{quote(case.reference, safe='')}"
    if opened.created:
        return CaseView.of(opened.record, breached=False)
    with db.reading() as connection:
        breached = opened.record.id in breached_case_ids(connection, [opened.record.id])
    return CaseView.of(opened.record, breached=breached)


@router.get("/cases", operation_id="listCases", summary="List your cases")
def list_your_cases(
    caller: Caller,
    db: DatabaseDep,
    status: Annotated[CaseStatus | None, Query(description="Current status.")] = None,
    partner: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=PARTY_ID,
            description="A partner's party id: cases it holds or reported on.",
        ),
    ] = None,
    breached: Annotated[
        bool | None,
        Query(
            description="Cases with (true) or without (false) a published service-level "
            "breach: a step past its contract deadline or the 30-day legal rule."
        ),
    ] = None,
    updated_since: Annotated[
        Rfc3339DateTime | None,
        Query(
            description="Cases changed at or after this instant: an RFC 3339 date-time with "
            "its offset, e.g. `2026-11-01T10:00:00+01:00`."
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> CaseList:
    filters = CaseFilters(
        status=status, partner=partner, breached=breached, updated_since=updated_since
    )
    with db.reading() as connection:
        page = list_cases(connection, caller, filters, after=after, limit=limit)
    return CaseList.of(page)


def _view(connection: Connection, record: CaseRecord, request: Request) -> CaseView:
    """The case with its breach, partners' references and dead letters."""
    network = request.app.state.network
    reference = record.case.reference
    return CaseView.of(
        record,
        breached=record.id in breached_case_ids(connection, [record.id]),
        references=references_of_case(connection, reference),
        failures=case_failures(connection, reference, network.config if network else None),
    )


@router.get("/cases/{reference}", operation_id="getCase", summary="Read one of your cases")
def read_case(reference: Reference, caller: Caller, db: DatabaseDep, request: Request) -> CaseView:
    with db.reading() as connection:
        return _view(connection, case_of(connection, caller, reference), request)


@router.patch(
    "/cases/{reference}",
    operation_id="correctCase",
    summary="Correct the customer's contact or address",
)
def correct_your_case(
    reference: Reference,
    patch: Annotated[
        CasePatch,
        Body(
            media_type="application/merge-patch+json",
            openapi_examples={
                "address": {"summary": "A corrected address", "value": EXAMPLE_CORRECTION}
            },
        ),
    ],
    caller: Caller,
    db: DatabaseDep,
    request: Request,
) -> CaseView:
    """A JSON merge patch (RFC 7396; `application/json` is read the same): only
    `customer.name`, `phone`, `email` and `address` may change; `null` removes one. The
    corrected case is checked like a new one (its partners' needs included) and recorded
    as a `case_record` `corrected` event naming the fields changed. Messages of the case
    that had failed (see `dead_letters`) are sent again, rebuilt from the corrected case.
    The same correction again changes nothing."""
    state = request.app.state
    corrected = correct_case(
        db, caller, reference, patch, route_check=state.route_check, on_stored=state.on_stored
    )
    with db.reading() as connection:
        return _view(connection, corrected.record, request)


@router.get(
    "/cases/{reference}/timeline",
    operation_id="getCaseTimeline",
    summary="A case's whole timeline across every partner",
)
def read_timeline(reference: Reference, caller: Caller, db: DatabaseDep) -> Timeline:
    with db.reading() as connection:
        state = timeline_of(connection, caller, reference)
    return Timeline.of(reference, state)
