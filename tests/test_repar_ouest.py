"""Répar'Ouest end to end, configuration only: repair orders written to its SFTP server,
status files read back once their ``.done`` marker is there, over the asyncssh server
and OpenSSH's sshd, on SQLite and PostgreSQL.

The partner (simulators/repar_ouest.py) behaves as its sheet says: a file caught half
written, a trailer that does not add up then the same records re-sent under the next
number, a file lost at its end, a record with an impossible date, a product without
paperwork known only by its serial.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.operators.listings import recent_file_warnings, recent_rejects
from hub.operators.status import network_status
from hub.partners.connectors import Network, open_network
from hub.partners.replay import replay_message
from hub.store.archive import message_content
from hub.store.cases import get_case, open_case
from hub.store.db import Database
from hub.store.parties import save_party
from hub.store.tables import cases, events, raw_messages
from hub.sync.delivery import deliver_any
from hub.sync.outbox import Dispatcher
from simulators.repar_ouest import PARIS, PartUsed, ReparOuestSimulator, StatusLine
from simulators.sftp import ClientKey, SftpServer
from tests.factories import make_case
from tests.network_files import PARTIES, ROOT, network_head, sftp_options
from tests.test_sftp_openssh import USER, OpenSshServer, sshd

__all__ = ["sshd"]  # the module-scoped OpenSSH server fixture, shared

DAY = date(2026, 11, 4)


@dataclass(frozen=True)
class Endpoint:
    """Where the partner's server is, how the hub logs in, and its folders on disk."""

    port: int
    username: str
    host_key: str
    private_key: str
    remote_root: str  # "" for the chrooted asyncssh server, the folder itself for sshd
    local_root: Path


@pytest.fixture(params=["asyncssh", "openssh"])
def endpoint(
    request: pytest.FixtureRequest, tmp_path: Path, client_key: ClientKey
) -> Iterator[Endpoint]:
    root = tmp_path / "reparouest"
    (root / "sortie" / "lu").mkdir(parents=True)
    (root / "entree").mkdir()
    if request.param == "openssh":
        server: OpenSshServer = request.getfixturevalue("sshd")
        yield Endpoint(
            server.port,
            USER,
            server.host_key.public_openssh,
            server.client_key.private_openssh,
            str(root),
            root,
        )
        return
    with SftpServer(root, client_keys=[client_key.public_openssh]) as asyncssh_server:
        yield Endpoint(
            asyncssh_server.port,
            "hub",
            asyncssh_server.host_key_fingerprint,
            client_key.private_openssh,
            "",
            root,
        )


@pytest.fixture
def partner(endpoint: Endpoint) -> ReparOuestSimulator:
    root = endpoint.local_root
    return ReparOuestSimulator(root / "sortie", root / "entree")


@pytest.fixture
def network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: Endpoint) -> Network:
    monkeypatch.setenv("TEST_REPAR_OUEST_KEY", endpoint.private_key)
    sftp = sftp_options(endpoint.port, endpoint.host_key, "TEST_REPAR_OUEST_KEY", endpoint.username)
    at = endpoint.remote_root
    mapping = ROOT / "mappings" / "repar-ouest.yaml"
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
{network_head()}connectors:
  - {{name: ro-status, partner: repar-ouest, mapping: {mapping}, message: status,
      transport: {{{sftp}, remote_dir: "{at}/sortie", archive_dir: "{at}/sortie/lu",
                   complete_when: {{marker: "{{name}}.done"}}}}}}
  - {{name: ro-orders, partner: repar-ouest, mapping: {mapping}, message: repair_order,
      transport: {{{sftp}, remote_dir: "{at}/entree", outbound_dir: "{at}/entree",
                   upload_suffix: .tmp}}}}
sync:
  routes:
    - {{service: workshop_repair, category: large_appliance, repairer: repar-ouest}}
  rules:
    - name: opened
      when: {{type: case_status, status: created, service: [workshop_repair]}}
      send: [{{to: repairer, message: repair_order}}]
""",
        encoding="utf-8",
    )
    return open_network(path)


def bulky(reference: str, serial: str) -> object:
    product = {
        "brand": "Bosch",
        "model": "WAN28209FF",
        "serial_number": serial,
        "category": "large_appliance",
    }
    return make_case(reference, product=product, fault="Ne vidange plus")


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=PARIS)


def stored_events(database: Database) -> list[tuple[str | None, str]]:
    with database.transaction() as connection:
        rows = connection.execute(
            select(cases.c.reference, events.c.raw_code)
            .select_from(events.outerjoin(cases, cases.c.id == events.c.case_id))
            .where(events.c.reported_by == "repar-ouest")
            .order_by(events.c.seq)
        ).all()
    return [(row.reference, row.raw_code) for row in rows]


def test_orders_out_statuses_in_with_every_fault_of_the_sheet(
    database: Database, network: Network, partner: ReparOuestSimulator
) -> None:
    with database.transaction() as connection:
        for party in PARTIES:
            save_party(connection, party)
        for case in (bulky("ME-000201", "SN-WM-0201"), bulky("BM-000202", "SN-WM-0202")):
            open_case(connection, case, on_stored=network.sync_hook())  # type: ignore[arg-type]
    dispatcher = Dispatcher(
        database, lambda row: deliver_any(database, network, row), owner="t", max_attempts=2
    )
    assert dispatcher.run_until_idle().dead == 0

    # The repair orders are in /entree/ in Atelier Dupont's columns.
    orders = partner.new_orders()
    assert sorted((o.reference, o.serial, o.brand) for o in orders) == [
        ("BM-000202", "SN-WM-0202", "Bosch"),
        ("ME-000201", "SN-WM-0201", "Bosch"),
    ]
    assert all(o.file.startswith("ORDRES_") and o.file.endswith(".csv") for o in orders)

    status = network.connector("ro-status")
    # A file caught half written: not read until its marker is there.
    first = partner.publish(
        [
            StatusLine("RO-0045001", "ME-000201", "SN-WM-0201", at(9), "RECU"),
            # No paperwork: only the serial links it to BM-000202 (ordered from this partner).
            StatusLine("RO-0112002", None, "SN-WM-0202", at(9, 30), "RECU", comment="sans bon"),
        ],
        on=DAY,
        half_written=True,
    )
    report = status.run(database)
    assert (report.error, report.counts.messages_seen, stored_events(database)) == (None, 0, [])
    partner.complete(first)
    report = status.run(database)
    assert (report.error, report.counts.events_stored) == (None, 2)
    assert stored_events(database) == [("ME-000201", "RECU"), ("BM-000202", "RECU")]
    assert partner.moved_to_lu() == [first, f"{first}.done"]

    # A trailer that does not add up: nothing stored, the reason kept, the file archived.
    quote = [
        StatusLine(
            "RO-0045001",
            "ME-000201",
            "SN-WM-0201",
            at(14),
            "DEVI",
            24990,
            "moteur + joint",
            (PartUsed("MOT-220", 1, 19990), PartUsed("JOINT-60", 2, 2500)),
        )
    ]
    bad = partner.publish(quote, on=DAY, trailer="bad_total")
    report = status.run(database)
    assert (report.error, report.counts.events_stored, report.counts.rejected) == (None, 0, 1)
    [refusal] = recent_rejects(database, "ro-status")
    assert refusal.source == bad
    assert "control total" in refusal.reason
    assert "refused" in refusal.reason
    assert refusal.message_id is not None
    with database.transaction() as connection:
        assert (
            message_content(connection, refusal.message_id)
            == (partner.sortie / "lu" / bad).read_bytes()
        )
    # The operator may replay it: still refused whole, nothing stored, nothing doubled.
    replayed = replay_message(database, network, refusal.message_id)
    assert replayed.counts.events_stored == 0
    assert len(recent_rejects(database, "ro-status")) == 1

    # Re-sent corrected under the next number: stored, and no gap.
    partner.resend_corrected(bad)
    # Then a file is lost at the partner's end; the next one has a bad date record.
    partner.lose_a_file(DAY)
    gap_file = partner.publish(
        [
            StatusLine("RO-0112002", None, "SN-WM-0202", at(16), "DIAG"),
            StatusLine("RO-0112002", None, "SN-WM-0202", at(16, 30), "NETT", comment="nettoyage"),
            StatusLine("RO-0045001", "ME-000201", "SN-WM-0201", at(17), "DVOK"),
        ],
        on=DAY,
    )
    (partner.sortie / gap_file).write_bytes(
        (partner.sortie / gap_file).read_bytes().replace(b"04112026160000", b"31112026160000")
    )
    report = status.run(database)
    assert report.error is None
    assert report.counts.events_stored == 3  # the quote, NETT (unmapped, kept), DVOK
    assert report.counts.unmapped == 1
    rejects = recent_rejects(database, "ro-status")
    assert [(r.source, r.line) for r in rejects[:1]] == [(gap_file, 2)]
    assert "does not match the format" in rejects[0].reason
    warnings = recent_file_warnings(database, "ro-status")
    assert [(w.source, w.kind) for w in warnings] == [(gap_file, "sequence_gap")]
    assert "1 file (4) lost" in warnings[0].reason
    flags = network_status(database, network).connector("ro-status").flags
    assert "1 file warning (sequence) to acknowledge" in flags

    # The first file of a new year starts again at 0001: no gap.
    new_year = partner.publish(
        [
            StatusLine(
                "RO-0045001",
                "ME-000201",
                "SN-WM-0201",
                datetime(2027, 1, 1, 9, tzinfo=PARIS),
                "REPA",
            )
        ],
        on=date(2027, 1, 1),
    )
    assert new_year == "RO_STAT_20270101_0001.txt"
    assert status.run(database).counts.events_stored == 1
    assert len(recent_file_warnings(database, "ro-status")) == 1

    assert stored_events(database)[2:-1] == [
        ("ME-000201", "DEVI"),
        ("BM-000202", "NETT"),
        ("ME-000201", "DVOK"),
    ]
    with database.transaction() as connection:
        record = get_case(connection, "ME-000201")
        archived = connection.execute(select(raw_messages.c.name)).scalars().all()
    assert record is not None
    assert record.status is not None
    assert record.status.value == "in_repair"
    assert sorted(archived) == sorted(name for name in partner.published)
    assert sorted(partner.moved_to_lu()) == sorted(
        [*partner.published, *(f"{name}.done" for name in partner.published)]
    )
    assert [p.name for p in partner.sortie.iterdir() if p.is_file()] == []


def test_a_character_outside_iso_8859_15_refuses_the_order(
    database: Database, network: Network, partner: ReparOuestSimulator
) -> None:
    with database.transaction() as connection:
        for party in PARTIES:
            save_party(connection, party)
        case = make_case(
            "ME-000301",
            product={"brand": "Miele", "model": "W1", "category": "large_appliance"},
            customer={"name": "Łukasz Nowak", "phone": "+33600000000"},
        )
        open_case(connection, case, on_stored=network.sync_hook())
    dispatcher = Dispatcher(
        database, lambda row: deliver_any(database, network, row), owner="t", max_attempts=1
    )
    result = dispatcher.run_until_idle()
    assert result.dead == 1
    assert partner.new_orders() == []
