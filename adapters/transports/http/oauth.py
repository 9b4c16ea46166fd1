"""OAuth 2.0 client credentials (RFC 6749 §4.4) for the HTTP transports.

Authlib asks the token endpoint; this module decides when. A token is reused until it
expires (a token request per call would hit the partner's limits), and a 401 on a call
means it was revoked early: one new token, then the call once more. A second 401 is the
partner's refusal, for the client to report.

A transport is built anew for every run, so its tokens are kept by the process
(:data:`PROCESS_TOKENS`), keyed by who asks where: a connector polled every minute asks
for a token once per token lifetime, as partners' sheets require, not once per run.
"""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from collections.abc import Generator
from dataclasses import dataclass, field

import httpx
from authlib.integrations.base_client.errors import OAuthError

with warnings.catch_warnings():
    # Recent Authlib announces that its httpx integration will move to the httpx2
    # package; the integration works with the httpx the hub uses, so say it once here
    # rather than in every run's log.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

from adapters.transports.http.errors import PartnerRefusedCredentials, RetryableFailure
from adapters.transports.http.pacing import Clock

__all__ = ["PROCESS_TOKENS", "ClientCredentials", "ClientCredentialsAuth", "TokenCache"]

# Renew this long before the announced expiry, so a token does not lapse in flight; a
# short-lived token keeps at least half of its life.
_EARLY_RENEWAL = 30.0


@dataclass(frozen=True)
class ClientCredentials:
    """Where tokens come from and who we are; the secret is kept out of ``repr``."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    timeout: float = 30.0

    @property
    def where(self) -> str:
        """Where an operator fixes the client's identity: variables, never values."""
        names = [f"${env}" for env in (self.client_id_env, self.client_secret_env) if env]
        return " and ".join(names) or "the configured client id and secret"


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float


class TokenCache:
    """Tokens outliving the transports that asked for them, one per client and endpoint.

    The key holds a digest of the client secret, never the secret: a rotated secret asks
    for a new token instead of reusing one issued to the old.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], _Token] = {}

    @staticmethod
    def key(credentials: ClientCredentials) -> tuple[str, ...]:
        secret = hashlib.sha256(credentials.client_secret.encode()).hexdigest()
        return (credentials.token_url, credentials.client_id, credentials.scope or "", secret)

    def get(self, key: tuple[str, ...]) -> _Token | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: tuple[str, ...], token: _Token) -> None:
        with self._lock:
            self._tokens[key] = token


PROCESS_TOKENS = TokenCache()
"""The tokens of this process's transports (see the module's docstring)."""


class ClientCredentialsAuth(httpx.Auth):
    """Adds ``Authorization: Bearer`` with a cached token; renews once on a 401.

    Shared by the calls of one transport (and its threads): one token request at a time,
    and a renewal already made by another call is reused rather than repeated.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        clock: Clock = time.time,
        tokens: TokenCache = PROCESS_TOKENS,
    ) -> None:
        self.credentials = credentials
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = tokens
        self._key = tokens.key(credentials)
        kept = tokens.get(self._key)
        self._token: str | None = None if kept is None else kept.value
        self._renew_at = 0.0 if kept is None else kept.renew_at
        self.token_requests = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        request.headers["Authorization"] = f"Bearer {self._renew(token)}"
        yield request

    def secrets(self) -> tuple[str, ...]:
        """Values never to show in an error (the current token, the client secret)."""
        return tuple(s for s in (self._token, self.credentials.client_secret) if s)

    def _current(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def _renew(self, refused: str) -> str:
        with self._lock:
            if self._token == refused:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        """One token request (called with the lock held)."""
        creds = self.credentials
        self.token_requests += 1
        extra = {} if creds.scope is None else {"scope": creds.scope}
        try:
            with OAuth2Client(
                creds.client_id,
                creds.client_secret,
                token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
                timeout=creds.timeout,
                follow_redirects=False,
            ) as client:
                token = client.fetch_token(
                    creds.token_url, grant_type="client_credentials", **extra
                )
        except OAuthError as exc:
            raise PartnerRefusedCredentials(
                f"the token endpoint {creds.token_url} refused our client credentials "
                f"({exc.error}): check {creds.where}",
                status=401,
                variables=tuple(e for e in (creds.client_id_env, creds.client_secret_env) if e),
            ) from None
        except httpx.HTTPStatusError as exc:
            raise RetryableFailure(
                f"the token endpoint answered {exc.response.status_code}",
                status=exc.response.status_code,
                retry_after=None,
            ) from None
        except ValueError as exc:  # not JSON, or no access_token in it
            raise RetryableFailure(
                f"the token endpoint's answer is not a token ({type(exc).__name__})",
                status=None,
                retry_after=None,
            ) from None
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise RetryableFailure(
                "the token endpoint's answer holds no access_token", status=None, retry_after=None
            )
        lifetime = float(token.get("expires_in") or 3600)
        self._token = access
        self._renew_at = self._clock() + lifetime - min(_EARLY_RENEWAL, lifetime / 2)
        self._tokens.put(self._key, _Token(access, self._renew_at))
