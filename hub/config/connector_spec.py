"""What a connector entry of connectors.yaml may say.

A connector ties one partner's mapping message to a transport and a schedule. Secrets
are never values here: fields ending in ``_env`` name the environment variable that
holds them, so the file can be committed and shown.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from hub.model.parties import PartyId

ConnectorName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=100)]
EnvName = Annotated[
    str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="An environment variable's name.")
]
Duration = Annotated[str, Field(pattern=r"^[0-9]+(s|m|h|d)$", description="e.g. 30s, 15m, 2h, 1d")]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"([0-9]+)([smhd])", text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleSpec(_Spec):
    """When the connector runs: every so often, or on a cron line, with jitter."""

    every: Duration | None = None
    cron: str | None = Field(default=None, description="Five-field cron line, in UTC.")
    jitter: Duration | None = Field(default=None, description="Random delay added to each run.")

    @model_validator(mode="after")
    def _one_rhythm(self) -> ScheduleSpec:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of every or cron")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(f"cron {self.cron!r} must have five fields")
        return self


class SftpTransportSpec(_Spec):
    """A partner's SFTP server. The host key is pinned: an unknown key is refused."""

    type: Literal["sftp"]
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    host_key: str = Field(
        description="The server's public key ('ssh-ed25519 AAAA…') or its 'SHA256:…' "
        "fingerprint, as the partner sent it."
    )
    private_key_env: EnvName | None = None
    private_key_passphrase_env: EnvName | None = None
    password_env: EnvName | None = None
    remote_dir: str = Field(description="Where the partner writes files for the hub.")
    pattern: str | None = Field(
        default=None, description="Files to read; defaults to the mapping message's pattern."
    )
    archive_dir: str | None = Field(
        default=None,
        description="Move read files here. Without it the server is left untouched and the "
        "hub remembers what it read.",
    )
    outbound_dir: str | None = Field(default=None, description="Where the hub writes files.")
    partial_suffixes: list[str] = Field(default_factory=lambda: [".tmp", ".part"])
    upload_suffix: str = Field(default=".tmp", description="Written first, then renamed.")
    max_sessions: int = Field(default=2, ge=1, le=16)

    @model_validator(mode="after")
    def _some_credential(self) -> SftpTransportSpec:
        if self.private_key_env is None and self.password_env is None:
            raise ValueError("name the environment variable of a private key or a password")
        return self


class LocalDirTransportSpec(_Spec):
    """A folder on the hub's machine (a drop folder, or a partner's share mounted here)."""

    type: Literal["local-dir"]
    path: str
    pattern: str | None = None
    archive_dir: str | None = None
    outbound_dir: str | None = None
    partial_suffixes: list[str] = Field(default_factory=lambda: [".tmp", ".part"])


class _HttpClientSpec(_Spec):
    """What every HTTP client of a partner API needs: where, who we are, how fast."""

    base_url: str = Field(pattern=r"^https?://")
    header_env: dict[str, EnvName] = Field(
        default_factory=dict, description="Header -> environment variable holding its value."
    )
    bearer_token_env: EnvName | None = Field(
        default=None, description="Sends Authorization: Bearer <the variable's value>."
    )
    requests_per_second: float = Field(default=5, gt=0, description="Stay under the limit.")
    timeout: Duration = "30s"
    max_attempts: int = Field(default=6, ge=1, le=20, description="Tries per request.")
    max_wait: Duration = Field(
        default="15m", description="Longest single wait (a maintenance window's Retry-After)."
    )


class HttpPullTransportSpec(_HttpClientSpec):
    """A partner REST API read page by page (or object by object), with retries.

    The transport only does HTTP; ``next_field`` and ``more_field`` name the codec's
    document fields that carry the next cursor and whether more pages follow.
    """

    type: Literal["http-pull"]
    page_path: str | None = Field(
        default=None, description="Path of the paged feed, e.g. /repairs/changes."
    )
    cursor_param: str = Field(default="since", description="Query parameter of the cursor.")
    item_path: str | None = Field(
        default=None, description="Path of one object, with {key}: /repairs/{key}."
    )
    next_field: str = Field(default="next", description="Document field with the next cursor.")
    more_field: str | None = Field(
        default="more", description="Document field saying whether more pages follow."
    )


class HttpPostTransportSpec(_HttpClientSpec):
    """A partner REST API that takes our orders by POST (a repair order, a pickup).

    Every delivery is retried through rate limits, maintenance and network faults, which
    is safe only because each carries an Idempotency-Key and the partner recognises a
    repeat: say how with ``conflict_is_success`` or ``idempotent_ok_status``.
    """

    type: Literal["http-post"]
    post_path: str = Field(description="Path orders are POSTed to, e.g. /repairs.")
    content_type: str = Field(
        pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$",
        description="Media type of the body as the partner expects it, e.g. application/xml.",
    )
    conflict_is_success: bool = Field(
        default=False,
        description="409 means the partner has this order already (TechniService's same "
        "OrderRef): count it as delivered.",
    )
    idempotent_ok_status: int | None = Field(
        default=None,
        description="The status (200, 202 or 204) by which the partner says it had the "
        "message already, as ColisExpress answers 200 to a known reference.",
    )

    @model_validator(mode="after")
    def _repeat_status_is_not_created(self) -> HttpPostTransportSpec:
        if self.idempotent_ok_status not in (None, 200, 202, 204):
            raise ValueError("idempotent_ok_status must be 200, 202 or 204 (201 means new)")
        return self


class HttpPushTransportSpec(_Spec):
    """The partner POSTs each message to the hub, signed with a shared secret (HMAC).

    Served at ``POST /partners/{connector}/events``. An unsigned, wrongly signed or
    stale message is refused with 401 and nothing is stored.
    """

    type: Literal["http-push"]
    secret_env: EnvName = Field(description="Variable holding the shared secret.")
    signature_header: str = "X-Signature"
    signature_prefix: str = Field(default="sha256=", description="Text before the hex digest.")
    timestamp_header: str | None = Field(
        default="X-Timestamp", description="Header with the signing time in Unix seconds."
    )
    signed_content: Literal["timestamp.body", "body"] = Field(
        default="timestamp.body",
        description="What the HMAC-SHA256 covers: the timestamp, a dot and the raw body; "
        "or the raw body alone.",
    )
    tolerance: Duration = Field(default="5m", description="Oldest signing time accepted.")
    max_bytes: int = Field(default=1_000_000, ge=1)


class PluginTransportSpec(_Spec):
    """A transport from a third-party package, registered under ``hub.transports``."""

    type: Annotated[str, Field(pattern=r"^x-[a-z0-9-]+$")]
    options: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, EnvName] = Field(
        default_factory=dict, description="Option name -> environment variable name."
    )


def _transport_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    known = ("sftp", "local-dir", "http-pull", "http-post", "http-push")
    return kind if kind in known else "plugin"


TransportSpec = Annotated[
    Annotated[SftpTransportSpec, Tag("sftp")]
    | Annotated[LocalDirTransportSpec, Tag("local-dir")]
    | Annotated[HttpPullTransportSpec, Tag("http-pull")]
    | Annotated[HttpPostTransportSpec, Tag("http-post")]
    | Annotated[HttpPushTransportSpec, Tag("http-push")]
    | Annotated[PluginTransportSpec, Tag("plugin")],
    Discriminator(_transport_kind),
]


class ConnectorSpec(_Spec):
    """One partner exchange: a mapping message carried by a transport on a schedule."""

    name: ConnectorName
    partner: PartyId
    mapping: str = Field(description="Mapping file, relative to connectors.yaml.")
    message: str = Field(description="The message of the mapping this connector carries.")
    resync_message: str | None = Field(
        default=None,
        description="Paged pulls: the mapping message for one object, read when the partner "
        "no longer knows our cursor and every open object is fetched again.",
    )
    transport: TransportSpec
    schedule: ScheduleSpec | None = None
    enabled: bool = True

    def secret_names(self) -> dict[str, str]:
        """Setting -> environment variable, for every secret this connector needs."""
        return transport_secret_names(self.transport)


def transport_secret_names(transport: Any) -> dict[str, str]:
    """Setting -> environment variable, for every secret a transport needs."""
    if isinstance(transport, PluginTransportSpec):
        return dict(transport.secrets)
    names: dict[str, str] = {}
    if isinstance(transport, HttpPushTransportSpec):
        return {"secret": transport.secret_env}
    if isinstance(transport, HttpPullTransportSpec | HttpPostTransportSpec):
        names = {f"header:{header}": env for header, env in transport.header_env.items()}
        if transport.bearer_token_env:
            names["bearer_token"] = transport.bearer_token_env
        return names
    if isinstance(transport, SftpTransportSpec):
        for setting in ("private_key_env", "private_key_passphrase_env", "password_env"):
            env = getattr(transport, setting)
            if env is not None:
                names[setting.removesuffix("_env")] = env
    return names


class CaseImportSpec(_Spec):
    """A drop folder (or server) where a retailer's ERP leaves its nightly case files.

    The files are in the hub's own case import format (the one ``POST /v1/cases/import``
    takes), so no mapping is needed: only where to read and for which retailer.
    """

    name: ConnectorName
    retailer: PartyId = Field(description="The tenant the cases belong to.")
    transport: TransportSpec
    schedule: ScheduleSpec | None = None
    enabled: bool = True

    def secret_names(self) -> dict[str, str]:
        return transport_secret_names(self.transport)


WEBHOOK_SIGNATURE_TOLERANCE_SECONDS = 300
"""How old a signature receivers accept (the Standard Webhooks libraries' default)."""

WEBHOOK_RETRY_WAIT = "30s"
"""The longest wait between two attempts of one webhook delivery. Longer outages are the
outbox's to retry, with a fresh signature: a signed request cannot wait for long."""

_WEBHOOK_SIGNING_BUDGET_SECONDS = 240
"""Every attempt of one signed request must end within this, leaving a minute of the
tolerance for clock skew between the hub and the retailer."""


class WebhookSpec(_Spec):
    """A retailer's webhook: each event of its cases POSTed to ``url``, signed per the
    Standard Webhooks specification with the secret in ``secret_env``.

    The signature is the only credential, so the URL must carry none (no user:password).
    A signature is valid for five minutes, so the retries of one request are kept short
    (at most ``max_attempts`` tries ``WEBHOOK_RETRY_WAIT`` apart) and a receiver that is
    down longer is retried by the outbox, with a new signature.
    """

    retailer: PartyId = Field(description="The tenant whose case events this URL receives.")
    url: str = Field(
        pattern=r"^https?://[^/?#@\s]+([/?][^#\s]*)?$",
        max_length=2000,
        description="Where events are POSTed; no credentials, no fragment.",
    )
    secret_env: EnvName = Field(description="Variable holding the secret, as whsec_<base64>.")
    timeout: Duration = Field(default="10s", description="Per attempt.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Tries per request.")
    requests_per_second: float = Field(
        default=20, gt=0, description="At most this many deliveries a second to the retailer."
    )

    @model_validator(mode="after")
    def _retries_fit_the_signature(self) -> WebhookSpec:
        timeout = parse_duration(self.timeout).total_seconds()
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        waits = (self.max_attempts - 1) * parse_duration(WEBHOOK_RETRY_WAIT).total_seconds()
        worst = self.max_attempts * timeout + waits
        if worst > _WEBHOOK_SIGNING_BUDGET_SECONDS:
            raise ValueError(
                f"{self.max_attempts} attempts of up to {self.timeout} each, "
                f"{WEBHOOK_RETRY_WAIT} apart, can take {worst:g} s: more than "
                f"{_WEBHOOK_SIGNING_BUDGET_SECONDS} s, so the last ones would carry a "
                "signature receivers refuse as too old; lower max_attempts or timeout"
            )
        return self
