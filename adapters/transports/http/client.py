"""One request to a partner's API, paced, retried while retrying can help, and turned
into the hub's error types when it cannot: what reading and delivering share.

The subclasses (:mod:`.pull`, :mod:`.post`) differ only in which answers count as done
and what a refusal means. Backoff between attempts is :meth:`RetryingClient._wait`.
"""

from __future__ import annotations

import logging
import random
import re
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import httpx
import tenacity

from adapters.transports.http.errors import (
    PartnerRefusedCredentials,
    PartnerUnavailable,
    ResponseTooLarge,
    RetryableFailure,
    RetryLater,
    UnexpectedResponse,
)
from adapters.transports.http.oauth import ClientCredentialsAuth
from adapters.transports.http.pacing import ClientRateLimiter, Clock, Sleep, parse_retry_after
from adapters.transports.http.settings import HttpClientSettings
from hub.backoff import Backoff
from hub.errors import ConfigurationError
from hub.ports import Closing

__all__ = ["USER_AGENT", "Fetched", "Request", "RetryingClient"]

logger = logging.getLogger(__name__)

USER_AGENT = "aftersales-hub (http-pull)"

_WHITESPACE = re.compile(r"\s+")
# 501 and 505 say the partner will never handle this request: retrying cannot help.
_PERMANENT_5XX = frozenset({501, 505})
_RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass
class Request:
    """One logical request, across its attempts."""

    method: str
    url: str
    ref_name: str
    params: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    item_key: str | None = None
    cursor: str | None = None
    attempts: int = 0
    last_retry_after: float | None = None

    @property
    def shown(self) -> str:
        """The URL as messages show it: query included (cursors are no secret)."""
        if not self.params:
            return self.url
        return str(httpx.URL(self.url, params=self.params))

    @property
    def where(self) -> str:
        """``GET https://…``: how messages and logs name the request."""
        return f"{self.method} {self.shown}"


@dataclass(frozen=True)
class Fetched:
    """A response the subclass accepts, read whole (within ``max_response_bytes``)."""

    status: int
    address: httpx.URL
    headers: httpx.Headers
    content: bytes

    @property
    def url(self) -> str:
        """The URL that answered, as text: written only when asked, since a delivery's
        receipt never asks (issue 17)."""
        return str(self.address)


_SettingsT = TypeVar("_SettingsT", bound=HttpClientSettings)


class RetryingClient(Closing, Generic[_SettingsT]):
    """One request to a partner, paced, retried while retrying can help, and turned into
    the hub's error types when it cannot. Subclasses say which statuses are done and what
    a final refusal means for them.

    ``sleep`` serves every wait between attempts (Retry-After and backoff) and, unless a
    ``rate_limiter`` is given, the pacing too; ``clock`` paces, ``wall_clock`` reads
    Retry-After dates, ``jitter`` draws in [0, 1). Tests inject all four to run through
    rate limits and maintenance windows without sleeping. A ``client`` passed in stays
    the caller's to close.
    """

    user_agent = USER_AGENT

    def __init__(
        self,
        settings: _SettingsT,
        *,
        client: httpx.Client | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        rate_limiter: ClientRateLimiter | None = None,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self._owns_client = client is None
        self._client = client if client is not None else self._own_client()
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._limiter = rate_limiter or ClientRateLimiter(
            settings.requests_per_second, clock=clock, sleep=sleep
        )
        # Not for secrets: jitter only spreads retries so that clients do not retry in step.
        self._jitter = jitter or random.Random().random  # noqa: S311
        self._timeout = httpx.Timeout(settings.timeout)
        self._headers = {"User-Agent": self.user_agent}
        for credential in settings.credentials:
            self._headers[credential.header] = credential.value
        self._secrets = tuple(c.secret for c in settings.credentials)
        self._auth = (
            None
            if settings.oauth is None
            else ClientCredentialsAuth(settings.oauth, clock=wall_clock)
        )

    def _own_client(self) -> httpx.Client:
        """The client this transport opens (and closes) when none is given: redirects
        are answers to judge, never followed."""
        return httpx.Client(follow_redirects=False)

    def _credential_sources(self) -> str:
        return ", ".join(f"{c.header} from {c.where}" for c in self.settings.credentials)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (only if this transport opened it)."""
        if self._owns_client:
            self._client.close()

    # -- what subclasses decide ----------------------------------------------------------

    def _accepts(self, status: int) -> bool:
        """Whether this status is a result to hand back rather than a refusal."""
        return 200 <= status < 300

    def _final_refusal(
        self, request: Request, status: int, said: str, excerpt: str
    ) -> Exception | None:
        """The error for a status retrying cannot change, or None for the common rules."""
        del request, status, said, excerpt
        return None

    def _reads_whole(self, status: int) -> bool:
        """Whether an answer with this status is read whole (bounded), not just enough of
        it for an error's excerpt: every accepted one, and any a fault rule looks at."""
        return self._accepts(status)

    def _fault(self, request: Request, status: int, content: bytes) -> Exception | None:
        """A fault the partner says in the body, as the error to act on, or None."""
        del request, status, content
        return None

    # -- one request, with retries -------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")

    def _exchange(self, request: Request) -> Fetched:
        """The one attempt nearly every request makes, outside tenacity (whose machinery
        cost a webhook delivery 70-90 us of CPU, about as much as signing it: issue 17);
        when it fails in a way retrying can help (``RetryableFailure``), tenacity takes
        over from there."""
        try:
            return self._attempt(request)
        except RetryableFailure as failure:
            return self._retried(request, failure)

    def _retried(self, request: Request, first: RetryableFailure) -> Fetched:
        """Attempts until one is accepted or refused for good, or ``max_attempts`` have
        failed, the first one's failure counted as tenacity's first attempt, the waits
        between them by :meth:`_wait`."""
        failures = [first]

        def attempt(request: Request) -> Fetched:
            if failures:
                raise failures.pop()
            return self._attempt(request)

        retrying = tenacity.Retrying(
            sleep=self._sleep,
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(RetryableFailure),
            before_sleep=self._log_retry,
        )
        try:
            return retrying(attempt, request)
        except tenacity.RetryError as exhausted:
            failure = exhausted.last_attempt.exception()
            if not isinstance(failure, RetryableFailure):  # pragma: no cover - by construction
                raise
            raise self._unavailable(request, failure) from failure

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """The partner's Retry-After when it gave one, else the hub's one backoff policy
        (hub.backoff: doubling, capped, equal jitter)."""
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, RetryableFailure) and failure.retry_after is not None:
            return failure.retry_after
        settings = self.settings
        policy = Backoff(settings.backoff_initial, min(settings.backoff_max, settings.max_wait))
        return policy.wait(state.attempt_number, draw=self._jitter)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        request = state.args[0] if state.args else None
        logger.warning(
            "%s: %s (attempt %d of %d); retrying in %.1f s",
            request.where if isinstance(request, Request) else "?",
            failure.what if isinstance(failure, RetryableFailure) else failure,
            state.attempt_number,
            self.settings.max_attempts,
            delay,
        )

    def _attempt(self, request: Request) -> Fetched:
        self._limiter.wait()
        request.attempts += 1
        try:
            with self._open(request) as response:
                status = response.status_code
                if self._reads_whole(status):
                    content = self._read_all(response, request)
                    fault = self._fault(request, status, content)
                    if fault is not None:
                        raise fault
                    if self._accepts(status):
                        return Fetched(status, response.url, response.headers, content)
                else:
                    content = self._read_some(response)
                excerpt = self._excerpt(content, response)
        except httpx.TransportError as exc:
            raise self._wire_failure(request, exc) from exc
        except httpx.DecodingError as exc:
            raise UnexpectedResponse(
                f"{request.where}: the partner's response could not be decoded "
                f"({type(exc).__name__}: {exc})",
                status=None,
            ) from exc
        raise self._refusal(request, response, excerpt)

    def _open(self, request: Request) -> AbstractContextManager[httpx.Response]:
        """One attempt's response, streamed, closed on leaving: through the httpx client,
        with its auth flow (OAuth), cookie jar, proxies and request log line."""
        return self._client.stream(
            request.method,
            request.url,
            params=request.params,
            content=request.content,
            headers={**self._headers, **request.headers},
            timeout=self._timeout,
            auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
        )

    def _read_all(self, response: httpx.Response, request: Request) -> bytes:
        limit = self.settings.max_response_bytes
        # The values as ``headers.get`` joins them, without the ``KeyError`` it raises and
        # catches for a missing name, the common case (issue 17).
        declared = ", ".join(response.headers.get_list("content-length"))
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(
                f"{request.where}: the partner announces {declared} bytes, more than "
                f"max_response_bytes ({limit})"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in self._body(response):
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(
                    f"{request.where}: the response (decompressed) exceeds "
                    f"max_response_bytes ({limit}); refused"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _body(self, response: httpx.Response) -> Iterator[bytes]:
        """An answer's body as it comes off the connection, decoded (its
        ``Content-Encoding`` undone): what :meth:`_read_all` and :meth:`_read_some`
        bound and keep."""
        return response.iter_bytes()

    def _read_some(self, response: httpx.Response) -> bytes:
        """Enough of an error body for its excerpt, and no more: the rest is dropped."""
        wanted = self.settings.excerpt_chars * 4
        chunks: list[bytes] = []
        size = 0
        for chunk in self._body(response):
            chunks.append(chunk)
            size += len(chunk)
            if size >= wanted:
                break
        return b"".join(chunks)[:wanted]

    def _excerpt(self, content: bytes, response: httpx.Response) -> str:
        """The partner's error body on one line, bounded, with our secrets masked (a
        partner echoing a refused key back would otherwise put it in our logs)."""
        text = content.decode(response.charset_encoding or "utf-8", errors="replace")
        text = _WHITESPACE.sub(" ", text).strip()
        oauth_secrets = self._auth.secrets() if self._auth is not None else ()
        for secret in self._secrets + oauth_secrets:
            text = text.replace(secret, "***")
        limit = self.settings.excerpt_chars
        return text if len(text) <= limit else text[: limit - 1] + "…"

    # -- what a failure means ------------------------------------------------------------

    def _wire_failure(self, request: Request, exc: httpx.TransportError) -> Exception:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigurationError(f"{request.where}: {what}; check base_url")
        if isinstance(exc, httpx.LocalProtocolError):
            # Our own request was malformed; its text may quote a header, so it stays out.
            return ConfigurationError(
                f"{request.where}: the HTTP library refused to send our request "
                f"({type(exc).__name__}); check the configured headers"
            )
        if _certificate_refused(exc):
            return ConfigurationError(
                f"{request.where}: the partner's TLS certificate was refused ({exc}); "
                "retrying cannot help until the certificate or base_url is fixed"
            )
        return RetryableFailure(what, status=None, retry_after=None)

    def _refusal(self, request: Request, response: httpx.Response, excerpt: str) -> Exception:
        status = response.status_code
        said = f"{status} {response.reason_phrase}".strip()
        if status in _RETRYABLE_4XX or (500 <= status < 600 and status not in _PERMANENT_5XX):
            return self._retryable(request, response, said)
        partner_said = f"; the partner said: {excerpt}" if excerpt else ""
        if status in (401, 403):
            return self._refused_credentials(request, status, said, partner_said)
        final = self._final_refusal(request, status, said, excerpt)
        if final is not None:
            return final
        if 300 <= status < 400:
            location = response.headers.get("location", "no Location")
            return UnexpectedResponse(
                f"{request.where}: the partner redirects ({said}) to {location}; redirects "
                "are not followed so that credentials never leave for another host: update "
                "base_url",
                status=status,
            )
        return UnexpectedResponse(
            f"{request.where}: unexpected answer {said}{partner_said}", status=status
        )

    def _retryable(self, request: Request, response: httpx.Response, said: str) -> Exception:
        header = response.headers.get("retry-after")
        retry_after = parse_retry_after(header, now=self._wall_clock())
        if retry_after is not None:
            request.last_retry_after = retry_after
            if retry_after > self.settings.max_wait:
                return RetryLater(
                    f"{request.where}: {said} with Retry-After {retry_after:g} s, longer "
                    f"than max_wait ({self.settings.max_wait:g} s): come back later",
                    url=request.shown,
                    attempts=request.attempts,
                    status=response.status_code,
                    retry_after=retry_after,
                )
            said += f", Retry-After {retry_after:g} s"
        elif header is not None:
            said += f", unreadable Retry-After {header[:40]!r}"
        return RetryableFailure(said, status=response.status_code, retry_after=retry_after)

    def _refused_credentials(
        self, request: Request, status: int, said: str, partner_said: str
    ) -> PartnerRefusedCredentials:
        credentials = self.settings.credentials
        oauth = self.settings.oauth
        oauth_variables: tuple[str, ...] = ()
        if oauth is not None:
            oauth_variables = tuple(e for e in (oauth.client_id_env, oauth.client_secret_env) if e)
            advice = (
                f"a new token was refused too: check the client in {oauth.where} and its "
                "rights at the partner"
            )
        elif credentials:
            advice = "check " + " and ".join(f"the {c.kind} in {c.where}" for c in credentials)
        else:
            advice = "no credentials are configured: set header_env or bearer_token_env"
        return PartnerRefusedCredentials(
            f"the partner refused our credentials ({said}) for {request.where}: "
            f"{advice}{partner_said}",
            status=status,
            variables=tuple(c.env for c in credentials if c.env) + oauth_variables,
        )

    def _unavailable(self, request: Request, failure: RetryableFailure) -> PartnerUnavailable:
        last = (
            f", last Retry-After {request.last_retry_after:g} s"
            if request.last_retry_after is not None
            else ""
        )
        return PartnerUnavailable(
            f"{request.where} failed {request.attempts} time(s) (last: {failure.what}"
            f"{last}); the partner is unavailable, try again later",
            url=request.shown,
            attempts=request.attempts,
            status=failure.status,
            retry_after=request.last_retry_after,
        )


def _certificate_refused(exc: BaseException) -> bool:
    return any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
