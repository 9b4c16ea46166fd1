"""Runs of a retailer's drop folder: each complete case file imported once, then archived.

The same rules as a partner connector: a run record, every rejected row kept with its
line and reason (the import records them), a file acknowledged (moved) only after its
cases are committed, and a file seen again recognised instead of imported twice. The
import commits chunk by chunk: a run stopped in the middle of a file leaves it in the
folder, and the next run finishes it (rows already committed count as duplicates).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.partners.ingest.report import RunReport, recorded_run
from hub.ports import Transport
from hub.retailers.case_import import RowOutcome, import_cases_csv
from hub.retailers.tenants import find_retailer
from hub.store.db import Database
from hub.store.events import StoredHook
from hub.sync.requirements import RouteCheck


def run_case_import(
    database: Database,
    name: str,
    transport: Transport,
    retailer_id: str,
    *,
    on_stored: StoredHook | None = None,
) -> RunReport:
    """Import every complete file of the drop folder, then move it to its archive folder."""
    return recorded_run(
        database,
        name,
        lambda report: import_drop_folder(
            database, transport, retailer_id, report, on_stored=on_stored
        ),
    )


def import_drop_folder(
    database: Database,
    transport: Transport,
    retailer_id: str,
    report: RunReport,
    *,
    on_stored: StoredHook | None = None,
    route_check: RouteCheck | None = None,
) -> None:
    """The work of a drop folder's run (hub.partners.supervisor records it)."""
    name, run_id = report.connector, report.run_id
    for ref in transport.list():
        report.counts.messages_seen += 1
        message = transport.fetch(ref)
        with database.reading() as connection:
            retailer = find_retailer(connection, retailer_id)
        imported = import_cases_csv(
            database,
            retailer,
            message.content,
            name=ref.name,
            now=datetime.now(UTC),
            source=name,
            run_id=run_id,
            on_stored=on_stored,
            route_check=route_check,
        )
        counts = report.counts
        counts.messages_read += 1
        counts.records_read += len(imported.rows)
        counts.events_stored += imported.count(RowOutcome.CREATED)
        counts.duplicates += imported.count(RowOutcome.UNCHANGED)
        counts.rejected += imported.count(RowOutcome.REJECTED)
        transport.acknowledge(ref)
