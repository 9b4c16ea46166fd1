"""The console's routes: server-rendered pages over the hub's operator services.

Reading pages only call services (network status, case state, dead letters, service
levels); the few buttons post a form with a CSRF token and redirect back with a notice,
so that a reload never repeats an action.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from hub.api.operator_auth import (
    SESSION_COOKIE,
    OperatorThrottled,
    check_operator_credential,
    operator_token,
)
from hub.console.render import CSS, SECURITY_HEADERS, duration, page
from hub.console.session import (
    CONSOLE_PATH,
    CSRF_FIELD,
    ConsoleSession,
    SessionPolicy,
    end_session,
    operator_session,
    safe_next,
    start_session,
)
from hub.errors import ConflictError, NotFoundError
from hub.model.parties import PartyRole
from hub.model.statuses import CaseStatus
from hub.operators.listings import (
    recent_rejects,
    recent_runs,
    replay_run_ids,
    require_known,
    unmapped_codes,
)
from hub.operators.status import ConnectorState, NetworkStatus, network_status
from hub.partners.alerts import pause_connector, resume_connector
from hub.partners.connectors import Network
from hub.sla.compute import CaseServiceLevels
from hub.sla.store import breaches, case_service_levels
from hub.store.case_search import find_cases
from hub.store.cases import case_state, count_cases_by_status, require_case
from hub.store.db import Database
from hub.store.parties import list_parties
from hub.sync.outbox import dead_letters, discard, replay

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)

Session = Annotated[ConsoleSession, Depends(operator_session)]


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def network_of(request: Request) -> Network | None:
    network: Network | None = request.app.state.network
    return network


def known_status(name: str) -> CaseStatus | None:
    """A stored status as the model knows it (None for a case with no status yet)."""
    try:
        return CaseStatus(name)
    except ValueError:
        return None


def party_names(database: Database) -> dict[str, str]:
    with database.transaction() as connection:
        return {party.id: party.name for party in list_parties(connection)}


SEVERITY = {
    ConnectorState.FAILING: 0,
    ConnectorState.BACKING_OFF: 1,
    ConnectorState.PAUSED: 2,
    ConnectorState.NOT_CONFIGURED: 3,
    ConnectorState.NEVER_RUN: 4,
    ConnectorState.OK: 5,
    ConnectorState.DISABLED: 6,
}
"""The health table lists what needs a look first; connectors.yaml order within a state."""


class CsrfRefused(Exception):
    """A state-changing form without a valid CSRF token of this session."""


def check_csrf(session: ConsoleSession, token: str | None) -> None:
    if not session.csrf_valid(token):
        raise CsrfRefused


def back(path: str, **notice: str | int) -> RedirectResponse:
    """Post/redirect/get: the page after an action says what happened."""
    query = f"?{urlencode(notice)}" if notice else ""
    return RedirectResponse(f"{CONSOLE_PATH}{path}{query}", status_code=303)


# --- login -----------------------------------------------------------------------------


@router.get("/static/console.css")
def stylesheet() -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return page(
        request,
        "login.html",
        session=None,
        next=safe_next(next),
        error=None,
        closed=operator_token() is None,
    )


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = CONSOLE_PATH,
) -> Response:
    """The operator token for a new session; anything else (a retailer key) is refused.

    An address that failed too often lately (here or with a bearer header) waits (429)
    before it may try again.
    """
    configured = operator_token()
    try:
        accepted = check_operator_credential(request, token)
    except OperatorThrottled as held:
        refused = page(
            request,
            "login.html",
            session=None,
            status_code=429,
            next=safe_next(next),
            error="Too many failed logins from your address: "
            f"try again in {duration(held.retry_after)}.",
            closed=configured is None,
        )
        refused.headers["Retry-After"] = str(held.retry_after)
        return refused
    if configured is None or not accepted:
        return page(
            request,
            "login.html",
            session=None,
            status_code=401,
            next=safe_next(next),
            error="That is not the operator credential.",
            closed=configured is None,
        )
    policy: SessionPolicy = request.app.state.console_session_policy
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        start_session(request, configured),
        max_age=int(policy.lifetime.total_seconds()),
        path=CONSOLE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(
    request: Request, session: Session, csrf_token: Annotated[str | None, Form()] = None
) -> Response:
    """Revokes the session server-side: its cookie, replayed, opens nothing any more."""
    check_csrf(session, csrf_token)
    end_session(request, session)
    response = RedirectResponse(f"{CONSOLE_PATH}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=CONSOLE_PATH, httponly=True, samesite="strict")
    return response


# --- network health -------------------------------------------------------------------


@router.get("")
def health(request: Request, session: Session) -> Response:
    """Every connector with its state, the outbox, and the cases by status, at a glance."""
    database = database_of(request)
    network = network_of(request)
    now = datetime.now(UTC)
    status: NetworkStatus | None = None
    if network is not None:
        status = network_status(database, network, now=now)
    with database.transaction() as connection:
        by_status = count_cases_by_status(connection)
    connectors = (
        []
        if status is None
        else sorted(status.connectors, key=lambda connector: SEVERITY[connector.state])
    )
    states = {state: 0 for state in ConnectorState}
    for connector in connectors:
        states[connector.state] += 1
    cases = sorted(
        ((known_status(name), name, count) for name, count in by_status.items()),
        key=lambda entry: (entry[0] is None, entry[0].rank if entry[0] else 0),
    )
    return page(
        request,
        "health.html",
        session=session,
        now=now,
        status=status,
        ConnectorState=ConnectorState,
        connectors=connectors,
        states=states,
        cases=cases,
        open_cases=sum(count for status_, _, count in cases if not (status_ and status_.is_final)),
        unmapped=len(unmapped_codes(database)),
        names=party_names(database),
    )


@router.get("/connectors/{name}")
def connector_page(
    request: Request,
    session: Session,
    name: str,
    done: str | None = None,
    error: str | None = None,
) -> Response:
    database = database_of(request)
    network = network_of(request)
    now = datetime.now(UTC)
    status = None
    if network is not None:
        try:
            require_known(network.config, name)
        except NotFoundError as unknown:
            return page(
                request, "missing.html", session=session, status_code=404, what=unknown.message
            )
        status = network_status(database, network, now=now).connector(name)
    runs = recent_runs(database, name, limit=30)
    return page(
        request,
        "connector.html",
        session=session,
        now=now,
        name=name,
        status=status,
        runs=runs,
        replays=replay_run_ids(database, [run.id for run in runs]),
        rejects=recent_rejects(database, name, limit=100),
        names=party_names(database),
        done=done,
        error=error,
    )


@router.post("/connectors/{name}/pause")
def pause(
    request: Request,
    session: Session,
    name: str,
    csrf_token: Annotated[str | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(session, csrf_token)
    known(request, name)
    pause_connector(database_of(request), name, reason=reason, by="console")
    return back(f"/connectors/{quote(name)}", done="paused")


@router.post("/connectors/{name}/resume")
def resume(
    request: Request,
    session: Session,
    name: str,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(session, csrf_token)
    known(request, name)
    try:
        resume_connector(database_of(request), name)
    except ConflictError as refused:
        return back(f"/connectors/{quote(name)}", error=refused.message)
    return back(f"/connectors/{quote(name)}", done="resumed")


def known(request: Request, name: str) -> None:
    """Only connectors of connectors.yaml are paused or resumed (raises NotFoundError)."""
    network = network_of(request)
    if network is None:
        raise NotFoundError("no network is loaded: connectors cannot be paused or resumed")
    require_known(network.config, name)


# --- unmapped codes --------------------------------------------------------------------


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


# --- service levels -------------------------------------------------------------------


@router.get("/breaches")
def breaches_page(request: Request, session: Session, retailer: str = "") -> Response:
    """Steps of open cases past their deadline, the earliest deadline first."""
    database = database_of(request)
    network = network_of(request)
    now = datetime.now(UTC)
    names = party_names(database)
    found = None
    retailers: list[str] = []
    if network is not None:
        found = breaches(database, network, now=now, retailer=retailer or None)
        parties = network.config.parties
        retailers = [party.id for party in parties if party.role is PartyRole.RETAILER]
    return page(
        request,
        "breaches.html",
        session=session,
        now=now,
        breaches=found,
        retailer=retailer,
        retailers=retailers,
        names=names,
    )


# --- cases -----------------------------------------------------------------------------


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
        try:
            record = require_case(connection, reference)
        except NotFoundError:
            return page(
                request, "cases.html", session=session, status_code=404, q=reference, hits=[]
            )
        state = case_state(connection, reference)
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
    )


# --- dead letters ----------------------------------------------------------------------


@router.get("/dead-letters")
def dead_letters_page(
    request: Request,
    session: Session,
    done: str | None = None,
    id: int | None = None,
    error: str | None = None,
) -> Response:
    letters = dead_letters(database_of(request))
    return page(
        request,
        "dead_letters.html",
        session=session,
        letters=letters,
        done=done,
        done_id=id,
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


__all__ = ["CSRF_FIELD", "SECURITY_HEADERS", "CsrfRefused", "count_cases_by_status", "router"]
