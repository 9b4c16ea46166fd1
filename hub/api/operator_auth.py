"""Who may operate the hub: the holder of the operator credential, and nobody else.

The credential is a token read from the environment (``HUB_OPERATOR_TOKEN``), never from
``connectors.yaml``. Scripts and Prometheus send it as ``Authorization: Bearer <token>``;
the console's login form exchanges it for a session cookie that carries an HMAC of the
token, never the token itself. A retailer's API key is a different secret and opens
nothing here. With no token configured every operator route is closed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.errors import HubError, NextAction

TOKEN_ENV = "HUB_OPERATOR_TOKEN"  # noqa: S105 (a variable name, not a secret)
"""The environment variable that holds the operator credential."""
SESSION_COOKIE = "hub_operator"

operator_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="OperatorToken",
    description=f"The operator credential (the value of ${TOKEN_ENV}).",
)


class OperatorCredentialRequired(HubError):
    """The request carries no valid operator credential (or none is configured)."""

    action = NextAction.FIX_CONFIGURATION


def operator_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The configured credential; None (everything closed) when unset or blank."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    return value or None


def session_value(token: str) -> str:
    """What the console's cookie holds: derived from the token, useless to replay elsewhere."""
    return hmac.new(token.encode(), b"hub operator console session", hashlib.sha256).hexdigest()


def is_operator_token(candidate: str, *, token: str | None = None) -> bool:
    """Constant-time check of a presented token against the configured one."""
    expected = token if token is not None else operator_token()
    return expected is not None and hmac.compare_digest(candidate.encode(), expected.encode())


def is_operator_request(request: Request, bearer: str | None) -> bool:
    """A bearer token or a console session cookie that matches the credential."""
    token = operator_token()
    if token is None:
        return False
    if bearer is not None and is_operator_token(bearer, token=token):
        return True
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie is not None and hmac.compare_digest(cookie, session_value(token))


def require_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(operator_bearer)],
) -> None:
    """FastAPI dependency for every operator route: refuse anything but the credential."""
    if not is_operator_request(request, None if credentials is None else credentials.credentials):
        raise OperatorCredentialRequired("an operator credential is required")


OperatorOnly = Depends(require_operator)
"""``dependencies=[OperatorOnly]`` on a router or route closes it to all but operators."""
