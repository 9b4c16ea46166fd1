"""Acknowledgements the core sends for any codec that can build one: recorded as owed with
the message, put through the connector's own transport, retried by the next run, and
sent again (with a new control reference) when the partner sends a message again.

The partner here is generic (the edifact codec's fixtures, a local folder); Alpes Fret's
run over real SFTP servers is in tests/test_alpes_fret.py. SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydifact.parser import Parser
from sqlalchemy import func, select

from hub.config.connector_spec import AcknowledgementSpec
from hub.errors import ConfigurationError
from hub.model.parties import Party, PartyRole
from hub.partners.connectors import Network, check_network, open_network
from hub.partners.ingest.acknowledge import acknowledgement_name
from hub.partners.runs import RunOutcome, get_run
from hub.store.acknowledgements import acknowledgements_of
from hub.store.cases import open_case
from hub.store.db import Connection, Database
from hub.store.parties import save_party
from hub.store.tables import events, rejects
from tests.factories import make_case, register_network

pytestmark = pytest.mark.filterwarnings(
    "ignore::pydifact.exceptions.MissingImplementationWarning"  # pydifact reading CONTRL back
)

ROOT = Path(__file__).resolve().parent.parent
EDIFACT = ROOT / "fixtures" / "edifact"
CONNECTOR = "carrier-status"


def _mapping(tmp_path: Path, codec_type: str = "edifact") -> Path:
    """A generic carrier's mapping for the edifact fixtures (partner 'carrier-one')."""
    codec = (
        """
      type: edifact
      record: CNI
      fields:
        tracking_number: CNI/2
        status: STS+1/2/1
        reference: RFF[CU]/1/2
        at: DTM[334]/1/2"""
        if codec_type == "edifact"
        else """
      type: csv
      encoding: utf-8
      delimiter: ";\""""
    )
    path = tmp_path / "carrier-one.yaml"
    path.write_text(
        f"""
version: 1
partner: carrier-one
timezone: Europe/Paris
messages:
  status:
    direction: inbound
    file_pattern: "IFTSTA_*.edi"
    codec:{codec}
    event_type: shipment_status
    fields:
      case_ref: {{column: reference}}
      tracking_number: {{column: tracking_number, required: true}}
      raw_code: {{column: status, required: true}}
      occurred_at: {{column: at, format: "%Y%m%d%H%M", required: true}}
    codes: {{"21": in_transit, "74": failed_attempt, "80": delivered}}
""",
        encoding="utf-8",
    )
    return path


def _network(
    tmp_path: Path,
    *,
    acknowledgement: str = '{file_name: "CONTRL_{interchange}.edi"}',
    outbound: bool = True,
    codec_type: str = "edifact",
) -> Path:
    inbox, answers = tmp_path / "out", tmp_path / "in"
    inbox.mkdir(exist_ok=True)
    (inbox / "archive").mkdir(exist_ok=True)
    outbound_line = f"\n      outbound_dir: {answers}" if outbound else ""
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: carrier-one, role: carrier, name: Carrier One}}
connectors:
  - name: {CONNECTOR}
    partner: carrier-one
    mapping: {_mapping(tmp_path, codec_type)}
    message: status
    transport:
      type: local-dir
      path: {inbox}
      archive_dir: {inbox / "archive"}{outbound_line}
    acknowledgement: {acknowledgement}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def network(tmp_path: Path, database: Database) -> Network:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="carrier-one", role=PartyRole.CARRIER, name="Carrier One"))
        for reference in ("ME-000123", "BM-000045"):
            open_case(connection, make_case(reference))
    return open_network(_network(tmp_path))


def _drop(tmp_path: Path, fixture: str, reference: str | None = None) -> None:
    """A fixture into the partner's folder; with ``reference``, as that interchange."""
    content = (EDIFACT / fixture).read_bytes()
    if reference is not None:
        content = content.replace(b"00000501", reference.encode())
    (tmp_path / "out" / fixture).write_bytes(content)


def _carrier_events(connection: Connection) -> int:
    """The carrier's events (the cases' own opening events aside)."""
    query = select(func.count()).select_from(events).where(events.c.reported_by == "carrier-one")
    return int(connection.execute(query).scalar_one())


def _uci(content: bytes) -> list[str | list[str]]:
    segments = list(Parser().parse(content.decode("latin-1")))
    uci = next(segment for segment in segments if segment.tag == "UCI")
    return uci.elements


def test_each_interchange_is_answered_under_its_name_with_its_own_reference(
    tmp_path: Path, database: Database, network: Network
) -> None:
    _drop(tmp_path, "IFTSTA_two_messages.edi")
    _drop(tmp_path, "IFTSTA_bad_unt.edi", reference="00000502")
    report = network.connector(CONNECTOR).run(database)
    assert report.error is None
    answers = sorted(path.name for path in (tmp_path / "in").iterdir())
    assert answers == ["CONTRL_00000501.edi", "CONTRL_00000502.edi"]
    accepted = _uci((tmp_path / "in" / "CONTRL_00000501.edi").read_bytes())
    assert accepted[0] == "00000501"
    assert accepted[3] == "7"
    assert accepted[1] == ["CARRIER1", "ZZZ"]  # ISO 9735: the acknowledged sender first
    rejected = _uci((tmp_path / "in" / "CONTRL_00000502.edi").read_bytes())
    assert rejected[3] == "4"
    with database.transaction() as connection:
        sent = acknowledgements_of(connection, CONNECTOR)
        stored = _carrier_events(connection)
        refused = connection.execute(
            select(rejects.c.reason).where(rejects.c.reason.contains("whole message"))
        ).scalar_one()
    by_name = {a.name: a for a in sent}
    assert by_name["CONTRL_00000501.edi"].accepted
    assert not by_name["CONTRL_00000502.edi"].accepted
    assert sorted(a.control_reference for a in sent) == [1, 2]  # in the order read
    assert all(a.sent_at is not None for a in sent)
    for answer in sent:
        assert f"+{answer.control_reference:08d}'".encode() in answer.content
    assert stored == report.counts.events_stored > 0  # the faulty interchange: nothing
    assert "00000502 refused" in refused


def test_a_failed_put_stays_owed_and_goes_first_on_the_next_run(
    tmp_path: Path, database: Database, network: Network
) -> None:
    _drop(tmp_path, "IFTSTA_two_messages.edi")
    shutil.rmtree(tmp_path / "in", ignore_errors=True)
    (tmp_path / "in").write_text("a file where the folder should be")  # the put fails
    report = network.connector(CONNECTOR).run(database)
    assert report.error is not None
    assert get_run(database, report.run_id).outcome is RunOutcome.FAILED
    with database.transaction() as connection:
        (owed,) = acknowledgements_of(connection, CONNECTOR)
        stored = _carrier_events(connection)
    assert stored == report.counts.events_stored > 0  # kept: only the answer is owed
    assert owed.sent_at is None
    assert owed.attempts == 1
    assert owed.last_error
    (tmp_path / "in").unlink()
    again = network.connector(CONNECTOR).run(database)
    assert again.error is None
    assert (tmp_path / "in" / "CONTRL_00000501.edi").read_bytes() == owed.content
    with database.transaction() as connection:
        (sent,) = acknowledgements_of(connection, CONNECTOR)
    assert sent.sent_at is not None
    assert sent.attempts == 2
    assert sent.last_error is None


def test_a_message_sent_again_is_stored_once_and_answered_again(
    tmp_path: Path, database: Database, network: Network
) -> None:
    _drop(tmp_path, "IFTSTA_two_messages.edi")
    first = network.connector(CONNECTOR).run(database).counts.events_stored
    (tmp_path / "in" / "CONTRL_00000501.edi").unlink()  # the partner never got our answer
    _drop(tmp_path, "IFTSTA_two_messages.edi")  # so it sends the interchange again
    report = network.connector(CONNECTOR).run(database)
    assert report.error is None
    assert report.counts.events_stored == 0
    with database.transaction() as connection:
        answers = acknowledgements_of(connection, CONNECTOR)
        stored = _carrier_events(connection)
    assert stored == first > 0
    assert [a.control_reference for a in answers] == [1, 2]
    assert answers[0].message_id == answers[1].message_id
    assert b"+00000002'" in (tmp_path / "in" / "CONTRL_00000501.edi").read_bytes()


def test_an_answer_still_waiting_at_the_partner_is_not_overwritten(
    tmp_path: Path, database: Database, network: Network
) -> None:
    _drop(tmp_path, "IFTSTA_two_messages.edi")
    network.connector(CONNECTOR).run(database)
    answer = tmp_path / "in" / "CONTRL_00000501.edi"
    first = answer.read_bytes()
    _drop(tmp_path, "IFTSTA_two_messages.edi")  # sent again before it took our answer
    report = network.connector(CONNECTOR).run(database)
    assert report.error is None
    assert answer.read_bytes() == first
    with database.transaction() as connection:
        answers = acknowledgements_of(connection, CONNECTOR)
    assert [a.sent_at is not None for a in answers] == [True, False]
    assert answers[1].last_error is not None
    assert "already waits" in answers[1].last_error
    answer.unlink()  # the partner takes the first: the second goes on the next run
    assert network.connector(CONNECTOR).run(database).error is None
    assert b"+00000002'" in answer.read_bytes()


def test_the_uci_order_follows_the_codec_setting(tmp_path: Path, database: Database) -> None:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="carrier-one", role=PartyRole.CARRIER, name="Carrier One"))
    path = _network(tmp_path)
    mapping = tmp_path / "carrier-one.yaml"
    mapping.write_text(
        mapping.read_text().replace("record: CNI", "record: CNI\n      contrl_uci_parties: swapped")
    )
    _drop(tmp_path, "IFTSTA_two_messages.edi")
    assert open_network(path).connector(CONNECTOR).run(database).error is None
    uci = _uci((tmp_path / "in" / "CONTRL_00000501.edi").read_bytes())
    assert uci[1] == ["HUBSAV", "ZZZ"]
    assert uci[2] == ["CARRIER1", "ZZZ"]


def test_what_cannot_acknowledge_is_refused_when_the_file_is_read(tmp_path: Path) -> None:
    no_put = check_network(_network(tmp_path, outbound=True, codec_type="csv"))
    assert any("builds no acknowledgement" in problem.text for problem in no_put)
    bad_name = check_network(_network(tmp_path, acknowledgement='{file_name: "A_{x.y}.edi"}'))
    assert any("placeholders are plain names" in problem.text for problem in bad_name)


def test_file_names_come_from_the_values_and_stay_in_their_folder() -> None:
    values = {"interchange": "00000417", "reference": "00000001"}
    assert acknowledgement_name("CONTRL_{interchange}.edi", values) == "CONTRL_00000417.edi"
    with pytest.raises(ConfigurationError, match=r"no value \{sender\}"):
        acknowledgement_name("CONTRL_{sender}.edi", values)
    with pytest.raises(ConfigurationError, match="not a plain file name"):
        acknowledgement_name("{interchange}", {"interchange": "../x"})
    assert AcknowledgementSpec(file_name="A_{reference}.edi").reference_width == 8
