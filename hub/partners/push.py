"""Messages partners push to the hub: authenticated, archived at once, processed after.

Partners retry anything but a quick 2xx and then drop the message, so the answer must be
fast: the connector's receiver (an adapter of ``hub.receivers``) authenticates the push,
its raw bytes are archived in their own short transaction, and only then is the answer
rendered; mapping and storing happen afterwards, from the archive. A push whose
processing was interrupted stays archived; a run of the push connector stores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.config.connector_spec import ReceiverRef
from hub.config.registry import secret_names
from hub.config.secrets import read_secrets
from hub.errors import ConfigurationError
from hub.partners.connectors import Connector, Network
from hub.partners.ingest.message import MessageOutcome, ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.ports import AcceptedPush, PushRequest, Receiver
from hub.store.archive import ArchivedMessage, archive_message
from hub.store.db import Database
from hub.store.events import StoredHook

__all__ = [
    "PushEndpoint",
    "archive_push",
    "build_receiver",
    "process_push",
    "push_endpoints",
    "push_request",
]


def build_receiver(connector: str, ref: ReceiverRef) -> Receiver:
    """The connector's receiver, its secrets read from the environment now (a missing one
    is a MissingSecret: the connector is not configured to receive)."""
    secrets = read_secrets(connector, secret_names(ref.settings))
    receiver = ref.adapter().info.factory(ref.settings, secrets)
    if not isinstance(receiver, Receiver):
        raise ConfigurationError(
            f"connector {connector!r}: the {ref.type} receiver's factory built a "
            f"{type(receiver).__name__}, not a Receiver"
        )
    return receiver


@dataclass
class PushEndpoint:
    """A connector partners push to; its receiver is built on the first push that finds
    its secrets set, then kept."""

    connector: Connector
    ref: ReceiverRef
    _receiver: Receiver | None = None

    def receiver(self) -> Receiver:
        if self._receiver is None:
            self._receiver = build_receiver(self.connector.name, self.ref)
        return self._receiver


def push_endpoints(network: Network | None) -> dict[str, PushEndpoint]:
    """Every enabled connector with a receiver, by name, loaded once when the app starts."""
    if network is None:
        return {}
    return {
        spec.name: PushEndpoint(network.connector(spec.name), spec.receiver)
        for spec in network.config.connectors
        if spec.receiver is not None and spec.enabled
    }


def push_request(
    headers: Mapping[str, str],
    body: bytes,
    query: Mapping[str, str],
    client: str | None,
    now: datetime | None = None,
) -> PushRequest:
    """The request as receivers see it: header names lower-cased, the time it came."""
    lowered = {key.lower(): value for key, value in headers.items()}
    return PushRequest(lowered, body, dict(query), client, now or datetime.now(UTC))


def archive_push(database: Database, connector: str, push: AcceptedPush) -> ArchivedMessage:
    """Keep the raw bytes before answering: from here on nothing can be lost."""
    with database.transaction() as connection:
        return archive_message(connection, connector, push.message)


def process_push(
    database: Database,
    connector: str,
    pipeline: InboundPipeline,
    push: AcceptedPush,
    on_stored: StoredHook | None = None,
) -> MessageOutcome:
    """Map and store an archived push (after the answer was sent)."""
    return ingest_message(database, connector, pipeline, push.message, on_stored=on_stored)
