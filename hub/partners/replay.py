"""Replay: archived raw messages processed again through today's mapping.

Why: a mapping is fixed (a code added, a date format corrected) after messages came in;
the facts they carry must now reach the store, without doubling anything.

The store de-duplicates on the stable event id, so what was stored already is recognised
and left alone. One case needs more: an event stored unmapped (its code unknown then)
that today's mapping maps. The unmapped event stays (the store only appends), and the
mapped one is stored beside it under the first id plus ``#remapped``; the status queries
then count the code as fixed. Replaying again finds both ids and stores nothing. A row
rejected again for the same reason is not recorded twice.

A replay is a run of the connector (shown by ``hub runs``), marked in ``replays`` so that
it neither clears nor adds to the connector's failures in a row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import islice

from hub.errors import ConfigurationError, HubError, NotFoundError, PartnerDataError
from hub.model.event import Event
from hub.operators.listings import remapped_id, require_known
from hub.partners.connectors import Network
from hub.partners.ingest.message import CHUNK
from hub.partners.ingest.pipeline import InboundPipeline, MessageRejected
from hub.partners.resolve import link_waiting, resolve_cases
from hub.partners.runs import ReplayMark, RunCounts
from hub.partners.supervisor import recorded
from hub.store import replays
from hub.store.archive import message_content
from hub.store.db import Connection, Database
from hub.store.events import StoredHook, append_events
from hub.store.rejects import RejectKey, kept_reject_keys, key_of, mark_fixed_by_replay
from hub.store.runs import record_rejects

logger = logging.getLogger(__name__)

MAX_EVENT_ID = 200


@dataclass
class ReplayReport:
    """What a replay did: its run, the usual counts, and how many codes now map."""

    run_id: int
    connector: str
    counts: RunCounts = field(default_factory=RunCounts)
    remapped: int = 0
    """Events stored mapped that had been stored unmapped."""
    fixed: int = 0
    """Rejects kept for these messages that today's mapping reads without refusing."""
    message_ids: list[int] = field(default_factory=list)
    rejects: list[PartnerDataError] = field(default_factory=list)
    error: HubError | None = None


def messages_since(database: Database, connector: str, since: datetime) -> list[int]:
    """Ids of the connector's archived messages received at or after ``since``, oldest first."""
    with database.reading() as connection:
        return replays.message_ids_since(connection, connector, since)


def message_source(database: Database, message_id: int) -> str:
    """The connector an archived message came from."""
    with database.reading() as connection:
        archived = replays.archived_name(connection, message_id)
    if archived is None:
        raise NotFoundError(f"no archived message with id {message_id}")
    return archived.source


def _pipeline(network: Network, connector: str) -> tuple[InboundPipeline, StoredHook | None]:
    require_known(network.config, connector)
    if network.config.case_import(connector) is not None:
        raise ConfigurationError(
            f"{connector!r} is a retailer's drop folder: its files are case imports, which "
            "`hub run` re-reads idempotently; there is no mapping to replay them through"
        )
    built = network.connector(connector)
    if not built.inbound:
        raise ConfigurationError(f"connector {connector!r} only sends; it has nothing to replay")
    return built.pipeline(), built.on_stored


def replay_message(
    database: Database, network: Network, message_id: int, *, requested_by: str = "operator"
) -> ReplayReport:
    """Replay one archived message through its connector's mapping of today."""
    connector = message_source(database, message_id)
    return _replay(database, network, connector, [message_id], None, requested_by, None)


def replay_connector(
    database: Database,
    network: Network,
    connector: str,
    since: datetime,
    *,
    requested_by: str = "operator",
    on_message: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Replay every archived message of the connector since ``since``, oldest first.

    ``on_message`` is called with each message id once it is done (a progress bar).
    """
    require_known(network.config, connector)
    ids = messages_since(database, connector, since)
    return _replay(database, network, connector, ids, since, requested_by, on_message)


def _replay(
    database: Database,
    network: Network,
    connector: str,
    message_ids: Sequence[int],
    since: datetime | None,
    requested_by: str,
    on_message: Callable[[int], None] | None,
) -> ReplayReport:
    pipeline, hook = _pipeline(network, connector)
    single = message_ids[0] if since is None and len(message_ids) == 1 else None

    def work(report: ReplayReport) -> None:
        for message_id in message_ids:
            _replay_one(database, connector, pipeline, hook, message_id, report)
            report.message_ids.append(message_id)
            if on_message is not None:
                on_message(message_id)

    return recorded(
        database,
        connector,
        partial(ReplayReport, connector=connector),
        work,
        replay=ReplayMark(message_id=single, since=since, requested_by=requested_by),
    )


def _replay_one(
    database: Database,
    connector: str,
    pipeline: InboundPipeline,
    hook: StoredHook | None,
    message_id: int,
    report: ReplayReport,
) -> None:
    now = datetime.now(UTC)
    counts = report.counts
    with database.transaction() as connection:
        archived = replays.archived_name(connection, message_id)
        if archived is None:
            raise NotFoundError(f"no archived message with id {message_id}")
        content = message_content(connection, message_id)
        counts.messages_seen += 1
        counts.messages_read += 1
        known_rejects = kept_reject_keys(connection, message_id)
        refused_again: set[RejectKey] = set()
        refused_whole = False
        items = pipeline.parse(content, source=archived.name, recorded_at=now)
        while chunk := list(islice(items, CHUNK)):
            parsed = [item for item in chunk if isinstance(item, Event)]
            problems = [item for item in chunk if not isinstance(item, Event)]
            counts.records_read += sum(1 for item in chunk if not isinstance(item, MessageRejected))
            renamed, remapped = _remap(connection, parsed)
            resolved = resolve_cases(connection, renamed)
            result = append_events(connection, resolved, message_id=message_id, now=now)
            if result.stored_ids:
                new = set(result.stored_ids)
                appended = [event for event in resolved if event.id in new]
                if hook is not None:
                    hook(connection, appended)
                link_waiting(connection, appended, hook)
            stored = set(result.stored_ids)
            report.remapped += sum(1 for event_id in remapped if event_id in stored)
            counts.events_stored += result.stored
            counts.duplicates += result.duplicates
            counts.unmapped += result.unmapped
            counts.orphans += result.orphans
            counts.rejected += len(problems)
            fresh = [p for p in problems if key_of(p) not in known_rejects]
            known_rejects.update(key_of(p) for p in fresh)
            refused_again.update(key_of(p) for p in problems)
            refused_whole = refused_whole or any(isinstance(p, MessageRejected) for p in problems)
            record_rejects(
                connection, connector, fresh, run_id=report.run_id, message_id=message_id, now=now
            )
            report.rejects.extend(problems)
        if not refused_whole:
            report.fixed += mark_fixed_by_replay(
                connection, message_id, refused_again, run_id=report.run_id, now=now
            )


def _remap(connection: Connection, parsed: list[Event]) -> tuple[list[Event], set[str]]:
    """Give a now-mapped event stored unmapped before its ``#remapped`` id."""
    mapped = [event for event in parsed if event.status is not None]
    if not mapped:
        return parsed, set()
    stored_unmapped = replays.stored_unmapped(connection, [event.id for event in mapped])
    renamed: list[Event] = []
    remapped: set[str] = set()
    for event in parsed:
        if event.status is not None and event.id in stored_unmapped:
            new_id = remapped_id(event.id)
            if len(new_id) > MAX_EVENT_ID:
                logger.warning("event %s: id too long to store its mapped replay", event.id)
                renamed.append(event)
                continue
            event = event.model_copy(update={"id": new_id})
            remapped.add(new_id)
        renamed.append(event)
    return renamed, remapped
