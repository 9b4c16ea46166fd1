"""Who is looking at the console, and proof that a form was posted from it.

The console opens only to the operator credential: the session cookie the login form
gives (an HMAC of the token, see hub.api.operator_auth), or the token itself as a bearer
for scripts. A request that carries some other credential (a retailer's API key) is
refused outright rather than sent to the login page, so nobody mistakes one secret for
the other. Every form that changes something carries a CSRF token bound to the session
and to the hour it was issued; the cookie is also SameSite=Strict, so a foreign site can
neither read the token nor make the browser send the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from fastapi import Request

from hub.api.operator_auth import (
    SESSION_COOKIE,
    is_operator_token,
    operator_token,
    session_value,
)

CONSOLE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_LIFETIME = timedelta(hours=12)
"""A console left open overnight asks for a reload, not a new login."""
SESSION_LIFETIME = timedelta(hours=12)


class LoginRequired(Exception):
    """No operator credential on a console request: the browser goes to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path

    @property
    def location(self) -> str:
        return f"{CONSOLE_PATH}/login?next={quote(self.next_path, safe='/')}"


class WrongCredential(Exception):
    """A credential that is not the operator's (a retailer key): refused, never redirected."""


@dataclass(frozen=True)
class ConsoleSession:
    """An operator's session: the cookie value everything else is bound to."""

    value: str

    def csrf_token(self, *, now: datetime | None = None) -> str:
        issued = str(int((now or datetime.now(UTC)).timestamp()))
        return f"{issued}.{self._mac(issued)}"

    def csrf_valid(self, candidate: str | None, *, now: datetime | None = None) -> bool:
        """The token was issued to this session within CSRF_LIFETIME."""
        if not candidate or "." not in candidate:
            return False
        issued, mac = candidate.split(".", 1)
        if not issued.isdigit() or not hmac.compare_digest(mac, self._mac(issued)):
            return False
        age = (now or datetime.now(UTC)) - datetime.fromtimestamp(int(issued), UTC)
        return timedelta(0) <= age + timedelta(minutes=1) and age <= CSRF_LIFETIME

    def _mac(self, issued: str) -> str:
        message = f"hub console csrf:{issued}".encode()
        return hmac.new(self.value.encode(), message, hashlib.sha256).hexdigest()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else ""


def operator_session(request: Request) -> ConsoleSession:
    """FastAPI dependency for every console page but the login page."""
    token = operator_token()
    bearer = _bearer(request)
    if bearer is not None:
        if token is not None and is_operator_token(bearer, token=token):
            return ConsoleSession(session_value(token))
        raise WrongCredential
    cookie = request.cookies.get(SESSION_COOKIE)
    if token is not None and cookie is not None:
        expected = session_value(token)
        if hmac.compare_digest(cookie, expected):
            return ConsoleSession(expected)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(target)


def safe_next(candidate: str | None) -> str:
    """Where to go after login: a console path only, never another site."""
    if (
        candidate
        and candidate.startswith(CONSOLE_PATH)
        and not candidate.startswith("//")
        and "\\" not in candidate
        and not candidate.startswith(f"{CONSOLE_PATH}/login")
    ):
        return candidate
    return CONSOLE_PATH
