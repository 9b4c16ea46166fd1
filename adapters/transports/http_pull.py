"""REST transports: a partner's API read page by page or object by object, and orders
delivered to it by POST.

Partner APIs are rate limited, go down for maintenance and sometimes just fail, so this
module paces its own requests, waits as long as the partner asks (within reason), and
retries passing faults with backoff; but it never retries what cannot get better (a wrong
key, a request the partner calls invalid), so a broken connector stops at its first
request instead of hammering the partner. Every outcome is one of the hub's error types,
so the engine decides mechanically what to do next.

Reading (:class:`HttpPullTransport`) and delivering (:class:`HttpPostTransport`) share
one retrying client; they differ only in which answers count as done and what a refusal
means.

Credentials travel in headers and nowhere else: not in a repr, a log line or an error
message, and the transport never follows a redirect, so they never reach another host.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar, overload
from urllib.parse import quote

import httpx
import tenacity

from hub.backoff import Backoff
from hub.config.connector_spec import HttpPostTransportSpec, HttpPullTransportSpec, parse_duration
from hub.config.secrets import MissingSecret
from hub.errors import (
    ConfigurationError,
    CursorExpired,
    FatalError,
    Location,
    PartnerDataError,
    TransientError,
)
from hub.ports import DeliveryReceipt, MessageRef, OutboundMessage, RawMessage

__all__ = [
    "ClientRateLimiter",
    "Credential",
    "DeliveryConflict",
    "DeliveryRejected",
    "EndpointNotFound",
    "HeaderConflict",
    "HttpPostSettings",
    "HttpPostTransport",
    "HttpPullSettings",
    "HttpPullTransport",
    "ItemNotFound",
    "PartnerRefusedCredentials",
    "PartnerRejectedRequest",
    "PartnerUnavailable",
    "ResponseTooLarge",
    "RetryLater",
    "UnexpectedResponse",
    "UnsendableMessage",
    "parse_retry_after",
    "transport_from_spec",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

USER_AGENT = "aftersales-hub (http-pull)"
POST_USER_AGENT = "aftersales-hub (http-post)"
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id")
IDEMPOTENCY_HEADER = "Idempotency-Key"

# RFC 9110 token (header names) and a visible-ASCII header value without line breaks:
# a value read from the environment with a stray newline would otherwise reach the wire
# library, whose error message might quote it.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_WHITESPACE = re.compile(r"\s+")

# 501 and 505 say the partner will never handle this request: retrying cannot help.
_PERMANENT_5XX = frozenset({501, 505})
_RETRYABLE_4XX = frozenset({408, 425, 429})
# What a partner answers when it took a delivered message; any other 2xx is a surprise.
_DELIVERED = frozenset({200, 201, 202, 204})
# An idempotent repeat is told apart from a first delivery by its status, so 201 (always
# "created") cannot mean "I had it already".
_REPEAT_STATUSES = _DELIVERED - {201}
# The order itself is wrong (invalid data, too big): an operator must correct it.
_REJECTED = frozenset({400, 413, 422})
_MAX_IDEMPOTENCY_KEY = 255
# Headers that frame the request: the HTTP library sets them from the body and the URL,
# and a message that set its own could desynchronise or redirect the request.
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


# -- errors ------------------------------------------------------------------------------


class PartnerUnavailable(TransientError):
    """The partner did not answer usefully after every attempt: the run should come back
    later. ``retry_after`` is the partner's last Retry-After, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        attempts: int,
        status: int | None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.url = url
        self.attempts = attempts
        self.status = status


class RetryLater(PartnerUnavailable):
    """The partner asked for a longer pause than ``max_wait``: rather than block a worker
    for it, the scheduler comes back after ``retry_after`` seconds."""


class PartnerRefusedCredentials(ConfigurationError):
    """401 or 403: retrying with the same key cannot help; someone must fix the secret."""

    def __init__(self, message: str, *, status: int, variables: tuple[str, ...]) -> None:
        super().__init__(message)
        self.status = status
        self.variables = variables


class PartnerRejectedRequest(FatalError):
    """400 or 422: the partner calls our request invalid; sending it again changes nothing."""

    def __init__(self, message: str, *, status: int, excerpt: str) -> None:
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt


class DeliveryRejected(PartnerRejectedRequest):
    """400, 413 or 422 to a delivered message: the order itself is wrong (a bad postcode,
    a field the partner's schema refuses). Never retried: it goes to the dead letters for
    an operator, with the partner's own words in ``excerpt``."""

    def __init__(self, message: str, *, status: int, excerpt: str, message_name: str) -> None:
        super().__init__(message, status=status, excerpt=excerpt)
        self.message_name = message_name


class DeliveryConflict(FatalError):
    """409 from a partner not known to mean "you sent this already" by it
    (``conflict_is_success`` off): the order may clash with another, so an operator looks
    rather than the hub guessing that it was delivered."""

    def __init__(self, message: str, *, status: int, excerpt: str, message_name: str) -> None:
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt
        self.message_name = message_name


class UnsendableMessage(FatalError):
    """A message that cannot go on the wire as it is (its idempotency key is no valid
    header value): a fault of whatever built it, caught before anything is sent."""


class HeaderConflict(UnsendableMessage):
    """A message header that would replace one the transport sets itself (a credential,
    the idempotency key, the content type, the framing): refused before anything is sent,
    since a message able to swap the key or the credentials could defeat de-duplication
    or authenticate as someone else. ``header`` is the name; its value is never shown."""

    def __init__(self, message: str, *, header: str, message_name: str) -> None:
        super().__init__(message)
        self.header = header
        self.message_name = message_name


class EndpointNotFound(ConfigurationError):
    """404 on the paged feed or the delivery endpoint: base_url or the path points nowhere."""


class ItemNotFound(PartnerDataError):
    """The partner knows no object with this key (404, or 410 for one it deleted)."""

    def __init__(self, reason: str, *, key: str, status: int, location: Location) -> None:
        super().__init__(reason, location=location)
        self.key = key
        self.status = status


class ResponseTooLarge(FatalError):
    """A response beyond ``max_response_bytes``: refused before it can exhaust memory."""


class UnexpectedResponse(FatalError):
    """A status this transport has no rule for (a redirect, 405, 409, 501…): an operator
    must look, since guessing could lose data or loop."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class _RetryableFailure(Exception):
    """One failed attempt worth another (never leaves this module)."""

    def __init__(self, what: str, *, status: int | None, retry_after: float | None) -> None:
        super().__init__(what)
        self.what = what
        self.status = status
        self.retry_after = retry_after


# -- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """One header the partner checks on every call (``X-Api-Key``, a bearer token).

    ``env`` is the environment variable it came from, so errors can name where to fix
    it; the secret itself is kept out of ``repr``.
    """

    header: str
    secret: str = field(repr=False)
    env: str | None = None
    scheme: str | None = None

    def __post_init__(self) -> None:
        if not _HEADER_NAME.fullmatch(self.header):
            raise ConfigurationError(f"{self.header!r} is not a valid HTTP header name")
        if not _HEADER_VALUE.fullmatch(self.secret):
            raise ConfigurationError(
                f"the value for the {self.header} header (from {self.where}) is empty or "
                "holds characters a header cannot carry (spaces at either end, line breaks, "
                "control or non-ASCII characters)"
            )

    @classmethod
    def bearer(cls, token: str, env: str | None = None) -> Credential:
        """``Authorization: Bearer <token>``."""
        return cls("Authorization", token, env, "Bearer")

    @property
    def value(self) -> str:
        """The header's value as sent."""
        return f"{self.scheme} {self.secret}" if self.scheme else self.secret

    @property
    def where(self) -> str:
        """Where an operator finds this secret: ``$VARIABLE``, never the value."""
        return f"${self.env}" if self.env else f"the {self.header} header's configured value"

    @property
    def kind(self) -> str:
        return "token" if self.scheme else "key"


class _ClientSettings(Protocol):
    """What the shared retrying client reads, whichever way it talks to the partner."""

    @property
    def base_url(self) -> str: ...
    @property
    def credentials(self) -> tuple[Credential, ...]: ...
    @property
    def requests_per_second(self) -> float: ...
    @property
    def timeout(self) -> float: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def max_wait(self) -> float: ...
    @property
    def backoff_initial(self) -> float: ...
    @property
    def backoff_max(self) -> float: ...
    @property
    def max_response_bytes(self) -> int: ...
    @property
    def excerpt_chars(self) -> int: ...


def _check_client_settings(settings: _ClientSettings) -> None:
    """The checks both settings share, so a typo fails at start-up, not mid-run."""
    if not re.match(r"^https?://[^/?#]", settings.base_url):
        raise ConfigurationError(f"base_url {settings.base_url!r} must start with http(s)://")
    for name in ("requests_per_second", "timeout", "max_wait", "backoff_initial"):
        if not getattr(settings, name) > 0:
            raise ConfigurationError(f"{name} must be positive")
    if settings.max_attempts < 1:
        raise ConfigurationError("max_attempts must be at least 1")


@dataclass(frozen=True)
class HttpPullSettings:
    """Everything an HttpPullTransport needs, already resolved (seconds, secret values)."""

    base_url: str
    page_path: str | None = None
    cursor_param: str = "since"
    item_path: str | None = None
    credentials: tuple[Credential, ...] = ()
    requests_per_second: float = 5.0
    timeout: float = 30.0
    max_attempts: int = 6
    max_wait: float = 900.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    max_response_bytes: int = 64 * 1024 * 1024
    excerpt_chars: int = 300

    def __post_init__(self) -> None:
        _check_client_settings(self)
        if self.item_path is not None:
            try:
                formatted = self.item_path.format(key="\0")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigurationError(
                    f"item_path {self.item_path!r} may hold no placeholder but {{key}}"
                ) from exc
            if "\0" not in formatted:
                raise ConfigurationError(f"item_path {self.item_path!r} must contain {{key}}")


@dataclass(frozen=True)
class HttpPostSettings:
    """Everything an HttpPostTransport needs, already resolved (seconds, secret values).

    ``conflict_is_success``: the partner answers 409 to an order it has already (same
    OrderRef at TechniService), so 409 means delivered. ``idempotent_ok_status``: the
    status by which the partner says it had the message already (ColisExpress answers 200
    to a reference it knows, 201 to a new one).
    """

    base_url: str
    post_path: str
    content_type: str
    credentials: tuple[Credential, ...] = ()
    conflict_is_success: bool = False
    idempotent_ok_status: int | None = None
    idempotency_header: str = IDEMPOTENCY_HEADER
    requests_per_second: float = 5.0
    timeout: float = 30.0
    max_attempts: int = 6
    max_wait: float = 900.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    max_response_bytes: int = 1024 * 1024  # an answer to an order is a receipt, not a feed
    excerpt_chars: int = 300

    def __post_init__(self) -> None:
        _check_client_settings(self)
        if not _MEDIA_TYPE.fullmatch(_media_type(self.content_type)):
            raise ConfigurationError(
                f"content_type {self.content_type!r} is not a media type like application/xml"
            )
        if not _HEADER_NAME.fullmatch(self.idempotency_header):
            raise ConfigurationError(f"{self.idempotency_header!r} is not a valid HTTP header name")
        repeat = self.idempotent_ok_status
        if repeat is not None and repeat not in _REPEAT_STATUSES:
            allowed = ", ".join(str(status) for status in sorted(_REPEAT_STATUSES))
            raise ConfigurationError(
                f"idempotent_ok_status {repeat} must be one of {allowed} (201 always means "
                "a new delivery)"
            )


def _media_type(content_type: str) -> str:
    """``application/xml`` out of ``application/xml; charset=utf-8``, lower-cased."""
    return content_type.partition(";")[0].strip().lower()


# -- pacing ------------------------------------------------------------------------------


class ClientRateLimiter:
    """Spaces requests at least ``1 / requests_per_second`` apart, so we stay under a
    partner's limit instead of learning it from 429s.

    The spacing is stretched by ``margin`` (1 % by default): a partner counting a sliding
    window that includes its boundary, or a clock a hair off, would otherwise see one
    request too many at exactly the limit.
    """

    def __init__(
        self,
        requests_per_second: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        margin: float = 0.01,
    ) -> None:
        if not requests_per_second > 0:
            raise ValueError("requests_per_second must be positive")
        self.interval = (1.0 + margin) / requests_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def wait(self) -> float:
        """Block until this request's slot; returns how long it waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay


# -- Retry-After ---------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date.

    ``now`` is the wall clock (Unix seconds) an HTTP date is measured against. A date in
    the past means 0; an unreadable value means None (the caller backs off on its own).
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT even when they say "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


# -- the shared retrying client ------------------------------------------------------------


@dataclass
class _Request:
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
class _Fetched:
    status: int
    url: str
    headers: httpx.Headers
    content: bytes


_SettingsT = TypeVar("_SettingsT", bound=_ClientSettings)


class _RetryingClient(Generic[_SettingsT]):
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
        self._client = client if client is not None else httpx.Client(follow_redirects=False)
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

    def _credential_sources(self) -> str:
        return ", ".join(f"{c.header} from {c.where}" for c in self.settings.credentials)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (only if this transport opened it)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- what subclasses decide ----------------------------------------------------------

    def _accepts(self, status: int) -> bool:
        """Whether this status is a result to hand back rather than a refusal."""
        return 200 <= status < 300

    def _final_refusal(
        self, request: _Request, status: int, said: str, excerpt: str
    ) -> Exception | None:
        """The error for a status retrying cannot change, or None for the common rules."""
        del request, status, said, excerpt
        return None

    # -- one request, with retries -------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")

    def _exchange(self, request: _Request) -> _Fetched:
        retrying = tenacity.Retrying(
            sleep=self._sleep,
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RetryableFailure),
            before_sleep=self._log_retry,
        )
        try:
            return retrying(self._attempt, request)
        except tenacity.RetryError as exhausted:
            failure = exhausted.last_attempt.exception()
            if not isinstance(failure, _RetryableFailure):  # pragma: no cover - by construction
                raise
            raise self._unavailable(request, failure) from failure

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """The partner's Retry-After when it gave one, else exponential backoff with
        "equal jitter": half the step fixed, half random, so waits grow but never align."""
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, _RetryableFailure) and failure.retry_after is not None:
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
            request.where if isinstance(request, _Request) else "?",
            failure.what if isinstance(failure, _RetryableFailure) else failure,
            state.attempt_number,
            self.settings.max_attempts,
            delay,
        )

    def _attempt(self, request: _Request) -> _Fetched:
        self._limiter.wait()
        request.attempts += 1
        try:
            with self._client.stream(
                request.method,
                request.url,
                params=request.params,
                content=request.content,
                headers={**self._headers, **request.headers},
                timeout=self._timeout,
            ) as response:
                if self._accepts(response.status_code):
                    content = self._read_all(response, request)
                    return _Fetched(
                        response.status_code, str(response.url), response.headers, content
                    )
                excerpt = self._excerpt(self._read_some(response), response)
        except httpx.TransportError as exc:
            raise self._wire_failure(request, exc) from exc
        except httpx.DecodingError as exc:
            raise UnexpectedResponse(
                f"{request.where}: the partner's response could not be decoded "
                f"({type(exc).__name__}: {exc})",
                status=None,
            ) from exc
        raise self._refusal(request, response, excerpt)

    def _read_all(self, response: httpx.Response, request: _Request) -> bytes:
        limit = self.settings.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(
                f"{request.where}: the partner announces {declared} bytes, more than "
                f"max_response_bytes ({limit})"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(
                    f"{request.where}: the response (decompressed) exceeds "
                    f"max_response_bytes ({limit}); refused"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _read_some(self, response: httpx.Response) -> bytes:
        """Enough of an error body for its excerpt, and no more: the rest is dropped."""
        wanted = self.settings.excerpt_chars * 4
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
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
        for secret in self._secrets:
            text = text.replace(secret, "***")
        limit = self.settings.excerpt_chars
        return text if len(text) <= limit else text[: limit - 1] + "…"

    # -- what a failure means ------------------------------------------------------------

    def _wire_failure(self, request: _Request, exc: httpx.TransportError) -> Exception:
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
        return _RetryableFailure(what, status=None, retry_after=None)

    def _refusal(self, request: _Request, response: httpx.Response, excerpt: str) -> Exception:
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

    def _retryable(self, request: _Request, response: httpx.Response, said: str) -> Exception:
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
        return _RetryableFailure(said, status=response.status_code, retry_after=retry_after)

    def _refused_credentials(
        self, request: _Request, status: int, said: str, partner_said: str
    ) -> PartnerRefusedCredentials:
        credentials = self.settings.credentials
        if credentials:
            advice = "check " + " and ".join(f"the {c.kind} in {c.where}" for c in credentials)
        else:
            advice = "no credentials are configured: set header_env or bearer_token_env"
        return PartnerRefusedCredentials(
            f"the partner refused our credentials ({said}) for {request.where}: "
            f"{advice}{partner_said}",
            status=status,
            variables=tuple(c.env for c in credentials if c.env),
        )

    def _unavailable(self, request: _Request, failure: _RetryableFailure) -> PartnerUnavailable:
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


# -- reading: the pull transport -----------------------------------------------------------


class HttpPullTransport(_RetryingClient[HttpPullSettings]):
    """Implements :class:`hub.ports.PagedSource` over HTTP with httpx.

    ``sleep`` serves every wait between attempts (Retry-After and backoff) and, unless a
    ``rate_limiter`` is given, the pacing too; ``clock`` paces, ``wall_clock`` reads
    Retry-After dates, ``jitter`` draws in [0, 1). Tests inject all four to run through
    rate limits and maintenance windows without sleeping. A ``client`` passed in stays
    the caller's to close.
    """

    def __repr__(self) -> str:
        return (
            f"HttpPullTransport(base_url={self.settings.base_url!r}, "
            f"page_path={self.settings.page_path!r}, item_path={self.settings.item_path!r}, "
            f"credentials=[{self._credential_sources()}])"
        )

    # -- PagedSource ---------------------------------------------------------------------

    def fetch_page(self, cursor: str | None) -> RawMessage:
        """One page of the feed: the first without a cursor, the next ones with one."""
        path = self.settings.page_path
        if path is None:
            raise ConfigurationError("this connector has no page_path: it cannot page a feed")
        param = self.settings.cursor_param
        request = _Request(
            method="GET",
            url=self._url(path),
            params=None if cursor is None else {param: cursor},
            ref_name=path if cursor is None else f"{path}?{param}={cursor}",
            cursor=cursor,
        )
        return self._message(request, self._exchange(request))

    def fetch_item(self, key: str) -> RawMessage:
        """One object by its key (a repair, a parcel), for re-synchronisation."""
        template = self.settings.item_path
        if template is None:
            raise ConfigurationError("this connector has no item_path: it cannot fetch by key")
        path = template.format(key=quote(key, safe=""))
        request = _Request(method="GET", url=self._url(path), ref_name=path, item_key=key)
        return self._message(request, self._exchange(request))

    # -- what a GET's refusal means ------------------------------------------------------

    def _final_refusal(
        self, request: _Request, status: int, said: str, excerpt: str
    ) -> Exception | None:
        partner_said = f"; the partner said: {excerpt}" if excerpt else ""
        if request.item_key is not None and status in (404, 410):
            return ItemNotFound(
                f"the partner knows no item {request.item_key!r} ({said})",
                key=request.item_key,
                status=status,
                location=Location(request.ref_name),
            )
        if status == 410:
            return CursorExpired(
                f"{request.where}: the partner no longer knows the cursor {request.cursor!r} "
                f"({said}): re-synchronise the open objects, then page again from the start"
            )
        if status == 404:
            return EndpointNotFound(
                f"{request.where}: the partner has no such endpoint ({said}); check base_url "
                f"and page_path{partner_said}"
            )
        if status in (400, 422):
            return PartnerRejectedRequest(
                f"{request.where}: the partner rejected the request ({said}){partner_said}",
                status=status,
                excerpt=excerpt,
            )
        return None

    def _message(self, request: _Request, fetched: _Fetched) -> RawMessage:
        metadata = {"url": fetched.url, "status": str(fetched.status)}
        content_type = fetched.headers.get("content-type")
        if content_type:
            metadata["content_type"] = content_type
        for header in REQUEST_ID_HEADERS:
            if header in fetched.headers:
                metadata["request_id"] = fetched.headers[header]
                break
        if request.attempts > 1:
            metadata["attempts"] = str(request.attempts)
        return RawMessage(
            ref=MessageRef(name=request.ref_name, size=len(fetched.content)),
            content=fetched.content,
            metadata=metadata,
        )


# -- delivering: the post transport --------------------------------------------------------


class HttpPostTransport(_RetryingClient[HttpPostSettings]):
    """Implements :class:`hub.ports.Sender`: delivers one rendered order by POST.

    A POST is retried (429 and 503 after their Retry-After, other 5xx, timeouts and
    dropped connections after backoff) although the partner may already have acted on an
    attempt whose answer we never saw. That is safe only because a repeat is harmless:
    every attempt carries the message's idempotency key in ``Idempotency-Key``, and both
    partners recognise a repeat on their own (TechniService answers 409 to an OrderRef it
    has, ColisExpress 200 with the first tracking number to a reference it has). Such an
    answer comes back as ``already_known=True``, also when the "first" delivery was our
    own lost attempt. Do not point this at a partner that honours neither the key nor a
    business reference: a retry there could create the order twice.

    What the order itself gets wrong (400, 413, 422) is never retried: it raises
    :class:`DeliveryRejected` for the dead letters, with the partner's error text.
    """

    user_agent = POST_USER_AGENT

    def __repr__(self) -> str:
        return (
            f"HttpPostTransport(base_url={self.settings.base_url!r}, "
            f"post_path={self.settings.post_path!r}, "
            f"content_type={self.settings.content_type!r}, "
            f"credentials=[{self._credential_sources()}])"
        )

    # -- Sender --------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """POST one message; returns once the partner has it, or raises a hub error."""
        request = _Request(
            method="POST",
            url=self._url(self.settings.post_path),
            ref_name=message.name,
            content=message.content,
            headers=self._message_headers(message),
        )
        fetched = self._exchange(request)
        # 409 only gets here when conflict_is_success says it means "I have it".
        repeat_statuses = {409, self.settings.idempotent_ok_status}
        already_known = fetched.status in repeat_statuses
        logger.info(
            "%s: %s delivered (%d%s, attempt %d)",
            request.where,
            message.name,
            fetched.status,
            ", the partner had it already" if already_known else "",
            request.attempts,
        )
        return DeliveryReceipt(
            status=fetched.status, body=fetched.content, already_known=already_known
        )

    def _message_headers(self, message: OutboundMessage) -> dict[str, str]:
        """Content-Type, the idempotency key and the message's own headers, checked
        before anything is sent."""
        declared = self.settings.content_type
        content_type = message.content_type or declared
        if _media_type(content_type) != _media_type(declared):
            raise ConfigurationError(
                f"{message.name!r} is rendered as {content_type!r} but the connector sends "
                f"{declared!r}: the mapping and the connector's content_type disagree"
            )
        if not _HEADER_VALUE.fullmatch(content_type):
            raise UnsendableMessage(
                f"{message.name!r}: its content type {content_type!r} cannot be sent as a header"
            )
        key = message.idempotency_key
        if not _HEADER_VALUE.fullmatch(key) or len(key) > _MAX_IDEMPOTENCY_KEY:
            raise UnsendableMessage(
                f"{message.name!r}: its idempotency key is empty, longer than "
                f"{_MAX_IDEMPOTENCY_KEY} characters or not printable ASCII; without a valid "
                "key a retried POST is not safe, so nothing was sent"
            )
        headers = {"Content-Type": content_type, self.settings.idempotency_header: key}
        headers.update(self._extra_headers(message, reserved=[*self._headers, *headers]))
        return headers

    def _extra_headers(self, message: OutboundMessage, *, reserved: list[str]) -> dict[str, str]:
        """The message's own headers, checked: each a valid name and value, none set twice
        and none replacing a header the transport owns. Values are never quoted in an
        error, since a header may carry a signature or a token."""
        taken = {name.lower() for name in reserved} | _FRAMING_HEADERS
        extra: dict[str, str] = {}
        for name, value in message.headers.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                raise UnsendableMessage(
                    f"{message.name!r}: {name!r} is not a valid HTTP header name"
                )
            if name.lower() in {other.lower() for other in extra}:
                raise UnsendableMessage(
                    f"{message.name!r}: its {name} header is given twice (names are not "
                    "case-sensitive); nothing was sent"
                )
            if name.lower() in taken:
                raise HeaderConflict(
                    f"{message.name!r}: its {name} header would replace one the transport "
                    "sets itself (credentials, idempotency key, content type or framing); "
                    "nothing was sent",
                    header=name,
                    message_name=message.name,
                )
            if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
                raise UnsendableMessage(
                    f"{message.name!r}: the value of its {name} header is empty or holds "
                    "characters a header cannot carry; nothing was sent"
                )
            extra[name] = value
        return extra

    # -- what a POST's answer means ------------------------------------------------------

    def _accepts(self, status: int) -> bool:
        return status in _DELIVERED or (status == 409 and self.settings.conflict_is_success)

    def _final_refusal(
        self, request: _Request, status: int, said: str, excerpt: str
    ) -> Exception | None:
        partner_said = f"; the partner said: {excerpt}" if excerpt else ""
        if status in _REJECTED:
            return DeliveryRejected(
                f"{request.where}: the partner rejected {request.ref_name!r} ({said})"
                f"{partner_said}; not retried: correct the order, then send it again",
                status=status,
                excerpt=excerpt,
                message_name=request.ref_name,
            )
        if status == 409:
            return DeliveryConflict(
                f"{request.where}: the partner reports a conflict for {request.ref_name!r} "
                f"({said}){partner_said}; this connector does not treat 409 as delivered "
                "(conflict_is_success is off), so an operator must check",
                status=status,
                excerpt=excerpt,
                message_name=request.ref_name,
            )
        if status == 404:
            return EndpointNotFound(
                f"{request.where}: the partner has no such endpoint ({said}); check base_url "
                f"and post_path{partner_said}"
            )
        if 200 <= status < 300:
            return UnexpectedResponse(
                f"{request.where}: the partner answered {said} to {request.ref_name!r}, which "
                "says neither delivered nor refused; it may have the order: check before "
                "sending again",
                status=status,
            )
        return None


def _certificate_refused(exc: BaseException) -> bool:
    return any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


# -- from connectors.yaml ------------------------------------------------------------------


def _credentials(
    spec: HttpPullTransportSpec | HttpPostTransportSpec, secrets: Mapping[str, str]
) -> tuple[Credential, ...]:
    credentials: list[Credential] = []
    for header, env in spec.header_env.items():
        value = secrets.get(f"header:{header}")
        if not value:
            raise MissingSecret(f"the {header} header needs the environment variable {env}")
        credentials.append(Credential(header, value, env))
    if spec.bearer_token_env is not None:
        token = secrets.get("bearer_token")
        if not token:
            raise MissingSecret(
                f"the bearer token needs the environment variable {spec.bearer_token_env}"
            )
        credentials.append(Credential.bearer(token, spec.bearer_token_env))
    return tuple(credentials)


@overload
def transport_from_spec(
    spec: HttpPullTransportSpec, secrets: Mapping[str, str], default_pattern: str | None
) -> HttpPullTransport: ...


@overload
def transport_from_spec(
    spec: HttpPostTransportSpec, secrets: Mapping[str, str], default_pattern: str | None
) -> HttpPostTransport: ...


def transport_from_spec(
    spec: HttpPullTransportSpec | HttpPostTransportSpec,
    secrets: Mapping[str, str],
    default_pattern: str | None,
) -> HttpPullTransport | HttpPostTransport:
    """The transport a connectors.yaml entry describes (registered as ``http-pull`` and
    ``http-post``: the spec's type picks the reading or the delivering transport).

    ``secrets`` maps ``header:<Name>`` and ``bearer_token`` to values, as
    ``ConnectorSpec.secret_names()`` names them.
    """
    del default_pattern  # pages, objects and deliveries are addressed by path
    credentials = _credentials(spec, secrets)
    timeout = parse_duration(spec.timeout).total_seconds()
    max_wait = parse_duration(spec.max_wait).total_seconds()
    if isinstance(spec, HttpPostTransportSpec):
        return HttpPostTransport(
            HttpPostSettings(
                base_url=spec.base_url,
                post_path=spec.post_path,
                content_type=spec.content_type,
                credentials=credentials,
                conflict_is_success=spec.conflict_is_success,
                idempotent_ok_status=spec.idempotent_ok_status,
                requests_per_second=spec.requests_per_second,
                timeout=timeout,
                max_attempts=spec.max_attempts,
                max_wait=max_wait,
            )
        )
    return HttpPullTransport(
        HttpPullSettings(
            base_url=spec.base_url,
            page_path=spec.page_path,
            cursor_param=spec.cursor_param,
            item_path=spec.item_path,
            credentials=credentials,
            requests_per_second=spec.requests_per_second,
            timeout=timeout,
            max_attempts=spec.max_attempts,
            max_wait=max_wait,
        )
    )
