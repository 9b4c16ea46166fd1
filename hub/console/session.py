"""Who is looking at the console, and proof that a form was posted from it.

The console opens only to the operator credential: a session the login form opened, or
the token itself as a bearer for scripts. A session is a random id (``secrets``) in an
HttpOnly, SameSite=Strict cookie; the database keeps only its hash (hub.store
.console_sessions), so every hub process agrees on it, logging out revokes it everywhere,
and it ends when unused for the idle lifetime, at its absolute lifetime, or when the
operator credential changes. A session opens the console only, never ``/metrics``.

A request that carries some other credential (a retailer's API key) is refused outright
rather than sent to the login page, so nobody mistakes one secret for the other; a wrong
bearer counts against the address like a wrong login (hub.api.operator_auth). Every form
that changes something carries a CSRF token bound to the session (a MAC keyed by its
secret id) and to the hour it was issued.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

from fastapi import Request
from itsdangerous import BadSignature, TimestampSigner

from hub.api.operator_auth import (
    SESSION_COOKIE,
    OperatorThrottled,
    check_operator_credential,
    credential_fingerprint,
    operator_token,
)
from hub.config.network import console_session_lifetimes
from hub.store.console_sessions import (
    close_console_session,
    find_console_session,
    open_console_session,
)
from hub.store.db import Database

CONSOLE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_LIFETIME = timedelta(hours=12)
"""A console left open overnight asks for a reload, not a new login."""
SESSION_ID_BYTES = 32


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live (HUB_CONSOLE_SESSION_IDLE, HUB_CONSOLE_SESSION_MAX)."""

    idle: timedelta
    lifetime: timedelta

    @classmethod
    def from_environment(cls) -> SessionPolicy:
        idle, lifetime = console_session_lifetimes()
        return cls(idle=idle, lifetime=lifetime)


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


class TooManyFailures(Exception):
    """A bearer from an address that must wait (hub.api.operator_auth's throttle)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class ConsoleSession:
    """An operator's session: ``value`` keys its CSRF tokens (the secret session id, or a
    key derived from the token for a bearer); ``cookie`` says it came from a login."""

    value: str
    cookie: bool = False

    def csrf_token(self, *, now: datetime | None = None) -> str:
        """A token for this session's forms, stamped with when it was issued."""
        return _CsrfSigner(self.value, now).sign(CSRF_PURPOSE).decode("ascii")

    def csrf_valid(self, candidate: str | None, *, now: datetime | None = None) -> bool:
        """The token was issued to this session within CSRF_LIFETIME."""
        if not candidate:
            return False
        signer = _CsrfSigner(self.value, now)
        try:
            purpose = signer.unsign(candidate, max_age=int(CSRF_LIFETIME.total_seconds()))
        except BadSignature:  # forged, another session's, or expired (SignatureExpired)
            return False
        return purpose == CSRF_PURPOSE


CSRF_PURPOSE = b"hub console form"


class _CsrfSigner(TimestampSigner):
    """itsdangerous' timestamped signature keyed by the session's secret id; ``now``
    stands in for the clock in tests and pages rendered for a given instant."""

    def __init__(self, secret: str, now: datetime | None) -> None:
        super().__init__(secret, salt="hub console csrf")
        self._now = now

    def get_timestamp(self) -> int:
        return int((self._now or datetime.now(UTC)).timestamp())


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else ""


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _policy(request: Request) -> SessionPolicy:
    policy: SessionPolicy = request.app.state.console_session_policy  # install_console
    return policy


def start_session(request: Request, token: str) -> str:
    """A new session for the holder of ``token``; the id goes in the cookie, only its hash
    in the database."""
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    policy = _policy(request)
    with _database(request).transaction() as connection:
        open_console_session(
            connection,
            _id_hash(session_id),
            credential=credential_fingerprint(token),
            now=datetime.now(UTC),
            lifetime=policy.lifetime,
            idle=policy.idle,
        )
    return session_id


def end_session(request: Request, session: ConsoleSession) -> None:
    """Logging out: the id is revoked server-side, on every process."""
    if session.cookie:
        with _database(request).transaction() as connection:
            close_console_session(connection, _id_hash(session.value))


def _cookie_session(request: Request, token: str) -> ConsoleSession | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or len(cookie) > 128:
        return None
    with _database(request).transaction() as connection:
        stored = find_console_session(
            connection,
            _id_hash(cookie),
            credential=credential_fingerprint(token),
            now=datetime.now(UTC),
            idle=_policy(request).idle,
        )
    return None if stored is None else ConsoleSession(cookie, cookie=True)


def operator_session(request: Request) -> ConsoleSession:
    """FastAPI dependency for every console page but the login page."""
    token = operator_token()
    bearer = _bearer(request)
    if bearer is not None:
        try:
            accepted = check_operator_credential(request, bearer)
        except OperatorThrottled as held:
            raise TooManyFailures(held.retry_after) from None
        if token is not None and accepted:
            return ConsoleSession(_bearer_key(token))
        raise WrongCredential
    session = None if token is None else _cookie_session(request, token)
    if session is not None:
        return session
    raise LoginRequired(_page_asked_for(request))


def _page_asked_for(request: Request) -> str:
    """Where the login should lead back to: the page itself, or for a form posted once
    the session had ended, the page the form was on (its action answers POST only)."""
    if request.method in ("GET", "HEAD"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = not referer.netloc or referer.netloc == request.url.netloc
    if same_site and referer.path.startswith(CONSOLE_PATH):
        return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
    return CONSOLE_PATH


def _bearer_key(token: str) -> str:
    """A bearer has no session id: its forms' CSRF tokens are keyed by the token instead."""
    return hmac.new(token.encode(), b"hub console bearer csrf", hashlib.sha256).hexdigest()


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
