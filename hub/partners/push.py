"""Messages partners push to the hub: verified, archived at once, processed after.

The carrier retries anything but a quick 2xx and then drops the event, so the answer
must be fast: the push is checked (signature, age) and its raw bytes archived before
the answer; mapping and storing happen afterwards, from the archive. A push whose
processing was interrupted stays archived; a run of the push connector stores it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.config.connector_spec import HttpPushTransportSpec, parse_duration
from hub.errors import HubError, NextAction
from hub.partners.ingest.message import MessageOutcome, ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.ports import MessageRef, RawMessage
from hub.store.archive import ArchivedMessage, archive_message
from hub.store.db import Database
from hub.store.events import StoredHook


class PushRefused(HubError):
    """The push is not provably from the partner (signature, timestamp): 401, nothing kept."""

    action = NextAction.REJECT_RECORD


class PushTooLarge(PushRefused):
    """The body is larger than the connector accepts."""


@dataclass(frozen=True)
class VerifiedPush:
    message: RawMessage
    signed_at: datetime | None


def verify_push(
    spec: HttpPushTransportSpec,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
) -> VerifiedPush:
    """Check the signature in constant time and the signing time against the tolerance."""
    if len(body) > spec.max_bytes:
        raise PushTooLarge(f"the body is {len(body)} bytes; at most {spec.max_bytes} accepted")
    lowered = {key.lower(): value for key, value in headers.items()}
    signature = lowered.get(spec.signature_header.lower())
    if not signature:
        raise PushRefused(f"unsigned push: no {spec.signature_header} header")
    signed_at: datetime | None = None
    message = body
    if spec.timestamp_header is not None:
        stamp = lowered.get(spec.timestamp_header.lower(), "")
        # ASCII digits only (str.isdigit also says yes to "²" and "٣"), and few enough to
        # be seconds that a datetime holds them (11 reach the year 5138).
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 11):
            raise PushRefused(f"missing or malformed {spec.timestamp_header} header")
        signed_at = datetime.fromtimestamp(int(stamp), UTC)
        age = (now or datetime.now(UTC)) - signed_at
        if abs(age) > parse_duration(spec.tolerance):
            raise PushRefused(
                f"push signed at {signed_at:%Y-%m-%dT%H:%M:%SZ}, outside the "
                f"{spec.tolerance} tolerance"
            )
        if spec.signed_content == "timestamp.body":
            message = stamp.encode("ascii") + b"." + body
    expected = (
        spec.signature_prefix
        + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    )
    if not hmac.compare_digest(
        expected.encode("ascii"), signature.strip().encode("ascii", "replace")
    ):
        raise PushRefused("the signature does not match the body")
    digest = hashlib.sha256(body).hexdigest()
    moment = signed_at or now or datetime.now(UTC)
    name = f"push-{moment:%Y%m%dT%H%M%SZ}-{digest[:16]}"
    return VerifiedPush(RawMessage(MessageRef(name, len(body), moment), body), signed_at)


def archive_push(database: Database, connector: str, push: VerifiedPush) -> ArchivedMessage:
    """Keep the raw bytes before answering: from here on nothing can be lost."""
    with database.transaction() as connection:
        return archive_message(connection, connector, push.message)


def process_push(
    database: Database,
    connector: str,
    pipeline: InboundPipeline,
    push: VerifiedPush,
    on_stored: StoredHook | None = None,
) -> MessageOutcome:
    """Map and store an archived push (after the answer was sent)."""
    return ingest_message(database, connector, pipeline, push.message, on_stored=on_stored)
