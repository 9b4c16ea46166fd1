"""A run that pulls objects one by one, by their keys (a carrier's parcels still in
transit, or the open repairs a paged source re-synchronises).

An item the partner says it cannot answer for (a fault a rule skips, an object it does
not know) is noted for the operator as a reject of the run and the others go on. With a
minimum interval per item, an item asked less than that long ago is left for a later
run; when each was asked is kept in the store, so every process and restart agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hub.errors import PartnerDataError
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.ingest.report import RunReport, recorded_run
from hub.ports import PagedSource
from hub.store.connector_state import forget_items_asked, items_asked, note_item_asked
from hub.store.db import Database
from hub.store.events import StoredHook
from hub.store.runs import record_rejects


def read_items(
    database: Database,
    source: PagedSource,
    pipeline: InboundPipeline,
    keys: Sequence[str],
    report: RunReport,
    *,
    on_stored: StoredHook | None = None,
    min_interval: timedelta | None = None,
    now: datetime | None = None,
) -> None:
    """The work of a run that pulls objects one by one, by their keys."""
    connector = report.connector
    due = list(keys)
    if min_interval is not None:
        moment = now or datetime.now(UTC)
        with database.transaction() as connection:
            forget_items_asked(connection, connector, keys)
            asked = items_asked(connection, connector)
        due = [key for key in keys if key not in asked or moment - asked[key] >= min_interval]
    for key in due:
        asked_at = now or datetime.now(UTC)
        try:
            message = source.fetch_item(key)
        except PartnerDataError as problem:
            # The partner cannot answer for this one (unknown to it): noted, not fatal.
            with database.transaction() as connection:
                record_rejects(
                    connection,
                    connector,
                    [problem],
                    run_id=report.run_id,
                    message_id=None,
                    now=asked_at,
                )
                if min_interval is not None:
                    note_item_asked(connection, connector, key, asked_at)
            report.counts.rejected += 1
            continue
        report.counts.messages_seen += 1
        report.add(
            ingest_message(
                database, connector, pipeline, message, run_id=report.run_id, on_stored=on_stored
            )
        )
        if min_interval is not None:
            with database.transaction() as connection:
                note_item_asked(connection, connector, key, asked_at)


def run_items(
    database: Database,
    connector: str,
    source: PagedSource,
    pipeline: InboundPipeline,
    keys: Sequence[str],
    *,
    on_stored: StoredHook | None = None,
    min_interval: timedelta | None = None,
    now: datetime | None = None,
) -> RunReport:
    """One run that pulls objects one by one (a carrier's parcels still in transit)."""
    return recorded_run(
        database,
        connector,
        lambda report: read_items(
            database,
            source,
            pipeline,
            keys,
            report,
            on_stored=on_stored,
            min_interval=min_interval,
            now=now,
        ),
    )
