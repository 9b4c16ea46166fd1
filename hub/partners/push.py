"""Messages partners push to the hub: authenticated, archived at once, processed after.

Partners retry anything but a quick 2xx and then drop the message, so the answer must be
fast: the connector's receiver (an adapter of ``hub.receivers``) authenticates the push,
its raw bytes are archived in their own short transaction, and only then is the answer
rendered; mapping and storing happen afterwards, from the archive. A push whose
processing was interrupted stays archived; a run of the push connector stores it.

Pushes leave run records without a transaction of their own: one record per connector
and hour (``PUSH_WINDOW``), found or opened in the transaction that archives a push and
added to in the one that stores it, so `hub runs` shows what a push connector received,
stored and rejected, and its rejects name that record like any run's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hub.config.connector_spec import ReceiverRef
from hub.config.registry import secret_names
from hub.config.secrets import read_secrets
from hub.errors import ConfigurationError
from hub.partners.connectors import Connector, Network
from hub.partners.ingest.message import MessageOutcome, ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.runs import RunCounts
from hub.ports import AcceptedPush, PushRequest, Receiver
from hub.store import runs
from hub.store.archive import ArchivedMessage, archive_message
from hub.store.db import Connection, Database
from hub.store.events import StoredHook

__all__ = [
    "PUSH_WINDOW",
    "ArchivedPush",
    "PushEndpoint",
    "archive_push",
    "build_receiver",
    "process_push",
    "push_endpoints",
    "push_request",
    "push_window",
]

PUSH_WINDOW = timedelta(hours=1)
"""How much of a connector's pushes one run record adds up: an operator reads an hour of
pushes as one line of `hub runs`, and a busy connector does not fill the list."""


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


def push_window(at: datetime) -> datetime:
    """The start of the window (an hour, in UTC) whose record counts a push made at ``at``."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    return start + (at - start) // PUSH_WINDOW * PUSH_WINDOW


@dataclass(frozen=True)
class ArchivedPush:
    """A push kept in the archive, and the run record of its window that will count it."""

    message: ArchivedMessage
    run_id: int


def archive_push(
    database: Database, connector: str, push: AcceptedPush, now: datetime | None = None
) -> ArchivedPush:
    """Keep the raw bytes before answering: from here on nothing can be lost. The push is
    counted as seen by its window's record in the same transaction."""
    now = now or datetime.now(UTC)
    with database.transaction() as connection:
        archived = archive_message(connection, connector, push.message, now=now)
        run_id = runs.push_window_run(connection, connector, push_window(now), now)
    return ArchivedPush(archived, run_id)


def process_push(
    database: Database,
    connector: str,
    pipeline: InboundPipeline,
    push: AcceptedPush,
    archived: ArchivedPush,
    on_stored: StoredHook | None = None,
    now: datetime | None = None,
) -> MessageOutcome:
    """Map and store an archived push (after the answer was sent); what it gave is added
    to its window's record in the transaction that stores it."""
    now = now or datetime.now(UTC)

    def count(connection: Connection, outcome: MessageOutcome) -> None:
        runs.add_to_run(connection, archived.run_id, _stored_counts(outcome.counts), now)

    return ingest_message(
        database,
        connector,
        pipeline,
        push.message,
        run_id=archived.run_id,
        now=now,
        after_store=count,
        on_stored=on_stored,
        archived=archived.message,
    )


def _stored_counts(counts: RunCounts) -> RunCounts:
    """What storing the push adds: it was counted as seen when it was archived."""
    return replace(counts, messages_seen=0)
