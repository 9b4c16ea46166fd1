"""The operator console: server-rendered pages under /console, closed to all but operators.

``install_console(app)`` adds the pages to the hub's application (``hub serve``), outside
the retailer API's OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from hub.console.pages import CsrfRefused, router
from hub.console.render import page
from hub.console.session import LoginRequired, WrongCredential
from hub.console.throttle import LoginThrottle


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
    """Mount the console on ``app`` (which has ``state.database``)."""
    app.include_router(router)
    app.state.login_throttle = LoginThrottle()
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(WrongCredential, _wrong_credential)
    app.add_exception_handler(CsrfRefused, _csrf_refused)


__all__ = ["install_console"]
