"""Ingestion: transport -> archive -> codec -> mapping -> store, one message at a time.

The raw bytes are archived in their own transaction before anything parses them, so a
message is never lost even if its processing fails. Then, in one transaction, its
events are appended, its rejects recorded and the connector's "already read" state
advanced: the state can never run ahead of the events it stands for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import islice

from hub.errors import ConfigurationError, CursorExpired, FatalError, HubError, PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.model.event import Event
from hub.partners.resolve import Learned, resolve_cases
from hub.partners.runs import RunCounts
from hub.partners.supervisor import recorded
from hub.ports import Codec, DocumentCodec, MessageRef, PagedSource, RawMessage, Record, Transport
from hub.store import inbound
from hub.store.archive import ArchivedMessage, archive_message, message_content
from hub.store.connector_state import read_cursor, write_cursor
from hub.store.db import Connection, Database, StoreConflict
from hub.store.events import StoredHook, append_events
from hub.store.runs import record_rejects

CHUNK = 10_000
"""Events resolved and appended together: bounded memory for files of any size."""


class MessageRejected(PartnerDataError):
    """The whole message is unusable (its header changed, it is not CSV...)."""


@dataclass(frozen=True)
class InboundPipeline:
    """The pure half of ingestion: bytes to events and rejects, no store involved."""

    codec: Codec
    mapping: InboundMapping

    def parse(
        self, content: bytes, *, source: str, recorded_at: datetime
    ) -> Iterator[Event | PartnerDataError]:
        """Every record's event or rejection, in file order; never raises for bad data."""
        records = self.codec.decode(content, source=source)
        while True:
            try:
                item = next(records)
            except StopIteration:
                return
            except PartnerDataError as whole:
                yield MessageRejected(
                    f"the whole message is rejected: {whole.reason}",
                    location=whole.location,
                    raw=whole.raw,
                )
                return
            if isinstance(item, Record):
                yield self.mapping.map_record(item, source=source, recorded_at=recorded_at)
            else:
                yield item


logger = logging.getLogger(__name__)


@dataclass
class MessageOutcome:
    """What one message gave; ``skipped`` means it had been processed before."""

    name: str
    message_id: int
    skipped: bool = False
    counts: RunCounts = field(default_factory=RunCounts)
    rejects: list[PartnerDataError] = field(default_factory=list)


def ingest_message(
    database: Database,
    connector: str,
    pipeline: InboundPipeline,
    message: RawMessage,
    *,
    run_id: int | None = None,
    now: datetime | None = None,
    after_store: Callable[[Connection], None] | None = None,
    on_stored: StoredHook | None = None,
) -> MessageOutcome:
    """Archive, parse, resolve and store one message; returns its counts and rejects.

    ``after_store`` runs in the transaction that stores the events: where a paged
    source's cursor is advanced, so it never runs ahead of what it stands for.
    """
    now = now or datetime.now(UTC)
    with database.transaction() as connection:
        archived = archive_message(connection, connector, message, now=now)
    outcome = MessageOutcome(message.ref.name, archived.id)
    try:
        return _store_message(
            database,
            connector,
            pipeline,
            message,
            archived,
            outcome,
            run_id,
            now,
            after_store,
            on_stored,
        )
    except StoreConflict:
        # The same message processed at the same moment elsewhere (a push sent twice at
        # once, two processes): ours rolled back whole; theirs holds every event.
        with database.transaction() as connection:
            if not inbound.already_processed(
                connection, connector, message.ref.name, archived.sha256
            ):
                raise
        logger.info("%s: %s was stored by a concurrent ingestion", connector, message.ref.name)
        return MessageOutcome(message.ref.name, archived.id, skipped=True)


def _store_message(
    database: Database,
    connector: str,
    pipeline: InboundPipeline,
    message: RawMessage,
    archived: ArchivedMessage,
    outcome: MessageOutcome,
    run_id: int | None,
    now: datetime,
    after_store: Callable[[Connection], None] | None,
    on_stored: StoredHook | None,
) -> MessageOutcome:
    with database.transaction() as connection:
        if inbound.already_processed(connection, connector, message.ref.name, archived.sha256):
            outcome.skipped = True
            return outcome
        outcome.counts.messages_read = 1
        items = pipeline.parse(message.content, source=message.ref.name, recorded_at=now)
        learned = Learned(references=set(), given=set())
        while chunk := list(islice(items, CHUNK)):
            _store_chunk(
                connection, connector, chunk, archived.id, outcome, learned, run_id, now, on_stored
            )
        if after_store is not None:
            after_store(connection)
        inbound.mark_read(
            connection,
            connector,
            name=message.ref.name,
            size=len(message.content),
            modified_at=message.ref.modified_at,
            sha256=archived.sha256,
            message_id=archived.id,
            run_id=run_id,
            read_at=now,
        )
    return outcome


def _store_chunk(
    connection: Connection,
    connector: str,
    chunk: list[Event | PartnerDataError],
    message_id: int,
    outcome: MessageOutcome,
    learned: Learned,
    run_id: int | None,
    now: datetime,
    on_stored: StoredHook | None,
) -> None:
    """One chunk's events resolved and appended, its rejects recorded, counts added."""
    counts = outcome.counts
    events = [item for item in chunk if isinstance(item, Event)]
    problems = [item for item in chunk if not isinstance(item, Event)]
    counts.records_read += sum(1 for item in chunk if not isinstance(item, MessageRejected))
    resolved = resolve_cases(connection, events, learned=learned)
    result = append_events(connection, resolved, message_id=message_id, now=now)
    if on_stored is not None and result.stored_ids:
        new = set(result.stored_ids)
        on_stored(connection, [event for event in resolved if event.id in new])
    counts.events_stored += result.stored
    counts.duplicates += result.duplicates
    counts.unmapped += result.unmapped
    counts.orphans += result.orphans
    counts.rejected += len(problems)
    record_rejects(connection, connector, problems, run_id=run_id, message_id=message_id, now=now)
    outcome.rejects.extend(problems)


def _read_state(database: Database, connector: str, ref: MessageRef) -> inbound.ReadState | None:
    """Whether this listed file was read already (by name, size and time), and acknowledged."""
    with database.transaction() as connection:
        return inbound.read_state(connection, connector, ref.name, ref.size, ref.modified_at)


def _mark_acknowledged(database: Database, connector: str, name: str, now: datetime) -> None:
    with database.transaction() as connection:
        inbound.mark_acknowledged(connection, connector, name, now)


@dataclass
class RunReport:
    """What one run read and stored, and the error that stopped it (hub.partners.supervisor)."""

    run_id: int
    connector: str
    counts: RunCounts = field(default_factory=RunCounts)
    messages: list[MessageOutcome] = field(default_factory=list)
    error: HubError | None = None


def recorded_run(
    database: Database,
    connector: str,
    work: Callable[[RunReport], object],
    *,
    now: datetime | None = None,
) -> RunReport:
    """``work`` as a recorded run of the connector, without its lease (tests, tools)."""
    return recorded(database, connector, partial(RunReport, connector=connector), work, now=now)


def run_inbound(
    database: Database,
    connector: str,
    transport: Transport,
    pipeline: InboundPipeline,
    *,
    now: datetime | None = None,
    on_stored: StoredHook | None = None,
) -> RunReport:
    """One run of an inbound connector: every complete message not read yet."""
    return recorded_run(
        database,
        connector,
        lambda report: read_inbound(database, transport, pipeline, report, on_stored=on_stored),
        now=now,
    )


def read_inbound(
    database: Database,
    transport: Transport,
    pipeline: InboundPipeline,
    report: RunReport,
    *,
    on_stored: StoredHook | None = None,
) -> None:
    """The work of an inbound connector's run: every complete message not read yet.

    A message is acknowledged (moved to the archive folder, where the partner wants
    that) only after its events are committed; a crash in between leaves it listed,
    and the next run recognises it and only finishes the acknowledgement.
    """
    connector = report.connector
    for ref in transport.list():
        report.counts.messages_seen += 1
        state = _read_state(database, connector, ref)
        if state is not None:
            if not state.acknowledged:
                transport.acknowledge(ref)
                _mark_acknowledged(database, connector, ref.name, datetime.now(UTC))
            continue
        message = transport.fetch(ref)
        outcome = ingest_message(
            database, connector, pipeline, message, run_id=report.run_id, on_stored=on_stored
        )
        report.messages.append(outcome)
        report.counts.add(outcome.counts)
        transport.acknowledge(ref)
        _mark_acknowledged(database, connector, ref.name, datetime.now(UTC))


MAX_PAGES_PER_RUN = 10_000
"""A runaway guard: a partner that always says "more" cannot keep a run alive forever."""


class CursorLoop(FatalError):
    """The partner handed back a cursor already used in this run: paging would loop."""


def _document_codec(pipeline: InboundPipeline) -> DocumentCodec:
    if not isinstance(pipeline.codec, DocumentCodec):
        raise ConfigurationError("a paged connector needs a codec that reads document fields")
    return pipeline.codec


def read_items(
    database: Database,
    source: PagedSource,
    pipeline: InboundPipeline,
    keys: Sequence[str],
    report: RunReport,
    *,
    on_stored: StoredHook | None = None,
) -> None:
    """The work of a run that pulls objects one by one, by their keys."""
    connector = report.connector
    for key in keys:
        message = source.fetch_item(key)
        report.counts.messages_seen += 1
        outcome = ingest_message(
            database, connector, pipeline, message, run_id=report.run_id, on_stored=on_stored
        )
        report.messages.append(outcome)
        report.counts.add(outcome.counts)


def run_items(
    database: Database,
    connector: str,
    source: PagedSource,
    pipeline: InboundPipeline,
    keys: Sequence[str],
    *,
    on_stored: StoredHook | None = None,
) -> RunReport:
    """One run that pulls objects one by one (a carrier's parcels still in transit)."""
    return recorded_run(
        database,
        connector,
        lambda report: read_items(database, source, pipeline, keys, report, on_stored=on_stored),
    )


def run_paged(
    database: Database,
    connector: str,
    source: PagedSource,
    pipeline: InboundPipeline,
    *,
    next_field: str = "next",
    more_field: str | None = "more",
    resync: tuple[InboundPipeline, Callable[[], Sequence[str]]] | None = None,
    on_stored: StoredHook | None = None,
) -> RunReport:
    """One run of a paged source: every page after the stored cursor, oldest first."""
    return recorded_run(
        database,
        connector,
        lambda report: read_pages(
            database,
            source,
            pipeline,
            report,
            next_field=next_field,
            more_field=more_field,
            resync=resync,
            on_stored=on_stored,
        ),
    )


def read_pages(
    database: Database,
    source: PagedSource,
    pipeline: InboundPipeline,
    report: RunReport,
    *,
    next_field: str = "next",
    more_field: str | None = "more",
    resync: tuple[InboundPipeline, Callable[[], Sequence[str]]] | None = None,
    on_stored: StoredHook | None = None,
) -> None:
    """The work of a paged source's run: every page after the stored cursor, oldest first.

    Each page's events and the cursor it hands over are committed together. A cursor
    the partner no longer knows triggers the re-synchronisation ``resync`` describes
    (the pipeline for single objects, and the keys of the open ones), then paging
    starts again from the beginning: already stored events are recognised, not doubled.
    """
    connector, run_id = report.connector, report.run_id
    codec = _document_codec(pipeline)
    with database.transaction() as connection:
        cursor = read_cursor(connection, connector)
    used: set[str | None] = {cursor}
    resynced = False
    for _ in range(MAX_PAGES_PER_RUN):
        try:
            page = source.fetch_page(cursor)
        except CursorExpired:
            if resync is None or resynced:
                raise
            resynced = True
            item_pipeline, open_keys = resync
            read_items(database, source, item_pipeline, open_keys(), report, on_stored=on_stored)
            cursor = None
            used = {None}
            continue
        report.counts.messages_seen += 1
        document = codec.document_fields(page.content, source=page.ref.name)
        following = document.get(next_field) or cursor
        more = more_field is not None and (document.get(more_field) or "").lower() == "true"
        if more and following in used:
            raise CursorLoop(
                f"{connector}: the partner returned cursor {following!r} again; "
                "stopping instead of looping"
            )

        def advance(connection: Connection, value: str | None = following) -> None:
            if value is not None:
                write_cursor(connection, connector, value)

        outcome = ingest_message(
            database,
            connector,
            pipeline,
            page,
            run_id=run_id,
            after_store=advance,
            on_stored=on_stored,
        )
        report.messages.append(outcome)
        report.counts.add(outcome.counts)
        used.add(following)
        cursor = following
        if not more:
            break
    else:
        raise CursorLoop(f"{connector}: more than {MAX_PAGES_PER_RUN} pages in one run")


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
        outcome = ingest_message(
            database, connector, pipeline, message, run_id=report.run_id, on_stored=on_stored
        )
        report.messages.append(outcome)
        report.counts.add(outcome.counts)


def unprocessed_messages(database: Database, connector: str) -> list[RawMessage]:
    """Archived messages of the connector with no trace of being processed."""
    with database.transaction() as connection:
        return [
            RawMessage(
                MessageRef(ref.name, None, ref.received_at), message_content(connection, ref.id)
            )
            for ref in inbound.unprocessed(connection, connector)
        ]
