"""Who may operate the hub: the holder of the operator credential, and nobody else.

The credential is a token read from the environment (``HUB_OPERATOR_TOKEN``), never from
``connectors.yaml``. Scripts and Prometheus send it as ``Authorization: Bearer <token>``;
the console's login form exchanges it for a session (hub.console.session) that opens the
console only, never ``/metrics``. A retailer's API key is a different secret and opens
nothing here. With no token configured every operator route is closed.

Every presentation of the token, in the login form or in the header, goes through
``check_operator_credential``: one throttle (hub.api.throttle), one policy.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.throttle import LoginThrottle
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


class OperatorThrottled(HubError):
    """This address presented too many wrong operator credentials lately: it must wait."""

    action = NextAction.RETRY

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many wrong operator credentials from this address: retry in {retry_after} seconds"
        )
        self.retry_after = retry_after


def operator_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The configured credential; None (everything closed) when unset or blank."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    return value or None


def credential_fingerprint(token: str) -> str:
    """Names a credential without revealing it: what a session is bound to, so that a new
    credential ends the sessions opened with the old one."""
    return hmac.new(token.encode(), b"hub operator credential", hashlib.sha256).hexdigest()


def is_operator_token(candidate: str, *, token: str | None = None) -> bool:
    """Constant-time check of a presented token against the configured one."""
    expected = token if token is not None else operator_token()
    return expected is not None and hmac.compare_digest(candidate.encode(), expected.encode())


def install_operator_auth(app: FastAPI) -> None:
    """The one throttle every operator route and the login form share."""
    app.state.operator_throttle = LoginThrottle()


def client_address(request: Request) -> str:
    """The address the throttle counts (hub.api.proxies has already read any trusted proxy)."""
    return request.client.host if request.client is not None else "unknown"


def check_operator_credential(request: Request, candidate: str) -> bool:
    """Is ``candidate`` the operator token? Raises OperatorThrottled when its address must
    wait (even with the right token); a wrong one counts against the address, a right one
    clears it."""
    throttle: LoginThrottle = request.app.state.operator_throttle  # install_operator_auth
    address = client_address(request)
    wait = throttle.retry_after(address)
    if wait is not None:
        raise OperatorThrottled(wait)
    if is_operator_token(candidate.strip()):
        throttle.succeeded(address)
        return True
    throttle.failed(address)
    return False


def require_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(operator_bearer)],
) -> None:
    """FastAPI dependency for operator routes outside the console (``/metrics``): the token
    as a bearer and nothing else; a console session cookie is never enough here."""
    if credentials is None or not check_operator_credential(request, credentials.credentials):
        raise OperatorCredentialRequired("an operator credential is required")


OperatorOnly = Depends(require_operator)
"""``dependencies=[OperatorOnly]`` on a router or route closes it to all but operators."""
