"""Alpes Fret end to end: the carrier's simulator drops IFTSTA interchanges on a real SFTP
server (asyncssh, and OpenSSH's sshd), the hub's connector from the repository's mapping
reads them, stores and links the events, and answers each with a CONTRL in /in/, which
the carrier reads back with pydifact. Faults from the sheet: a wrong UNT count, a
half-written file, a CONTRL that never came (the interchange sent again).
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.model.parties import Party, PartyRole
from hub.operators.listings import recent_rejects
from hub.partners.connectors import Network, open_network
from hub.partners.replay import replay_message
from hub.store.cases import open_case
from hub.store.db import Connection, Database
from hub.store.parties import save_party
from hub.store.tables import events, raw_messages
from simulators.alpes_fret import AlpesFretSimulator, Fault, Scan
from simulators.sftp import ClientKey, SftpServer
from tests.factories import make_case, register_network
from tests.test_sftp_openssh import USER, OpenSshServer, sshd

pytestmark = pytest.mark.filterwarnings(
    "ignore::pydifact.exceptions.MissingImplementationWarning"  # pydifact reading CONTRL
)

__all__ = ["sshd"]  # the module's sshd fixture, shared with the OpenSSH transport tests

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = "alpes-fret-status"
NOW = datetime(2026, 11, 4, 9, 15, tzinfo=UTC)
CARRIER = Party(id="alpes-fret", role=PartyRole.CARRIER, name="Alpes Fret")


def _network(path: Path, *, port: int, host_key: str, username: str, root: str) -> Path:
    """connectors.yaml for a test server, with the repository's Alpes Fret mapping."""
    path.write_text(
        f"""
version: 1
parties:
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: bricomarket, role: retailer, name: BricoMarket}}
  - {{id: alpes-fret, role: carrier, name: Alpes Fret}}
connectors:
  - name: {CONNECTOR}
    partner: alpes-fret
    mapping: {ROOT / "mappings" / "alpes-fret.yaml"}
    message: status
    transport:
      type: sftp
      host: 127.0.0.1
      port: {port}
      username: {username}
      host_key: "{host_key}"
      private_key_env: TEST_ALPES_FRET_KEY
      remote_dir: {root}/out
      partial_suffixes: [.tmp]
      archive_dir: {root}/out/archive
      outbound_dir: {root}/in
    acknowledgement: {{file_name: "CONTRL_{{interchange}}.edi"}}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def store(database: Database) -> Database:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, CARRIER)
        for reference in ("ME-000123", "ME-000130"):
            open_case(connection, make_case(reference))
    return database


@pytest.fixture
def server(
    tmp_path: Path, client_key: ClientKey, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SftpServer]:
    root = tmp_path / "sftp"
    (root / "out" / "archive").mkdir(parents=True)
    (root / "in").mkdir()
    monkeypatch.setenv("TEST_ALPES_FRET_KEY", client_key.private_openssh)
    with SftpServer(root, client_keys=[client_key.public_openssh]) as srv:
        yield srv


@pytest.fixture
def network(tmp_path: Path, server: SftpServer) -> Network:
    return open_network(
        _network(
            tmp_path / "connectors.yaml",
            port=server.port,
            host_key=server.host_key_fingerprint,
            username="hub",
            root="",
        )
    )


@pytest.fixture
def carrier(server: SftpServer) -> AlpesFretSimulator:
    return AlpesFretSimulator(server.root / "out", server.root / "in")


def _carrier_events(connection: Connection) -> list[dict[str, object]]:
    rows = connection.execute(
        select(events.c.case_ref, events.c.raw_code, events.c.subject)
        .where(events.c.reported_by == "alpes-fret")
        .order_by(events.c.occurred_at)
    ).mappings()
    return [dict(row) for row in rows]


def _journey() -> list[list[Scan]]:
    """Two messages: a collection with the case's reference, the same parcel at the depot
    without it (the tracking number is the only link), a return parcel delivered."""
    return [
        [Scan("AF7700112233", "21", NOW - timedelta(hours=2), reference="ME-000123")],
        [
            Scan("AF7700112233", "22", NOW - timedelta(hours=1), city="SAINT-PRIEST"),
            Scan(
                "AF7700112244",
                "80",
                NOW - timedelta(minutes=30),
                reference="ME-000130-R",
                city="VALENCE",
                signed_by="M. RENÉ FAURE",
                remark="LIVRÉ AU 2E ÉTAGE?: SANS ASCENSEUR",
            ),
        ],
    ]


def test_statuses_are_stored_linked_and_answered_with_an_accepting_contrl(
    store: Database, network: Network, carrier: AlpesFretSimulator, server: SftpServer
) -> None:
    sent = carrier.drop(_journey(), now=NOW)
    half = carrier.drop_half_written(_journey(), now=NOW)
    report = network.connector(CONNECTOR).run(store)
    assert report.error is None
    assert report.counts.messages_read == 1  # the half-written file is not read
    with store.transaction() as connection:
        stored = _carrier_events(connection)
        archived = connection.execute(
            select(raw_messages.c.name).where(raw_messages.c.source == CONNECTOR)
        ).scalar_one()
    assert stored == [
        {"case_ref": "ME-000123", "raw_code": "21", "subject": "AF7700112233"},
        {"case_ref": "ME-000123", "raw_code": "22", "subject": "AF7700112233"},
        {"case_ref": "ME-000130", "raw_code": "80", "subject": "AF7700112244"},
    ]
    assert archived == sent.name
    assert (server.root / "out" / "archive" / sent.name).read_bytes() == sent.content
    assert half.exists()
    (answer,) = carrier.read_contrls()
    assert answer.name == f"CONTRL_{sent.reference}.edi"
    assert answer.accepted
    assert answer.interchange == sent.reference
    assert answer.uci_parties == ("HUBSAV", "ALPESFRET")  # as the carrier's sheet shows
    assert answer.control_reference == "00000001"
    assert carrier.awaiting == {}


def test_a_corrupt_interchange_stores_nothing_and_is_refused_by_contrl(
    store: Database, network: Network, carrier: AlpesFretSimulator
) -> None:
    sent = carrier.drop(_journey(), now=NOW, fault=Fault.WRONG_UNT)
    report = network.connector(CONNECTOR).run(store)
    assert report.error is None
    with store.transaction() as connection:
        assert _carrier_events(connection) == []
        message_id = connection.execute(
            select(raw_messages.c.id).where(raw_messages.c.name == sent.name)
        ).scalar_one()
    (answer,) = carrier.read_contrls()
    assert not answer.accepted
    assert answer.action == "4"
    assert answer.faulty_segments  # the UNT that miscounts, by its position
    ucm = [segment for segment in answer.segments if segment.tag == "UCM"]
    assert [segment.elements[0] for segment in ucm] == ["2"]  # message 2's UNT is wrong
    (reject,) = recent_rejects(store, CONNECTOR)
    assert "UNT counts" in reject.reason
    replayed = replay_message(store, network, message_id)  # the operator tries again
    assert replayed.counts.events_stored == 0
    with store.transaction() as connection:
        assert _carrier_events(connection) == []


def test_an_interchange_sent_again_for_want_of_its_contrl_is_stored_once(
    store: Database, network: Network, carrier: AlpesFretSimulator, server: SftpServer
) -> None:
    sent = carrier.drop(_journey(), now=NOW)
    network.connector(CONNECTOR).run(store)
    (server.root / "in" / f"CONTRL_{sent.reference}.edi").unlink()  # lost on the way
    assert carrier.resend_overdue(NOW + timedelta(minutes=30)) == []
    (again,) = carrier.resend_overdue(NOW + timedelta(minutes=61))
    assert (again.name, again.content) == (sent.name, sent.content)
    report = network.connector(CONNECTOR).run(store)
    assert report.error is None
    assert report.counts.events_stored == 0
    with store.transaction() as connection:
        assert len(_carrier_events(connection)) == 3
        count = select(func.count()).select_from(raw_messages)
        assert connection.execute(count.where(raw_messages.c.source == CONNECTOR)).scalar() == 1
    (answer,) = carrier.read_contrls()
    assert answer.accepted
    assert answer.control_reference == "00000002"  # a new CONTRL, its own reference
    assert carrier.awaiting == {}


def test_over_openssh(sshd: OpenSshServer, tmp_path: Path, database: Database) -> None:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, CARRIER)
        open_case(connection, make_case("ME-000123"))
        open_case(connection, make_case("ME-000130"))
    root = tmp_path / "alpes"
    (root / "out" / "archive").mkdir(parents=True)
    (root / "in").mkdir()
    network = open_network(
        _network(
            tmp_path / "connectors.yaml",
            port=sshd.port,
            host_key=sshd.host_key.fingerprint,
            username=USER,
            root=str(root),
        )
    )
    carrier = AlpesFretSimulator(root / "out", root / "in")
    good = carrier.drop(_journey(), now=NOW)
    bad = carrier.drop(_journey(), now=NOW, fault=Fault.NO_UNZ)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_ALPES_FRET_KEY", sshd.client_key.private_openssh)
        report = network.connector(CONNECTOR).run(database)
    assert report.error is None
    with database.transaction() as connection:
        assert [row["raw_code"] for row in _carrier_events(connection)] == ["21", "22", "80"]
    answers = {answer.interchange: answer for answer in carrier.read_contrls()}
    assert answers[good.reference].accepted
    assert answers[bad.reference].action == "4"
    assert sorted(path.name for path in (root / "out" / "archive").iterdir()) == [
        good.name,
        bad.name,
    ]


def test_a_scan_before_its_parcel_is_known_waits_and_is_attached(
    store: Database, network: Network, carrier: AlpesFretSimulator
) -> None:
    """The depot scanned the parcel back before the collection's scan (with the case's
    reference) reached the hub: it waits without a case, then joins it."""
    early = Scan("AF7700112255", "22", NOW - timedelta(hours=1), city="VALENCE")
    carrier.drop([[early]], now=NOW)
    network.connector(CONNECTOR).run(store)
    with store.transaction() as connection:
        assert [row["case_ref"] for row in _carrier_events(connection)] == [None]
    collected = Scan("AF7700112255", "21", NOW - timedelta(hours=3), reference="ME-000130-R")
    carrier.drop([[collected]], now=NOW + timedelta(minutes=15))
    assert network.connector(CONNECTOR).run(store).error is None
    with store.transaction() as connection:
        assert [row["case_ref"] for row in _carrier_events(connection)] == [
            "ME-000130",
            "ME-000130",
        ]
    assert [answer.accepted for answer in carrier.read_contrls()] == [True, True]
