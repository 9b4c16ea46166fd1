"""Storing one message: archive its bytes, parse them, resolve cases, append the events.

The raw bytes are archived in their own transaction before anything parses them, so a
message is never lost even if its processing fails. Then, in one transaction, its
events are appended, its rejects recorded and the connector's "already read" state
advanced: the state can never run ahead of the events it stands for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.errors import PartnerDataError, WritersDeadlocked
from hub.logs import log_context
from hub.model.event import Event
from hub.partners.ingest.ahead import ChunksAhead
from hub.partners.ingest.pipeline import InboundPipeline, MessageRejected
from hub.partners.ingest.sequence import SequenceMark, WarningKind, advances, judge
from hub.partners.resolve import Learned, link_waiting, resolve_cases
from hub.partners.runs import RunCounts
from hub.ports import RawMessage
from hub.store import file_warnings, inbound, rejects
from hub.store.archive import ArchivedMessage, archive_message
from hub.store.db import (
    Connection,
    Database,
    HeldConnection,
    StoreBusy,
    StoreConflict,
    lost_to_a_rival,
)
from hub.store.events import CaseHead, MessageCases, StoredHook, append_events
from hub.store.runs import record_rejects
from hub.store.turns import take_storing_turn

CHUNK = 10_000
"""Events resolved and appended together: bounded memory for files of any size."""

DEADLOCK_RETRIES = 1
"""Times a message's storing unit is run again after PostgreSQL failed it to break a
deadlock (``_store_retried``)."""

logger = logging.getLogger(__name__)

ReadHook = Callable[[Connection, RawMessage, ArchivedMessage, bool], None]
"""Called in the transaction that stores a message: the message, its archive row, and
whether it had been stored before (the same bytes under the same name)."""


@dataclass
class MessageOutcome:
    """What one message gave; ``skipped`` means it had been processed before."""

    name: str
    message_id: int
    skipped: bool = False
    counts: RunCounts = field(default_factory=RunCounts)
    rejects: list[PartnerDataError] = field(default_factory=list)
    newest_at: datetime | None = None
    """The latest ``occurred_at`` of the message's events, new or already stored: where an
    incremental feed (``modified_since``) asks from next."""
    warnings: list[str] = field(default_factory=list)


def ingest_message(
    database: Database,
    connector: str,
    pipeline: InboundPipeline,
    message: RawMessage,
    *,
    run_id: int | None = None,
    now: datetime | None = None,
    after_store: Callable[[Connection, MessageOutcome], None] | None = None,
    on_stored: StoredHook | None = None,
    on_read: ReadHook | None = None,
    archived: ArchivedMessage | None = None,
    held: HeldConnection | None = None,
) -> MessageOutcome:
    """Archive, parse, resolve and store one message; returns its counts and rejects.

    ``after_store`` runs in the transaction that stores the events, with what they gave
    so far: where a paged source's cursor is advanced, so it never runs ahead of what it
    stands for. ``on_read`` runs there too, told the archived message and whether it had
    been stored before: where the acknowledgement the partner expects is recorded as owed.
    ``archived``: the message's archive row when the caller kept it already (a push,
    archived before its answer), so that it is not archived twice. ``held``: the
    connection the caller holds for its own transactions around this one (a run's, for
    each file it lists), used for both of the message's.
    """
    now = now or datetime.now(UTC)
    try:
        # One pool connection for both transactions (each still commits on its own: the
        # archive first, whatever the rest does): a checkout and a check-in less a message.
        with ExitStack() as own:
            if held is None:
                held = own.enter_context(database.held())
            if archived is None:
                # One insert (and, when the bytes are there already, a read): committed
                # as it runs, before anything parses the bytes (``alone``, issue 17).
                with held.alone() as connection:
                    archived = archive_message(connection, connector, message, now=now)
            with log_context(raw_id=archived.id):
                stored = _store_retried(
                    held,
                    connector,
                    pipeline,
                    message,
                    archived,
                    run_id,
                    now,
                    after_store,
                    on_stored,
                    on_read,
                )
                done = "seen before, skipped" if stored.skipped else f"stored ({stored.counts})"
                logger.info("%s: message %s %s", connector, message.ref.name, done)
                return stored
    except StoreConflict:
        if archived is None:
            raise
        # The same message processed at the same moment elsewhere (a push sent twice at
        # once, two processes): ours rolled back whole; theirs holds every event. Asked
        # on a connection of its own, whatever the held one's state.
        with database.reading() as connection:
            if not inbound.already_processed(
                connection, connector, message.ref.name, archived.sha256
            ):
                raise
        logger.info("%s: %s was stored by a concurrent ingestion", connector, message.ref.name)
        return MessageOutcome(message.ref.name, archived.id, skipped=True)


def _store_retried(
    held: HeldConnection,
    connector: str,
    pipeline: InboundPipeline,
    message: RawMessage,
    archived: ArchivedMessage,
    run_id: int | None,
    now: datetime,
    after_store: Callable[[Connection, MessageOutcome], None] | None,
    on_stored: StoredHook | None,
    on_read: ReadHook | None,
) -> MessageOutcome:
    """``_store_message``, run again once when PostgreSQL failed it to break a deadlock.

    A file locks its cases chunk by chunk as it reads them, not in one order over the
    whole file (its later chunks' cases are not known before they are parsed): two
    files naming the same cases in other orders can each hold what the other waits
    for, and PostgreSQL then fails one of them. Its unit rolled back whole, so it is
    run again from the archived bytes, alone (``hub.store.turns``): after every unit
    storing at that moment has ended, none beside it. Run again at once, it met the
    other unit's later chunks half-way again (``bench/opposite_files.py``: 4 chunks a
    file). Twice is a passing fault of the run (``WritersDeadlocked``): the file stays
    unread, for the next run (docs/architecture.md, "Lock order on PostgreSQL")."""
    attempts = 0
    while True:
        try:
            return _store_message(
                held,
                connector,
                pipeline,
                message,
                archived,
                MessageOutcome(message.ref.name, archived.id),
                run_id,
                now,
                after_store,
                on_stored,
                on_read,
                alone=attempts > 0,
            )
        except StoreBusy as error:
            if not lost_to_a_rival(error):
                raise
            attempts += 1
            said = str(error.orig).splitlines()[0]
            if attempts > DEADLOCK_RETRIES:
                raise WritersDeadlocked(
                    f"{connector}: {message.ref.name} not stored: the database failed it "
                    f"{attempts} times to let another writer go on ({said}); it stays "
                    "unread, for the next run"
                ) from error
            logger.warning(
                "%s: message %s rolled back by the database to let another writer go on "
                "(%s): stored again",
                connector,
                message.ref.name,
                said,
            )


def _store_message(
    held: HeldConnection,
    connector: str,
    pipeline: InboundPipeline,
    message: RawMessage,
    archived: ArchivedMessage,
    outcome: MessageOutcome,
    run_id: int | None,
    now: datetime,
    after_store: Callable[[Connection, MessageOutcome], None] | None,
    on_stored: StoredHook | None,
    on_read: ReadHook | None,
    *,
    alone: bool = False,
) -> MessageOutcome:
    """The message's storing unit; ``alone``: in the storing turn of its own."""
    with held.transaction() as connection:
        take_storing_turn(connection, alone=alone)
        # Bytes the archive had not seen cannot have been read before (it keeps every
        # message's row, and a read mark names its archived message): no query for them.
        if archived.duplicate and inbound.already_processed(
            connection, connector, message.ref.name, archived.sha256
        ):
            # Its events are committed already, so what stands for them (a page's cursor)
            # may move on: a run resumed after a crash does not read the page again.
            if on_read is not None:
                on_read(connection, message, archived, True)
            outcome.skipped = True
            if after_store is not None:
                after_store(connection, outcome)
            return outcome
        outcome.counts.messages_read = 1
        items = pipeline.parse(message.content, source=message.ref.name, recorded_at=now)
        learned = Learned(references=set(), given=set())
        kept = MessageCases(now)
        with ChunksAhead(items, CHUNK, ahead=held.works_apart) as chunks:
            for chunk in chunks:
                _store_chunk(
                    connection,
                    connector,
                    chunk,
                    archived.id,
                    outcome,
                    learned,
                    kept,
                    run_id,
                    now,
                    on_stored,
                )
        _check_sequence(connection, connector, pipeline, message, archived.id, outcome, run_id, now)
        if not any(isinstance(problem, MessageRejected) for problem in outcome.rejects):
            # Read whole: what it re-sent under a name seen before, or brought again
            # corrected, is fixed.
            rejects.mark_fixed_by_later_file(
                connection,
                connector,
                message.ref.name,
                archived.id,
                {rejects.key_of(problem) for problem in outcome.rejects},
                reports=outcome.counts.events_stored > 0,
                run_id=run_id,
                now=now,
            )
        if after_store is not None:
            after_store(connection, outcome)
        if on_read is not None:
            on_read(connection, message, archived, False)
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


def _check_sequence(
    connection: Connection,
    connector: str,
    pipeline: InboundPipeline,
    message: RawMessage,
    message_id: int,
    outcome: MessageOutcome,
    run_id: int | None,
    now: datetime,
) -> None:
    """Judge the file's number against the last one kept, in the transaction storing the
    file. A file refused whole still counts as received: the partner re-sends it
    corrected under the next number, which is then no gap."""
    spec = pipeline.mapping.spec.sequence
    mark = pipeline.sequence_mark(message.content, source=message.ref.name)
    if spec is None or mark is None:
        return
    kept = file_warnings.last_sequence(connection, connector)
    last = None if kept is None else SequenceMark.load(kept)
    verdict = judge(spec, last, mark)
    if verdict is not None:
        gap = verdict.kind is WarningKind.SEQUENCE_GAP  # a lost file: the loudest
        logger.log(logging.WARNING if gap else logging.INFO, "%s: %s", connector, verdict.reason)
        file_warnings.record_warning(
            connection,
            connector,
            kind=verdict.kind.value,
            reason=verdict.reason,
            source=message.ref.name,
            message_id=message_id,
            run_id=run_id,
            now=now,
        )
        outcome.warnings.append(verdict.reason)
    if advances(spec, last, mark):
        file_warnings.keep_sequence(connection, connector, mark.dump(), now=now)


def _store_chunk(
    connection: Connection,
    connector: str,
    chunk: list[Event | PartnerDataError],
    message_id: int,
    outcome: MessageOutcome,
    learned: Learned,
    kept: MessageCases,
    run_id: int | None,
    now: datetime,
    on_stored: StoredHook | None,
) -> None:
    """One chunk's events resolved and appended, its rejects recorded, counts added.
    ``kept``: the cases as the message's earlier chunks left them, forgotten when another
    writer (the sync rules, events attached to their cases) may have changed them."""
    counts = outcome.counts
    events: list[Event] = []
    problems: list[PartnerDataError] = []
    for item in chunk:
        if isinstance(item, Event):
            events.append(item)
        else:
            problems.append(item)
    if events:
        newest = max(event.occurred_at for event in events)
        if outcome.newest_at is None or newest > outcome.newest_at:
            outcome.newest_at = newest
    counts.records_read += len(chunk) - sum(
        1 for problem in problems if isinstance(problem, MessageRejected)
    )
    heads: dict[str, CaseHead] = {}
    resolved = resolve_cases(connection, events, learned=learned, heads=heads)
    result = append_events(
        connection, resolved, message_id=message_id, now=now, heads_read=heads, kept=kept
    )
    if result.stored_ids:
        new = set(result.stored_ids)
        stored = [event for event in resolved if event.id in new]
        if on_stored is not None:
            on_stored(connection, stored)
            kept.forget()
        if link_waiting(connection, stored, on_stored):
            kept.forget()
    counts.events_stored += result.stored
    counts.duplicates += result.duplicates
    counts.unmapped += result.unmapped
    counts.orphans += result.orphans
    counts.rejected += len(problems)
    record_rejects(connection, connector, problems, run_id=run_id, message_id=message_id, now=now)
    outcome.rejects.extend(problems)
