"""The HTTP transports' settings, already resolved (seconds, secret values).

What every client of a partner API needs (where, who we are, how fast, how patient) is
declared once, in :class:`HttpClientSettings`; reading and delivering add only their own
fields. Its defaults are those of connectors.yaml (``HttpClientSpec``), so a
transport built in code and one built from the file behave alike.
"""

from __future__ import annotations

import base64
import re
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from adapters.transports.http.fault_rules import FaultRuleSpec
from adapters.transports.http.item_request import ItemRequestSpec
from adapters.transports.http.oauth import ClientCredentials
from adapters.transports.http.spec import HttpClientSpec, PaginationSpec
from hub.config.connector_spec import parse_duration
from hub.errors import ConfigurationError

__all__ = [
    "DELIVERED",
    "HEADER_NAME",
    "HEADER_VALUE",
    "IDEMPOTENCY_HEADER",
    "REPEAT_STATUSES",
    "Credential",
    "HttpClientSettings",
    "HttpPostSettings",
    "HttpPullSettings",
    "media_type",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"

# RFC 9110 token (header names) and a visible-ASCII header value without line breaks:
# a value read from the environment with a stray newline would otherwise reach the wire
# library, whose error message might quote it.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")

# What a partner answers when it took a delivered message; any other 2xx is a surprise.
DELIVERED = frozenset({200, 201, 202, 204})
# An idempotent repeat is told apart from a first delivery by its status, so 201 (always
# "created") cannot mean "I had it already".
REPEAT_STATUSES = DELIVERED - {201}


def _file_default(name: str) -> Any:
    """The default connectors.yaml gives a client field, so that it is written once."""
    return HttpClientSpec.model_fields[name].default


def _file_seconds(name: str) -> float:
    return parse_duration(_file_default(name)).total_seconds()


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
        if not HEADER_NAME.fullmatch(self.header):
            raise ConfigurationError(f"{self.header!r} is not a valid HTTP header name")
        if not HEADER_VALUE.fullmatch(self.secret):
            raise ConfigurationError(
                f"the value for the {self.header} header (from {self.where}) is empty or "
                "holds characters a header cannot carry (spaces at either end, line breaks, "
                "control or non-ASCII characters)"
            )

    @classmethod
    def bearer(cls, token: str, env: str | None = None) -> Credential:
        """``Authorization: Bearer <token>``."""
        return cls("Authorization", token, env, "Bearer")

    @classmethod
    def basic(cls, username: str, password: str, env: str | None = None) -> Credential:
        """``Authorization: Basic <base64 of user:password>`` (RFC 7617)."""
        pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return cls("Authorization", pair, env, "Basic")

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


@dataclass(frozen=True)
class HttpClientSettings:
    """What the retrying client reads, whichever way it talks to the partner.

    Only ``base_url`` may be given by position; the rest by name, so that the
    transports' own fields can follow it.
    """

    base_url: str
    _: KW_ONLY
    credentials: tuple[Credential, ...] = ()
    oauth: ClientCredentials | None = None
    requests_per_second: float = float(_file_default("requests_per_second"))
    timeout: float = _file_seconds("timeout")
    max_attempts: int = _file_default("max_attempts")
    max_wait: float = _file_seconds("max_wait")
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    max_response_bytes: int = 64 * 1024 * 1024
    excerpt_chars: int = 300

    def __post_init__(self) -> None:
        """Checked here so that a typo fails at start-up, not mid-run."""
        if not re.match(r"^https?://[^/?#]", self.base_url):
            raise ConfigurationError(f"base_url {self.base_url!r} must start with http(s)://")
        for name in ("requests_per_second", "timeout", "max_wait", "backoff_initial"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be positive")
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")


@dataclass(frozen=True)
class HttpPullSettings(HttpClientSettings):
    """Everything an HttpPullTransport needs: the client's settings, and where the feed
    and the objects are."""

    page_path: str | None = None
    cursor_param: str = "since"
    item_path: str | None = None
    pagination: PaginationSpec = field(default_factory=PaginationSpec)
    since_param: str | None = None
    item_request: ItemRequestSpec | None = None
    item_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    """``{secret:NAME}`` values of the item request's body, by NAME."""
    faults: tuple[FaultRuleSpec, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.item_request is not None:
            if self.item_path is None:
                raise ConfigurationError("an item_request needs the item_path it is sent to")
            missing = sorted(set(self.item_request.body_env) - set(self.item_secrets))
            if missing:
                raise ConfigurationError(
                    "the item request's body needs the environment variable(s) "
                    + ", ".join(self.item_request.body_env[name] for name in missing)
                )
        elif self.item_path is not None:
            try:
                formatted = self.item_path.format(key="\0")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigurationError(
                    f"item_path {self.item_path!r} may hold no placeholder but {{key}}"
                ) from exc
            if "\0" not in formatted:
                raise ConfigurationError(f"item_path {self.item_path!r} must contain {{key}}")


@dataclass(frozen=True)
class HttpPostSettings(HttpClientSettings):
    """Everything an HttpPostTransport needs: the client's settings, where orders go, and
    how the partner says it had one already.

    ``conflict_is_success``: the partner answers 409 to an order it has already (same
    OrderRef at TechniService), so 409 means delivered. ``idempotent_ok_status``: the
    status by which the partner says it had the message already (ColisExpress answers 200
    to a reference it knows, 201 to a new one).
    """

    post_path: str
    content_type: str
    conflict_is_success: bool = False
    idempotent_ok_status: int | None = None
    idempotency_header: str = IDEMPOTENCY_HEADER
    # An answer to an order is a receipt, not a feed.
    max_response_bytes: int = field(default=1024 * 1024, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _MEDIA_TYPE.fullmatch(media_type(self.content_type)):
            raise ConfigurationError(
                f"content_type {self.content_type!r} is not a media type like application/xml"
            )
        if not HEADER_NAME.fullmatch(self.idempotency_header):
            raise ConfigurationError(f"{self.idempotency_header!r} is not a valid HTTP header name")
        repeat = self.idempotent_ok_status
        if repeat is not None and repeat not in REPEAT_STATUSES:
            allowed = ", ".join(str(status) for status in sorted(REPEAT_STATUSES))
            raise ConfigurationError(
                f"idempotent_ok_status {repeat} must be one of {allowed} (201 always means "
                "a new delivery)"
            )


def media_type(content_type: str) -> str:
    """``application/xml`` out of ``application/xml; charset=utf-8``, lower-cased."""
    return content_type.partition(";")[0].strip().lower()
