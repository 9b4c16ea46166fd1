"""The run that stores archived messages that never reached the store: a push
connector's work (pushes are archived on arrival), and recovery after a crash."""

from __future__ import annotations

from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.ingest.report import RunReport, recorded_run
from hub.ports import MessageRef, RawMessage
from hub.store import inbound
from hub.store.archive import message_content
from hub.store.db import Database
from hub.store.events import StoredHook


def replay_unprocessed(
    database: Database,
    connector: str,
    pipeline: InboundPipeline,
    *,
    on_stored: StoredHook | None = None,
) -> RunReport:
    """Store every archived message of the connector that never reached the store."""
    return recorded_run(
        database,
        connector,
        lambda report: read_unprocessed(database, pipeline, report, on_stored=on_stored),
    )


def read_unprocessed(
    database: Database,
    pipeline: InboundPipeline,
    report: RunReport,
    *,
    on_stored: StoredHook | None = None,
) -> None:
    """The work of a push connector's run: the pushes archived but never stored."""
    connector = report.connector
    for message in unprocessed_messages(database, connector):
        report.counts.messages_seen += 1
        report.add(
            ingest_message(
                database, connector, pipeline, message, run_id=report.run_id, on_stored=on_stored
            )
        )


def unprocessed_messages(database: Database, connector: str) -> list[RawMessage]:
    """Archived messages of the connector with no trace of being processed."""
    with database.reading() as connection:
        return [
            RawMessage(
                MessageRef(ref.name, None, ref.received_at), message_content(connection, ref.id)
            )
            for ref in inbound.unprocessed(connection, connector)
        ]
