"""A run that pulls objects one by one, by their keys (a carrier's parcels still in
transit, or the open repairs a paged source re-synchronises)."""

from __future__ import annotations

from collections.abc import Sequence

from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.ingest.report import RunReport, recorded_run
from hub.ports import PagedSource
from hub.store.db import Database
from hub.store.events import StoredHook


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
        report.add(
            ingest_message(
                database, connector, pipeline, message, run_id=report.run_id, on_stored=on_stored
            )
        )


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
