"""A connector run end to end: connectors.yaml -> SFTP server -> archive -> mapping -> store.

The SFTP server is real (asyncssh, on loopback); the files are the partners' samples.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.partners.connectors import Connector, open_network
from hub.partners.ingest.listed import run_inbound
from hub.partners.runs import RunOutcome, get_run
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.tables import events, inbound_messages, raw_messages, rejects
from simulators.sftp import ClientKey, SftpServer
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
WORKSHOP = ROOT / "fixtures" / "atelier-dupont"
SUPPLIER = ROOT / "fixtures" / "pieces-plus"


@pytest.fixture
def server(tmp_path: Path, client_key: ClientKey) -> Iterator[SftpServer]:
    root = tmp_path / "sftp"
    (root / "out" / "archive").mkdir(parents=True)
    (root / "orders" / "out").mkdir(parents=True)
    with SftpServer(root, client_keys=[client_key.public_openssh]) as srv:
        yield srv


def network_file(tmp_path: Path, server: SftpServer, host_key: str | None = None) -> Path:
    """connectors.yaml for the test server: the repository's mappings, a secret by name."""
    pin = host_key or server.host_key_fingerprint
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: bricomarket, role: retailer, name: BricoMarket}}
  - {{id: atelier-dupont, role: repairer, name: Atelier Dupont Réparation}}
  - {{id: pieces-plus, role: parts_supplier, name: PiècesPlus}}
connectors:
  - name: workshop-status
    partner: atelier-dupont
    mapping: {ROOT / "mappings" / "atelier-dupont.yaml"}
    message: status
    transport:
      type: sftp
      host: 127.0.0.1
      port: {server.port}
      username: hub
      host_key: "{pin}"
      private_key_env: TEST_WORKSHOP_KEY
      remote_dir: /out
      archive_dir: /out/archive
  - name: supplier-answers
    partner: pieces-plus
    mapping: {ROOT / "mappings" / "pieces-plus.yaml"}
    message: answers
    transport:
      type: sftp
      host: 127.0.0.1
      port: {server.port}
      username: hub
      host_key: "{pin}"
      private_key_env: TEST_WORKSHOP_KEY
      remote_dir: /orders/out
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, client_key: ClientKey) -> None:
    monkeypatch.setenv("TEST_WORKSHOP_KEY", client_key.private_openssh)


def drop(server: SftpServer, folder: str, *names: str, source: Path = WORKSHOP) -> None:
    for name in names:
        (server.path(folder) / name).write_bytes((source / name).read_bytes())


def connector(tmp_path: Path, server: SftpServer, name: str) -> Connector:
    return open_network(network_file(tmp_path, server)).connector(name)


def count(database: Database, table: object) -> int:
    with database.transaction() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.fixture
def hub_db(database: Database) -> Database:
    register_network(database)
    with database.transaction() as connection:
        for reference in ("ME-000123", "ME-000117", "BM-002041"):
            open_case(connection, make_case(reference))
    return database


@pytest.mark.usefixtures("secrets")
def test_a_run_reads_complete_files_archives_them_and_stores_events(
    tmp_path: Path, server: SftpServer, hub_db: Database
) -> None:
    drop(server, "/out", "STATUTS_20261103_1415.csv", "STATUTS_20261103_1415.csv.tmp")
    drop(server, "/out", "STATUTS_20261104_0900_bad.csv")
    workshop = connector(tmp_path, server, "workshop-status")
    report = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())

    assert report.error is None
    assert report.counts.messages_read == 2, "the .tmp file is still being written"
    assert report.counts.rejected == 7
    assert report.counts.events_stored == 14 + 6
    assert sorted(p.name for p in server.path("/out/archive").iterdir()) == [
        "STATUTS_20261103_1415.csv",
        "STATUTS_20261104_0900_bad.csv",
    ]
    assert (server.path("/out") / "STATUTS_20261103_1415.csv.tmp").exists()
    run = get_run(hub_db, report.run_id)
    assert run.outcome is RunOutcome.SUCCEEDED
    assert (run.counts.rejected, run.counts.messages_read) == (7, 2)
    with hub_db.transaction() as connection:
        stored = connection.execute(
            select(rejects.c.line, rejects.c.field, rejects.c.reason, rejects.c.raw)
            .where(rejects.c.source == "STATUTS_20261104_0900_bad.csv")
            .order_by(rejects.c.line)
        ).all()
    assert stored[0].line == 3
    assert "expected 10 fields, got 9" in stored[0].reason
    assert stored[0].raw.startswith("AD-2026-")
    assert any(r.field == "Montant devis TTC" for r in stored)


@pytest.mark.usefixtures("secrets")
def test_the_next_file_re_sends_lines_and_nothing_is_stored_twice(
    tmp_path: Path, server: SftpServer, hub_db: Database
) -> None:
    workshop = connector(tmp_path, server, "workshop-status")
    drop(server, "/out", "STATUTS_20261103_1415.csv")
    first = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())
    drop(server, "/out", "STATUTS_20261103_1630.csv", "STATUTS_20261103_1645.csv")
    second = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())
    third = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())

    assert first.counts.events_stored == 14
    assert second.counts.messages_read == 2
    assert second.counts.duplicates > 0, "the 16:30 export re-sends the last two hours"
    assert third.counts.messages_seen == third.counts.messages_read == 0
    assert count(hub_db, events) == 3 + first.counts.events_stored + second.counts.events_stored


@pytest.mark.usefixtures("secrets")
def test_a_dropped_connection_is_resumed_without_loss_or_duplicates(
    tmp_path: Path, server: SftpServer, hub_db: Database
) -> None:
    names = ["STATUTS_20261103_1415.csv", "STATUTS_20261103_1630.csv", "STATUTS_20250612_0900.csv"]
    drop(server, "/out", *names)
    server.drop_on("open", "STATUTS_20261103_1630.csv")
    workshop = connector(tmp_path, server, "workshop-status")
    report = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())

    assert report.error is None
    assert server.connections >= 2, "the drop forced a reconnection"
    assert sorted(p.name for p in server.path("/out/archive").iterdir()) == sorted(names)
    assert count(hub_db, inbound_messages) == 3
    again = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())
    assert again.counts.events_stored == 0


@pytest.mark.usefixtures("secrets")
def test_a_crash_after_the_commit_only_finishes_the_acknowledgement(
    tmp_path: Path, server: SftpServer, hub_db: Database
) -> None:
    """The archive move failed after the events were stored: the next run moves it only."""
    drop(server, "/out", "STATUTS_20261103_1415.csv")
    server.drop_on("rename", "STATUTS_20261103_1415.csv")
    server.drop_on("rename", "STATUTS_20261103_1415.csv")  # the reconnect fails too
    workshop = connector(tmp_path, server, "workshop-status")
    broken = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())
    assert broken.error is not None
    assert broken.counts.events_stored == 14
    assert get_run(hub_db, broken.run_id).outcome is RunOutcome.FAILED

    healed = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())
    assert healed.error is None
    assert healed.counts.messages_read == 0
    assert healed.counts.events_stored == 0
    assert [p.name for p in server.path("/out/archive").iterdir()] == ["STATUTS_20261103_1415.csv"]


@pytest.mark.usefixtures("secrets")
def test_supplier_answers_stay_on_the_server_and_are_read_once(
    tmp_path: Path, server: SftpServer, hub_db: Database
) -> None:
    drop(server, "/orders/out", "ANS_20261103101500_1.csv", source=SUPPLIER)
    drop(server, "/orders/out", "ANS_20261104093000_3.csv.part", source=SUPPLIER)
    supplier = connector(tmp_path, server, "supplier-answers")
    first = run_inbound(hub_db, "supplier-answers", supplier.transport(), supplier.pipeline())
    drop(server, "/orders/out", "ANS_20261104090000_2.csv", source=SUPPLIER)
    second = run_inbound(hub_db, "supplier-answers", supplier.transport(), supplier.pipeline())

    assert (first.counts.messages_read, first.counts.events_stored) == (1, 10)
    assert first.counts.orphans == 10, "no parts order of these ids exists in this store"
    assert (second.counts.messages_seen, second.counts.messages_read) == (2, 1)
    assert sorted(p.name for p in server.path("/orders/out").iterdir()) == [
        "ANS_20261103101500_1.csv",
        "ANS_20261104090000_2.csv",
        "ANS_20261104093000_3.csv.part",
    ]


@pytest.mark.usefixtures("secrets")
def test_a_wrong_host_key_is_refused_and_nothing_is_read(
    tmp_path: Path, server: SftpServer, hub_db: Database
) -> None:
    drop(server, "/out", "STATUTS_20261103_1415.csv")
    stranger = "SHA256:" + "A" * 43
    workshop = open_network(network_file(tmp_path, server, stranger)).connector("workshop-status")
    report = run_inbound(hub_db, "workshop-status", workshop.transport(), workshop.pipeline())
    assert report.error is not None
    assert type(report.error).__name__ == "HostKeyMismatch"
    assert server.authentications == 0
    assert count(hub_db, raw_messages) == 0
    assert get_run(hub_db, report.run_id).error_action == "stop_run"


def test_a_missing_secret_names_the_variable(
    tmp_path: Path, server: SftpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_WORKSHOP_KEY", raising=False)
    with pytest.raises(Exception, match="TEST_WORKSHOP_KEY") as caught:
        connector(tmp_path, server, "workshop-status").transport()
    assert type(caught.value).__name__ == "MissingSecret"


def test_a_refused_password_fails_the_run_without_showing_the_secret(
    tmp_path: Path, server: SftpServer, hub_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "correct-horse-battery-staple"
    path = network_file(tmp_path, server)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "private_key_env: TEST_WORKSHOP_KEY", "password_env: TEST_WORKSHOP_PASSWORD"
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("TEST_WORKSHOP_PASSWORD", secret)
    drop(server, "/out", "STATUTS_20261103_1415.csv")
    workshop = open_network(path).connector("workshop-status")
    transport = workshop.transport()
    assert secret not in repr(transport)
    report = run_inbound(hub_db, "workshop-status", transport, workshop.pipeline())
    run = get_run(hub_db, report.run_id)
    assert run.outcome is RunOutcome.FAILED
    assert run.error_action == "fix_configuration"
    assert run.error_message is not None
    assert secret not in run.error_message
    assert count(hub_db, raw_messages) == 0


def test_a_transport_no_package_provides_is_reported(tmp_path: Path) -> None:
    from hub.partners.connectors import check_network

    path = tmp_path / "connectors.yaml"
    path.write_text(
        "version: 1\n"
        "parties: [{id: atelier-dupont, role: repairer, name: AD}]\n"
        "connectors:\n"
        "  - name: as2\n"
        "    partner: atelier-dupont\n"
        f"    mapping: {ROOT / 'mappings' / 'atelier-dupont.yaml'}\n"
        "    message: status\n"
        "    transport: {type: x-as2, options: {url: 'https://as2.example'}}\n",
        encoding="utf-8",
    )
    problems = [p.text for p in check_network(path)]
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{path}:8: connector 'as2': no installed package provides a transport named 'x-as2' "
        "(installed transports: "
    )
    assert "sftp" in problems[0]
