"""A paged source's run: every page after the stored cursor, oldest first, each page's
events committed with the cursor it hands over; an expired cursor re-synchronises."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from hub.errors import ConfigurationError, CursorExpired, FatalError
from hub.partners.ingest.items import read_items
from hub.partners.ingest.message import MessageOutcome, ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.ingest.report import RunReport, recorded_run
from hub.ports import (
    MORE_PAGES,
    NEXT_CURSOR,
    DocumentCodec,
    PagedSource,
    RawMessage,
    SinceSource,
)
from hub.store.connector_state import read_cursor, write_cursor
from hub.store.db import Connection, Database
from hub.store.events import StoredHook

MAX_PAGES_PER_RUN = 10_000
"""A runaway guard: a partner that always says "more" cannot keep a run alive forever."""


class CursorLoop(FatalError):
    """The partner handed back a cursor already used in this run: paging would loop."""


def _document_codec(pipeline: InboundPipeline) -> DocumentCodec:
    if not isinstance(pipeline.codec, DocumentCodec):
        raise ConfigurationError("a paged connector needs a codec that reads document fields")
    return pipeline.codec


def since_cursor(at: datetime) -> str:
    """How an incremental feed's cursor is stored: the instant in UTC, ISO 8601."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _stored_since(connector: str, cursor: str | None) -> datetime | None:
    if cursor is None:
        return None
    try:
        at = datetime.fromisoformat(cursor)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ConfigurationError(
            f"{connector}: the stored cursor {cursor!r} is no instant: was the connector "
            "made incremental (since) after paging by another cursor? Clear its cursor to "
            "read from the start"
        )
    return at


def _more_pages(
    page: RawMessage,
    document: Mapping[str, str | None],
    codec: DocumentCodec,
    more_field: str | None,
) -> bool:
    """Whether a page whose next cursor the transport gave is followed by another: as the
    transport says, else as the document's ``more`` field says, else while pages have
    records (page numbers run on until the first empty page)."""
    said = page.metadata.get(MORE_PAGES)
    if said is None and more_field is not None:
        said = document.get(more_field)
    if said is not None:
        return said.lower() == "true"
    return next(iter(codec.decode(page.content, source=page.ref.name)), None) is not None


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
    since: bool = False,
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
            since=since,
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
    since: bool = False,
) -> None:
    """The work of a paged source's run: every page after the stored cursor, oldest first.

    Each page's events and the cursor it hands over are committed together. A cursor
    the partner no longer knows triggers the re-synchronisation ``resync`` describes
    (the pipeline for single objects, and the keys of the open ones), then paging
    starts again from the beginning: already stored events are recognised, not doubled.

    With ``since`` (a :class:`SinceSource`), the stored cursor is the newest
    ``occurred_at`` of the events stored from the feed: each run asks its first page from
    that instant and follows the pages after it; each page's transaction moves the
    instant to the newest of its events. The partner sends the events of that instant
    again, and their ids tell them apart, so none is stored twice and none is lost when
    several share an instant across a page boundary or a crash.
    """
    connector, run_id = report.connector, report.run_id
    codec = _document_codec(pipeline)
    if since and not isinstance(source, SinceSource):
        raise ConfigurationError(f"{connector}: its transport cannot ask a feed from a time")
    with database.reading() as connection:
        cursor = read_cursor(connection, connector)
    start: datetime | None = _stored_since(connector, cursor) if since else None
    first = since
    if since:
        cursor = None
    used: set[str | None] = {cursor}
    resynced = False
    for _ in range(MAX_PAGES_PER_RUN):
        try:
            if first and isinstance(source, SinceSource):
                page = source.fetch_since(start)
            else:
                page = source.fetch_page(cursor)
            first = False
        except CursorExpired:
            if resync is None or resynced:
                raise
            resynced = True
            item_pipeline, open_keys = resync
            read_items(database, source, item_pipeline, open_keys(), report, on_stored=on_stored)
            cursor, start, first = None, None, since
            used = {None}
            continue
        report.counts.messages_seen += 1
        document = codec.document_fields(page.content, source=page.ref.name)
        if NEXT_CURSOR in page.metadata or MORE_PAGES in page.metadata:
            more = _more_pages(page, document, codec, more_field)
            following = (page.metadata.get(NEXT_CURSOR) if more else None) or cursor
        else:
            following = document.get(next_field) or cursor
            more = more_field is not None and (document.get(more_field) or "").lower() == "true"
        if more and following in used:
            raise CursorLoop(
                f"{connector}: the partner returned cursor {following!r} again; "
                "stopping instead of looping"
            )

        def advance(
            connection: Connection, outcome: MessageOutcome, value: str | None = following
        ) -> None:
            if since:
                _advance_since(connection, connector, outcome.newest_at)
            elif value is not None:
                write_cursor(connection, connector, value)

        report.add(
            ingest_message(
                database,
                connector,
                pipeline,
                page,
                run_id=run_id,
                after_store=advance,
                on_stored=on_stored,
            )
        )
        used.add(following)
        cursor = following
        if not more:
            break
    else:
        raise CursorLoop(f"{connector}: more than {MAX_PAGES_PER_RUN} pages in one run")


def _advance_since(connection: Connection, connector: str, newest: datetime | None) -> None:
    """Move an incremental feed's instant to the page's newest event, never back."""
    if newest is None:
        return
    stored = read_cursor(connection, connector)
    before = _stored_since(connector, stored)
    if before is None or newest > before:
        write_cursor(connection, connector, since_cursor(newest))
