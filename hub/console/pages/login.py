"""The console's login and logout, and its stylesheet: the pages open without a session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from hub.api.operator_auth import (
    SESSION_COOKIE,
    OperatorThrottled,
    check_operator_credential,
    operator_token,
)
from hub.console.pages.shared import Session, check_csrf
from hub.console.render import CSS, duration, page
from hub.console.session import (
    CONSOLE_PATH,
    SessionPolicy,
    end_session,
    safe_next,
    start_session,
)

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)


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
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """The operator token for a new session; anything else (a retailer key) is refused.

    An address that failed too often lately (here or with a bearer header) waits (429)
    before it may try again. The page asked for (the form's ``next``, else the address's)
    is kept through every failure, so the login that succeeds still leads to it.
    """
    next = next or request.query_params.get("next")
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
