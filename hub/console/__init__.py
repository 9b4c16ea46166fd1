"""The operator console: server-rendered pages under /console, closed to all but operators.

``install_console(app)`` adds the pages to the hub's application (``hub serve``), outside
the retailer API's OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from hub.console.pages import router
from hub.console.pages.shared import CsrfRefused
from hub.console.render import duration, page
from hub.console.session import LoginRequired, SessionPolicy, TooManyFailures, WrongCredential


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.location, status_code=303)


async def _wrong_credential(request: Request, exc: Exception) -> Response:
    return page(
        request,
        "refused.html",
        session=None,
        status_code=403,
        title="Not an operator credential",
        reason="The console opens only with the operator credential. "
        "A retailer's API key is a different secret and never opens it.",
    )


async def _too_many_failures(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyFailures)
    refused = page(
        request,
        "refused.html",
        session=None,
        status_code=429,
        title="Too many wrong credentials",
        reason="Too many wrong operator credentials came from your address: "
        f"try again in {duration(exc.retry_after)}.",
    )
    refused.headers["Retry-After"] = str(exc.retry_after)
    return refused


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return page(
        request,
        "refused.html",
        session=None,
        status_code=403,
        title="Form refused",
        reason="This form did not come from the console page of your session "
        "(its CSRF token is missing, wrong or expired). Reload the page and try again.",
    )


def install_console(app: FastAPI) -> None:
    """Mount the console on ``app`` (which has ``state.database`` and the operator throttle
    of hub.api.operator_auth.install_operator_auth)."""
    app.include_router(router)
    app.state.console_session_policy = SessionPolicy.from_environment()
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(WrongCredential, _wrong_credential)
    app.add_exception_handler(TooManyFailures, _too_many_failures)
    app.add_exception_handler(CsrfRefused, _csrf_refused)


__all__ = ["install_console"]
