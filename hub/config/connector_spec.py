"""What a connector entry of connectors.yaml may say.

A connector ties one partner's mapping message to a transport and a schedule. Secrets
are never values here: fields ending in ``_env`` name the environment variable that
holds them, so the file can be committed and shown.
"""

from __future__ import annotations

import re
from string import Formatter
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.adapter_kind import AdapterKind
from hub.config.durations import parse_duration as parse_duration
from hub.config.registry import AdapterRef, secret_names
from hub.model.parties import PartyId

ConnectorName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=100)]
EnvName = Annotated[
    str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="An environment variable's name.")
]
Duration = Annotated[str, Field(pattern=r"^[0-9]+(s|m|h|d)$", description="e.g. 30s, 15m, 2h, 1d")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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


class TransportRef(AdapterRef):
    """A connector's transport: an installed transport adapter and its options."""

    kind: ClassVar[AdapterKind] = AdapterKind.TRANSPORT


class ReceiverRef(AdapterRef):
    """A connector's receiver: how the partner pushes to the hub (an installed receiver
    adapter, such as the built-in ``http-push``, and its options)."""

    kind: ClassVar[AdapterKind] = AdapterKind.RECEIVER


class AcknowledgementSpec(_Spec):
    """The acknowledgement a partner expects for each message it sends (an EDIFACT
    CONTRL): built by the connector's codec (``Capability.ACKNOWLEDGE``), kept in the
    store with its own control reference, and put through the connector's transport."""

    file_name: str = Field(
        min_length=1,
        max_length=255,
        description="The acknowledgement's file name; placeholders are the codec's values "
        "(edifact: {interchange}, {sender}, {recipient}), {reference} (the hub's control "
        "reference), {name} and {stem} (the received file's name, without its extension).",
    )
    reference_width: int = Field(
        default=8,
        ge=1,
        le=14,
        description="Digits of the control reference (a counter per connector), zero-padded.",
    )

    @model_validator(mode="after")
    def _template_parses(self) -> AcknowledgementSpec:
        try:
            fields = [field for _, field, _, _ in Formatter().parse(self.file_name) if field]
        except ValueError as exc:
            raise ValueError(f"file_name {self.file_name!r}: {exc}") from exc
        bad = [field for field in fields if not re.fullmatch(r"[a-z_]+", field)]
        if bad:
            raise ValueError(
                f"file_name {self.file_name!r}: placeholders are plain names such as "
                f"{{interchange}}, not {', '.join(bad)}"
            )
        return self


OpenItems = Literal["parcels", "references"]
"""What a pull object by object asks about (``ConnectorSpec.open_items``)."""


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
    transport: TransportRef | None = Field(
        default=None,
        description="The transport adapter (`type`, optionally its `package`) and its "
        "options: how the hub reaches the partner.",
    )
    receiver: ReceiverRef | None = Field(
        default=None,
        description="The receiver adapter (`type`, optionally its `package`) and its "
        "options: how the partner pushes to the hub, at /partners/{name}/events.",
    )
    open_items: OpenItems | None = Field(
        default=None,
        description="What a pull object by object asks the partner about (a per-item "
        "transport, or a paged one re-synchronising after the partner forgot the cursor): "
        "'parcels', the tracking numbers of its parcels not yet delivered or returned; "
        "'references', its own references of the unfinished cases it holds. Default: "
        "parcels for a per-item pull, references for a re-synchronisation.",
    )
    min_interval_per_item: Duration | None = Field(
        default=None,
        description="A pull object by object asks about each item at most once in this "
        "interval (e.g. 2h), whichever process runs it: the time each was last asked is "
        "kept in the store.",
    )
    acknowledgement: AcknowledgementSpec | None = Field(
        default=None,
        description="Answer each message read with the acknowledgement the codec builds "
        "(its codec must acknowledge, its transport put), under this file name.",
    )
    schedule: ScheduleSpec | None = None
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _push_is_a_receiver(cls, data: Any) -> Any:
        transport = data.get("transport") if isinstance(data, dict) else None
        if isinstance(transport, dict) and transport.get("type") == "http-push":
            raise ValueError(
                "http-push is a receiver: write it under `receiver:`, its authentication "
                "under `auth:` (docs/adapters.md, Receivers)"
            )
        return data

    @model_validator(mode="after")
    def _one_way_in(self) -> ConnectorSpec:
        if (self.transport is None) == (self.receiver is None):
            raise ValueError("give exactly one of transport or receiver")
        return self

    @property
    def pushed(self) -> bool:
        """The partner pushes to the hub (a receiver served by its API, no transport)."""
        return self.receiver is not None

    @property
    def adapter(self) -> TransportRef | ReceiverRef:
        """The way messages come and go: the receiver of a push, else the transport."""
        adapter = self.receiver if self.receiver is not None else self.transport
        assert adapter is not None, "checked when read"
        return adapter

    def secret_names(self) -> dict[str, str]:
        """Setting -> environment variable, for every secret this connector needs."""
        return secret_names(self.adapter.settings)


class CaseImportSpec(_Spec):
    """A drop folder (or server) where a retailer's ERP leaves its nightly case files.

    The files are in the hub's own case import format (the one ``POST /v1/cases/import``
    takes), so no mapping is needed: only where to read and for which retailer.
    """

    name: ConnectorName
    retailer: PartyId = Field(description="The tenant the cases belong to.")
    transport: TransportRef
    schedule: ScheduleSpec | None = None
    enabled: bool = True

    def secret_names(self) -> dict[str, str]:
        return secret_names(self.transport.settings)


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
