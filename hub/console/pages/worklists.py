"""The pages of what waits for an operator: partner codes no mapping knows, service-level
breaches, dead letters with their Replay and Discard buttons, and the retailers' own
webhook endpoints with their queues."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from hub.console.pages.shared import (
    Session,
    back,
    check_csrf,
    clock_of,
    database_of,
    network_of,
    party_names,
)
from hub.console.render import page
from hub.console.session import CONSOLE_PATH, ConsoleSession
from hub.errors import ConflictError, NotFoundError
from hub.model.parties import PartyRole
from hub.operators.listings import unmapped_codes
from hub.operators.webhook_endpoints import webhook_endpoint_overview
from hub.sla.store import breaches
from hub.sync.outbox import dead_letters, discard, get_message, held_back_by, replay

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)


@router.get("/unmapped")
def unmapped_page(request: Request, session: Session) -> Response:
    database = database_of(request)
    codes = unmapped_codes(database)
    parties: dict[str, list[object]] = {}
    for code in codes:
        parties.setdefault(code.reported_by, []).append(code)
    return page(
        request,
        "unmapped.html",
        session=session,
        parties=parties,
        total=sum(code.count for code in codes),
        names=party_names(database),
    )


@router.get("/breaches")
def breaches_page(request: Request, session: Session, retailer: str = "") -> Response:
    """Steps of open cases past their deadline, the earliest deadline first."""
    database = database_of(request)
    network = network_of(request)
    now = datetime.now(UTC)
    names = party_names(database)
    found = None
    retailers: list[str] = []
    measured_at = clock_of(request)()  # the hub's clock: a demo's story time
    if network is not None:
        found = breaches(database, network, now=measured_at, retailer=retailer or None)
        parties = network.config.parties
        retailers = [party.id for party in parties if party.role is PartyRole.RETAILER]
    return page(
        request,
        "breaches.html",
        session=session,
        now=now,
        breaches=found,
        measured_at=measured_at,
        retailer=retailer,
        retailers=retailers,
        names=names,
    )


@router.get("/dead-letters")
def dead_letters_page(
    request: Request,
    session: Session,
    done: str | None = None,
    id: int | None = None,
    error: str | None = None,
) -> Response:
    letters = dead_letters(database_of(request))
    followed = None  # a replayed message's case, where its attempts and outcome stay shown
    if done == "replayed" and id is not None:
        try:
            followed = get_message(database_of(request), id).case_ref
        except NotFoundError:
            followed = None
    return page(
        request,
        "dead_letters.html",
        session=session,
        letters=letters,
        held_back=held_back_by(database_of(request), letters),
        done=done,
        done_id=id,
        followed_case=followed,
        error=error,
    )


def _on_letter(
    session: ConsoleSession, csrf_token: str | None, act: Callable[[], object], done: str, id: int
) -> Response:
    """Replay and Discard alike: CSRF checked, refusals shown, the list shown again."""
    check_csrf(session, csrf_token)
    try:
        act()
    except (NotFoundError, ConflictError) as refused:
        return back("/dead-letters", error=refused.message)
    return back("/dead-letters", done=done, id=id)


@router.post("/dead-letters/{message_id}/replay")
def replay_letter(
    request: Request,
    session: Session,
    message_id: int,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    database = database_of(request)
    return _on_letter(
        session,
        csrf_token,
        lambda: replay(database, message_id, now=datetime.now(UTC)),
        "replayed",
        message_id,
    )


@router.post("/dead-letters/{message_id}/discard")
def discard_letter(
    request: Request,
    session: Session,
    message_id: int,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    database = database_of(request)
    return _on_letter(
        session, csrf_token, lambda: discard(database, message_id), "discarded", message_id
    )


@router.get("/webhooks")
def webhooks_page(request: Request, session: Session) -> Response:
    """The endpoints retailers manage through the API, and whether their receivers keep up."""
    database = database_of(request)
    now = datetime.now(UTC)
    return page(
        request,
        "webhooks.html",
        session=session,
        now=now,
        endpoints=webhook_endpoint_overview(database, now=now),
        names=party_names(database),
    )
