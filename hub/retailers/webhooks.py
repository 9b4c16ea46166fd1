"""Retailer webhooks: each case event POSTed to the retailer, signed per the Standard
Webhooks specification (https://www.standardwebhooks.com).

A retailer checks three headers before it trusts a POST: ``webhook-id`` (the message's
id, the same on every retry, so it can drop a repeat), ``webhook-timestamp`` (Unix
seconds, so a captured request cannot be replayed later) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed with the bytes of the
shared ``whsec_<base64>`` secret). The reference ``standardwebhooks`` library computes
the signature, so we send exactly what every receiver's library checks; this module adds
stricter checks of the secret, the id and the time before signing. Receivers refuse a
timestamp more than five minutes off, so a message is signed when it is sent, never when
it is queued: the outbox keeps only ``{"event_id": …}`` and the dispatcher calls
:func:`webhook_message` each time.

The payload says what the retailer's customer may see (labels in French and English) and
what support needs (the partner's raw code), with the instant in the offset the partner
gave: a local time is never relabelled as UTC.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from hub.config.connector_spec import WEBHOOK_RETRY_WAIT, WebhookSpec
from hub.config.registry import adapter
from hub.config.secrets import read_secrets
from hub.errors import ConfigurationError, FatalError
from hub.model.event import AnyStatus, Event, EventType
from hub.model.statuses import CaseStatus, Label
from hub.ports import AdapterKind, OutboundMessage, Sender

__all__ = [
    "CONTENT_TYPE",
    "EVENT_TYPE",
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TEST_EVENT_TYPE",
    "TIMESTAMP_HEADER",
    "InvalidWebhookSecret",
    "UnsignableMessage",
    "event_payload",
    "read_webhook_secret",
    "sign",
    "stored_event_payload",
    "test_payload",
    "webhook_message",
    "webhook_post_sender",
    "webhook_secret",
    "webhook_sender",
]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
CONTENT_TYPE = "application/json"
EVENT_TYPE = "case.event"
FAILED_EVENT_TYPE = "case.message_failed"
"""A message of the retailer's case gave up (a dead letter): correct the case to re-send it."""
TEST_EVENT_TYPE = "webhook.test"

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_SECRET_BYTES = 24
"""The specification's lower bound for a secret (192 bits): a shorter key is refused."""

# A message id goes in a header and in the signed text: visible ASCII without spaces
# (a space separates signatures), as long as the transport's idempotency key may be.
_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,255}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")

_BODY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""A webhook body's encoder, built once: ``json.dumps`` with these options builds one
for every body (issue 17). Compact UTF-8 JSON, NaN and infinities refused."""

_SIGNERS = 256
"""Secrets whose signer is kept: every configured webhook's and the registered
endpoints' (two each during a rotation), with room to spare."""


class InvalidWebhookSecret(ConfigurationError):
    """The secret is not ``whsec_`` followed by base64 of at least 24 bytes. The message
    names the variable it came from, never its value."""


class UnsignableMessage(FatalError):
    """A message that cannot be signed as given (no usable id, a naive or pre-1970 time,
    a payload that is not JSON): a fault of whatever built it, caught before sending."""


def webhook_secret(secret: str) -> bytes:
    """The HMAC key a ``whsec_<base64>`` secret stands for.

    Stricter than the reference libraries (which also take bare base64): the prefix
    tells a webhook secret from any other value put in the wrong variable.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidWebhookSecret(f"a webhook secret starts with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    if not _BASE64.fullmatch(encoded):
        raise InvalidWebhookSecret("a webhook secret is whsec_ followed by standard base64")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise InvalidWebhookSecret("a webhook secret's base64 part does not decode") from exc
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"a webhook secret must decode to at least {MIN_SECRET_BYTES} bytes "
            f"(it decodes to {len(key)})"
        )
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>`` over
    ``{id}.{timestamp}.{body}``, the body exactly as sent.

    The reference library signs; the secret goes to it as the key bytes
    :func:`webhook_secret` checked, since the library would take a bare or short one.
    """
    _check_message_id(message_id)
    return _signer(secret).sign(message_id, _signing_time(timestamp), body)


@lru_cache(maxsize=_SIGNERS)
def _signer(secret: str) -> Webhook:
    """The reference library's signer for ``secret``, checked (:func:`webhook_secret`)
    and built once: the same for every message of a receiver, and decoding the key
    twice (our check, then the library) cost a delivery more than its HMAC (issue 17).

    Kept by the secret's value, which this process holds anyway: a variable or an
    endpoint's secret that changes gets a signer of its own. A refused secret raises
    every time (an error is not kept)."""
    return Webhook(webhook_secret(secret))


def _signing_time(timestamp: int) -> datetime:
    """The instant the library signs, from the ``webhook-timestamp`` it goes with."""
    if timestamp < 0:
        raise UnsignableMessage(f"timestamp {timestamp} is before 1970")
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise UnsignableMessage(f"timestamp {timestamp} is out of range") from exc


def webhook_message(
    event_payload: Mapping[str, Any],
    *,
    message_id: str,
    secret: str | Sequence[str],
    now: datetime,
) -> OutboundMessage:
    """The signed POST for one event, its timestamp ``now`` (call it at send time).

    The body is compact UTF-8 JSON; the idempotency key is the message id, so the
    ``Idempotency-Key`` and ``webhook-id`` headers agree on every retry. Several secrets
    (the new and the previous one while a rotation's grace lasts) give one signature
    each, separated by spaces: a receiver accepts the message if any of them verifies.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise UnsignableMessage(f"webhook {message_id!r}: no secret to sign it with")
    _check_message_id(message_id)
    if now.tzinfo is None or now.utcoffset() is None:
        raise UnsignableMessage("the signing time must be timezone-aware")
    timestamp = math.floor(now.timestamp())
    try:
        body = _BODY.encode(event_payload).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise UnsignableMessage(
            f"webhook {message_id!r}: the payload is not JSON ({type(exc).__name__}: {exc})"
        ) from exc
    at = _signing_time(timestamp)
    signature = " ".join(_signer(each).sign(message_id, at, body) for each in secrets)
    return OutboundMessage(
        name=f"webhook {message_id}",
        content=body,
        content_type=CONTENT_TYPE,
        idempotency_key=message_id,
        headers={
            ID_HEADER: message_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature,
        },
    )


def event_payload(
    event: Event, case_ref: str, case_status_after: CaseStatus | None
) -> dict[str, Any]:
    """What the retailer receives for one event; ``case_status_after`` as the feed
    gives it (the case's status once this event is applied, unchanged by a late one).

    Field names follow the feed API's items; ``event_type`` holds the event's own type
    because ``type`` is the webhook's (``case.event``), as the specification advises.
    """
    return stored_event_payload(
        event_id=event.id,
        case_ref=case_ref,
        event_type=event.type,
        status=event.status,
        occurred_at=event.occurred_at,
        reported_by=event.reported_by,
        raw_code=event.raw_code,
        raw_label=event.raw_label,
        case_status_after=case_status_after,
    )


def stored_event_payload(
    *,
    event_id: str,
    case_ref: str,
    event_type: EventType,
    status: AnyStatus | None,
    occurred_at: datetime,
    reported_by: str,
    raw_code: str | None,
    raw_label: str | None,
    case_status_after: CaseStatus | None,
) -> dict[str, Any]:
    """:func:`event_payload` from an event's stored values, for the dispatcher, which
    reads a batch's bodies without rebuilding each event of their timelines as a model
    (issue 17): one body, whichever way it is built."""
    return {
        "type": EVENT_TYPE,
        "event_id": event_id,
        "case_reference": case_ref,
        "event_type": event_type.value,
        "status": None if status is None else status.value,
        "unmapped": status is None,
        "occurred_at": rfc3339(occurred_at),
        "reported_by": reported_by,
        "label": None if status is None else _label(status.label),
        "raw_code": raw_code,
        "raw_label": raw_label,
        "case_status_after": None if case_status_after is None else case_status_after.value,
    }


def _label(label: Label) -> dict[str, str]:
    return {"fr": label.fr, "en": label.en}


def rfc3339(moment: datetime) -> str:
    """An instant as the API writes every one: UTC, with ``Z`` (the API's models do the same
    through pydantic; a webhook body is built by hand, so it says it here)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_payload(*, endpoint_id: str, retailer: str, sent_at: datetime) -> dict[str, Any]:
    """What a retailer receives when it asks for a test event: enough to see that its
    endpoint and its signature check work, nothing about any case."""
    return {
        "type": TEST_EVENT_TYPE,
        "endpoint_id": endpoint_id,
        "retailer": retailer,
        "sent_at": rfc3339(sent_at),
    }


def read_webhook_secret(spec: WebhookSpec, environ: Mapping[str, str] | None = None) -> str:
    """The retailer's secret from the variable ``secret_env`` names, checked, so that a
    wrong value fails naming the variable rather than as a bad signature at the retailer."""
    env = os.environ if environ is None else environ
    value = env.get(spec.secret_env)
    if not value:  # unset or empty: refused as any connector's missing secret is
        value = read_secrets(f"webhook:{spec.retailer}", {"secret": spec.secret_env}, env)["secret"]
    try:
        _signer(value)
    except InvalidWebhookSecret as exc:
        raise InvalidWebhookSecret(f"${spec.secret_env}: {exc}") from None
    return value


def webhook_sender(spec: WebhookSpec, environ: Mapping[str, str] | None = None) -> Sender:
    """A POST client for the retailer's URL, with no credential of its own: each message
    carries its signature. Its retries stay within the signature's lifetime (see
    :class:`hub.config.connector_spec.WebhookSpec`); ``environ`` is unused here, since the
    secret is read when each message is signed, and kept for symmetry with connectors.
    """
    del environ
    return webhook_post_sender(
        spec.url,
        timeout=spec.timeout,
        max_attempts=spec.max_attempts,
        requests_per_second=spec.requests_per_second,
    )


def webhook_post_sender(
    url: str,
    *,
    timeout: str = "10s",
    max_attempts: int = 3,
    requests_per_second: float = 20,
) -> Sender:
    """A POST client for a webhook URL (the defaults are a configured webhook's).

    The transport comes from the ``http-webhook`` entry point, so the core imports no
    adapter: the http-post transport's rules over urllib3's connection pool, with no
    credentials, cookies or proxy, by design (a webhook carries its signature; issue 17).
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    post = adapter(AdapterKind.TRANSPORT, "http-webhook")
    try:
        settings = post.info.settings.model_validate(
            {
                "base_url": f"{parts.scheme}://{parts.netloc}",
                "post_path": f"{path}?{parts.query}" if parts.query else path,
                "content_type": CONTENT_TYPE,
                "requests_per_second": requests_per_second,
                "timeout": timeout,
                "max_attempts": max_attempts,
                "max_wait": WEBHOOK_RETRY_WAIT,
            }
        )
    except ValidationError as exc:
        raise ConfigurationError(
            f"the installed http-webhook transport refuses a webhook's settings: {exc}"
        ) from exc
    sender = post.info.factory(settings, {}, None)
    if not isinstance(sender, Sender):
        raise ConfigurationError("the installed http-webhook transport cannot send messages")
    return sender


def _check_message_id(message_id: str) -> None:
    if not _MESSAGE_ID.fullmatch(message_id):
        raise UnsignableMessage(
            "a webhook message id is 1 to 255 visible ASCII characters without spaces"
        )
