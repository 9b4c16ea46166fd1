"""A transport's run: list the messages, fetch each one not read yet, store it, then
acknowledge it (a file moved to the archive folder, where the partner wants that)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.partners.ingest.acknowledge import Acknowledger
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.ingest.report import RunReport, recorded_run
from hub.ports import MessageRef, Transport
from hub.store import inbound
from hub.store.db import Database, HeldConnection
from hub.store.events import StoredHook


def _read_state(held: HeldConnection, connector: str, ref: MessageRef) -> inbound.ReadState | None:
    """Whether this listed file was read already (by name, size and time), and acknowledged.
    One read: no transaction of its own on PostgreSQL (``alone``)."""
    with held.alone() as connection:
        return inbound.read_state(connection, connector, ref.name, ref.size, ref.modified_at)


def _mark_acknowledged(held: HeldConnection, connector: str, name: str, now: datetime) -> None:
    """One update, committed as it runs (``alone``): after the transport's acknowledgement."""
    with held.alone() as connection:
        inbound.mark_acknowledged(connection, connector, name, now)


def run_inbound(
    database: Database,
    connector: str,
    transport: Transport,
    pipeline: InboundPipeline,
    *,
    now: datetime | None = None,
    on_stored: StoredHook | None = None,
    acknowledger: Acknowledger | None = None,
) -> RunReport:
    """One run of an inbound connector: every complete message not read yet."""
    return recorded_run(
        database,
        connector,
        lambda report: read_inbound(
            database, transport, pipeline, report, on_stored=on_stored, acknowledger=acknowledger
        ),
        now=now,
    )


def read_inbound(
    database: Database,
    transport: Transport,
    pipeline: InboundPipeline,
    report: RunReport,
    *,
    on_stored: StoredHook | None = None,
    acknowledger: Acknowledger | None = None,
) -> None:
    """The work of an inbound connector's run: every complete message not read yet.

    A message is acknowledged (moved to the archive folder, where the partner wants
    that) only after its events are committed; a crash in between leaves it listed,
    and the next run recognises it and only finishes the acknowledgement.

    With an ``acknowledger``, the answer the partner expects is recorded as owed with
    each message and put after it; what an earlier run could not put goes first.
    """
    connector = report.connector
    on_read = None if acknowledger is None else acknowledger.record
    if acknowledger is not None:
        acknowledger.put_owed(database, transport)
    for ref in transport.list():
        report.counts.messages_seen += 1
        # One pool connection for the file's transactions (its state, its archive, its
        # events, its acknowledgement), each committed on its own (issue 17).
        with database.held() as held:
            state = _read_state(held, connector, ref)
            if state is not None:
                if not state.acknowledged:
                    transport.acknowledge(ref)
                    _mark_acknowledged(held, connector, ref.name, datetime.now(UTC))
                continue
            message = transport.fetch(ref)
            report.add(
                ingest_message(
                    database,
                    connector,
                    pipeline,
                    message,
                    run_id=report.run_id,
                    on_stored=on_stored,
                    on_read=on_read,
                    held=held,
                )
            )
            transport.acknowledge(ref)
            _mark_acknowledged(held, connector, ref.name, datetime.now(UTC))
        if acknowledger is not None:
            acknowledger.put_owed(database, transport)
