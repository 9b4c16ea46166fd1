"""BricoMarket's nightly case file, dropped in a folder the hub watches."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from hub.config.network import load_network
from hub.model import Case
from hub.partners.connectors import case_import_transport
from hub.partners.runs import RunOutcome, get_run
from hub.retailers import case_import
from hub.retailers.case_import_runs import run_case_import
from hub.retailers.cases import open_case_for
from hub.retailers.tenants import Retailer
from hub.store.cases import get_case
from hub.store.db import Database
from hub.store.tables import connector_runs, rejects
from tests.api_support import make_hub

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "bricomarket" / "CASES_20261103.csv"


def network(tmp_path: Path, drop: Path) -> Path:
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: bricomarket, role: retailer, name: BricoMarket}}
case_imports:
  - name: bricomarket-nightly
    retailer: bricomarket
    transport: {{type: local-dir, path: "{drop}", pattern: "CASES_*.csv",
                 archive_dir: "{drop / "done"}"}}
    schedule: {{cron: "30 2 * * *"}}
""",
        encoding="utf-8",
    )
    return path


def test_a_dropped_file_is_imported_once_with_its_bad_rows_kept(
    database: Database, tmp_path: Path
) -> None:
    make_hub(database)  # the tenants, BricoMarket among them
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLE, drop / SAMPLE.name)
    (drop / "CASES_20261104.csv.tmp").write_text("being written", encoding="utf-8")
    spec = load_network(network(tmp_path, drop)).case_import("bricomarket-nightly")
    assert spec is not None

    report = run_case_import(database, spec.name, case_import_transport(spec), spec.retailer)

    assert report.error is None
    assert (report.counts.messages_read, report.counts.events_stored) == (1, 3)
    assert report.counts.rejected == 4
    assert (drop / "done" / SAMPLE.name).exists()
    assert (drop / "CASES_20261104.csv.tmp").exists(), "a file being written is left alone"
    with database.transaction() as connection:
        case = get_case(connection, "BM-000051")
        kept = connection.execute(
            select(rejects.c.line, rejects.c.reason, rejects.c.run_id)
            .where(rejects.c.connector == "bricomarket-nightly")
            .order_by(rejects.c.line)
        ).all()
    assert case is not None
    assert "E09" in case.case.fault
    assert [row.line for row in kept] == [6, 7, 8, 9]
    assert {row.run_id for row in kept} == {report.run_id}
    assert get_run(database, report.run_id).outcome is RunOutcome.SUCCEEDED

    shutil.copy(SAMPLE, drop / SAMPLE.name)  # the ERP sends the same file again
    again = run_case_import(database, spec.name, case_import_transport(spec), spec.retailer)
    assert again.counts.events_stored == 0
    assert again.counts.duplicates == 3


def test_a_run_stopped_half_way_through_a_file_is_finished_by_the_next_run(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import commits two rows at a time here; the process dies in the second chunk."""
    make_hub(database)
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLE, drop / SAMPLE.name)
    spec = load_network(network(tmp_path, drop)).case_import("bricomarket-nightly")
    assert spec is not None
    monkeypatch.setattr(case_import, "CHUNK_ROWS", 2)
    # Chunks by rows alone: a chunk also ends after CHUNK_SECONDS, and on a busy CI
    # machine the first row once took that long, so BM-000051 fell in the second chunk.
    monkeypatch.setattr(case_import, "CHUNK_SECONDS", 3600.0)

    def dies_at_bm_000052(connection: Connection, retailer: Retailer, case: Case, **kw: Any) -> Any:
        if case.reference == "BM-000052":
            raise RuntimeError("the process died here")
        return open_case_for(connection, retailer, case, **kw)

    monkeypatch.setattr(case_import, "open_case_for", dies_at_bm_000052)
    crashed = run_case_import(database, spec.name, case_import_transport(spec), spec.retailer)
    with database.transaction() as connection:
        committed = [get_case(connection, f"BM-0000{n}") is not None for n in (45, 51, 52)]
        stopped = connection.execute(select(connector_runs)).one()
    assert committed == [True, True, False], "the first chunk is committed, the second is not"
    assert crashed.error is not None
    assert "the process died here" in crashed.error.message
    assert stopped.outcome == RunOutcome.FAILED.value, "the supervisor records the crash"
    assert (drop / SAMPLE.name).exists(), "a file is only moved once wholly imported"

    monkeypatch.setattr(case_import, "open_case_for", open_case_for)
    report = run_case_import(database, spec.name, case_import_transport(spec), spec.retailer)

    assert report.error is None
    counts = report.counts
    assert (counts.records_read, counts.events_stored, counts.duplicates) == (7, 1, 2)
    assert counts.rejected == 4
    assert get_run(database, report.run_id).outcome is RunOutcome.SUCCEEDED
    assert (drop / "done" / SAMPLE.name).exists()
    with database.transaction() as connection:
        assert get_case(connection, "BM-000052") is not None
        kept = connection.execute(select(rejects.c.line).order_by(rejects.c.line)).scalars()
        assert list(kept) == [6, 7, 8, 9]
