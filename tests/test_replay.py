"""Replay: archived messages through today's mapping store what is new, once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

from hub.errors import ConfigurationError, NotFoundError
from hub.operators.listings import recent_rejects, recent_runs, replay_run_ids, unmapped_codes
from hub.operators.status import network_status
from hub.partners.connectors import Network, open_network
from hub.partners.replay import replay_connector, replay_message
from hub.partners.runs import RunOutcome
from hub.store.cases import case_state, open_case
from hub.store.db import Database
from hub.store.tables import events, raw_messages, rejects
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "mappings" / "atelier-dupont.yaml"
CONNECTOR = "atelier-dupont-status"
HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce"
)
LINES = [
    "AD-2026-004512;ME-000123;03/11/2026;09:12;REC;Reçu atelier;;SN8841XK2;;",
    "AD-2026-004512;ME-000123;05/11/2026;16:40;TER;Réparation terminée;;SN8841XK2;;",
    "AD-2026-004512;ME-000123;31/02/2026;10:00;DIA;Diagnostic;;SN8841XK2;;",
]
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _write_network(tmp_path: Path, *, knows_repaired: bool) -> Network:
    """A local drop folder for the workshop, with its mapping as it stands that day."""
    mapping = MAPPING.read_text(encoding="utf-8")
    if not knows_repaired:
        assert "      TER: repaired\n" in mapping
        mapping = mapping.replace("      TER: repaired\n", "")
    (tmp_path / "atelier-dupont.yaml").write_text(mapping, encoding="utf-8")
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: atelier-dupont, role: repairer, name: Atelier Dupont Réparation}}
connectors:
  - name: {CONNECTOR}
    partner: atelier-dupont
    mapping: atelier-dupont.yaml
    message: status
    transport: {{type: local-dir, path: "{drop}", archive_dir: "{drop / "done"}"}}
    schedule: {{every: 15m}}
""",
        encoding="utf-8",
    )
    return open_network(path)


def _drop_file(tmp_path: Path) -> None:
    body = "\r\n".join([HEADER, *LINES]) + "\r\n"
    (tmp_path / "drop" / "STATUTS_20261105_1700.csv").write_bytes(body.encode("latin-1"))


def _count(database: Database, table: Table) -> int:
    with database.transaction() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def ingested(database: Database, tmp_path: Path) -> Database:
    """The file read on a day the workshop's TER code was missing from the mapping."""
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    network = _write_network(tmp_path, knows_repaired=False)
    _drop_file(tmp_path)
    report = network.connector(CONNECTOR).run(database)
    assert report.error is None
    assert (report.counts.events_stored, report.counts.unmapped) == (2, 1)
    assert report.counts.rejected == 1
    return database


def test_a_fixed_mapping_replayed_stores_the_now_mapped_event_once(
    ingested: Database, tmp_path: Path
) -> None:
    database = ingested
    assert [code.raw_code for code in unmapped_codes(database)] == ["TER"]
    with database.transaction() as connection:
        assert case_state(connection, "ME-000123").status == "received"
    before = _count(database, events)

    fixed = _write_network(tmp_path, knows_repaired=True)
    done: list[int] = []
    report = replay_connector(database, fixed, CONNECTOR, EPOCH, on_message=done.append)

    assert report.error is None
    assert (report.counts.events_stored, report.remapped, report.counts.duplicates) == (1, 1, 1)
    assert report.counts.unmapped == 0
    assert len(done) == 1, "one archived message, reported as done"
    assert _count(database, events) == before + 1
    with database.transaction() as connection:
        assert case_state(connection, "ME-000123").status == "repaired"
        unmapped_left = connection.execute(
            select(func.count()).select_from(events).where(events.c.unmapped)
        ).scalar_one()
    assert unmapped_left == 1, "the first (unmapped) fact is kept, never rewritten"
    assert unmapped_codes(database) == [], "the code counts as fixed"
    assert _count(database, rejects) == 1, "the same bad row is not recorded twice"

    again = replay_connector(database, fixed, CONNECTOR, EPOCH)
    assert (again.counts.events_stored, again.remapped, again.counts.duplicates) == (0, 0, 2)
    assert _count(database, events) == before + 1, "replaying twice stores nothing new"

    runs = recent_runs(database, CONNECTOR)
    assert [run.outcome for run in runs] == [RunOutcome.SUCCEEDED] * 3
    assert replay_run_ids(database, [run.id for run in runs]) == {report.run_id, again.run_id}
    status = network_status(database, fixed).connector(CONNECTOR)
    assert status.last_run is not None
    assert status.last_run.id == runs[-1].id, "a replay is not the connector's own run"
    assert status.unmapped_codes == 0


def test_one_message_replayed_by_its_archive_id(ingested: Database, tmp_path: Path) -> None:
    database = ingested
    with database.transaction() as connection:
        message_id = connection.execute(select(raw_messages.c.id)).scalar_one()
    fixed = _write_network(tmp_path, knows_repaired=True)
    report = replay_message(database, fixed, message_id)
    assert report.connector == CONNECTOR
    assert (report.counts.events_stored, report.remapped) == (1, 1)
    assert report.message_ids == [message_id]
    assert [r.line for r in recent_rejects(database, CONNECTOR)] == [4]
    with pytest.raises(NotFoundError, match="no archived message with id 999999"):
        replay_message(database, fixed, 999999)


def test_only_messages_since_the_date_are_replayed(ingested: Database, tmp_path: Path) -> None:
    fixed = _write_network(tmp_path, knows_repaired=True)
    later = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)
    report = replay_connector(ingested, fixed, CONNECTOR, later)
    assert report.message_ids == []
    assert report.counts.events_stored == 0


def test_unknown_and_outbound_connectors_are_refused(database: Database) -> None:
    network = open_network(ROOT / "connectors.yaml")
    with pytest.raises(NotFoundError, match=r"known: atelier-dupont-status, .*bricomarket-nightly"):
        replay_connector(database, network, "atelier-dupont", EPOCH)
    with pytest.raises(ConfigurationError, match="only sends"):
        replay_connector(database, network, "techniservice-orders", EPOCH)
    with pytest.raises(ConfigurationError, match="drop folder"):
        replay_connector(database, network, "bricomarket-nightly", EPOCH)
