"""Issue 15's acceptance: two carriers written with the mapping language only, one JSON
(Orbis Express, a REST tracking API) and one SOAP (Meridian Post), with several parcels
per answer, checkpoints in three time zones, an error answer, parcels without a case
reference linked by tracking number through the store, and two scans at the same second
in two places. Their mappings, samples and golden files are in
``tests/fixtures/carriers/`` (see its README); each test says which of issue 15's seven
points it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.config.network import load_network
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.model.event import Event, EventDetails, EventType
from hub.model.parties import Party, PartyRole
from hub.model.work import Shipment
from hub.operators.listings import recent_rejects
from hub.partners.conformance import run_conformance
from hub.partners.connectors import Network, open_network
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import ErrorAnswer, InboundPipeline
from hub.partners.replay import replay_message
from hub.partners.resolve import link_waiting
from hub.ports import MessageRef, RawMessage
from hub.store.case_links import unlinked_events
from hub.store.cases import case_state, open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.parties import save_party
from tests.factories import make_case, register_network
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent
CARRIERS = ROOT / "tests" / "fixtures" / "carriers"
PARTIES = load_network(ROOT / "connectors.yaml").parties
NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Carrier:
    """One acceptance carrier and the facts its first sample states."""

    partner: str
    answer: str
    error: str
    referenced: tuple[str, str]
    """A parcel the answer names with its case's reference, and that case."""
    unreferenced: tuple[str, str]
    """A parcel the answer names without any reference, and the case it is for."""
    zones: tuple[str, ...]
    """The first parcel's checkpoints in UTC: three zones, then one without (Paris)."""
    same_second: tuple[str, str, str]
    """The instant two scans share, and their two cities."""
    quoted: str


ORBIS = Carrier(
    partner="orbis-express",
    answer="track_01_two_parcels.json",
    error="track_03_error.json",
    referenced=("OX7730041122", "ME-000700"),
    unreferenced=("OX7730041139", "ME-000701"),
    zones=(
        "2026-11-02T02:05:00+00:00",  # 10:05 in Shanghai
        "2026-11-02T08:40:00+00:00",
        "2026-11-03T00:15:00+00:00",  # 04:15 at +04:00 (Dubai)
        "2026-11-03T05:50:00+00:00",
        "2026-11-03T17:20:00+00:00",  # 18:20 in Paris
        "2026-11-04T06:30:00+00:00",  # no zone given: the mapping's (Paris)
        "2026-11-04T10:02:00+00:00",
    ),
    same_second=("2026-11-03T22:00:00+00:00", "Orly", "Saint-Priest"),
    quoted="E404: No shipment found for tracking number(s): OX0000000000",
)
MERIDIAN = Carrier(
    partner="meridian-post",
    answer="track_01_three_parcels.xml",
    error="track_03_fault.xml",
    referenced=("MP4471200981CN", "ME-000710"),
    unreferenced=("MP4471200995FR", "ME-000711"),
    zones=(
        "2026-11-02T08:40:00+00:00",  # 16:40 at +08:00
        "2026-11-03T01:10:00+00:00",  # 05:10 at +04:00
        "2026-11-03T18:25:00+00:00",  # 19:25 at +01:00
        "2026-11-04T09:48:00+00:00",  # no offset: the mapping's (Paris)
    ),
    same_second=("2026-11-03T21:00:00+00:00", "Saran", "Saint-Priest"),
    quoted="MP-2001: No item found for MP0000000000FR (SOAP soap:Client)",
)
BOTH = [ORBIS, MERIDIAN]
IDS = [c.partner for c in BOTH]


def _mapping(carrier: Carrier) -> Path:
    return CARRIERS / carrier.partner / "mapping.yaml"


def _sample(carrier: Carrier, name: str) -> bytes:
    return (CARRIERS / carrier.partner / name).read_bytes()


def _pipeline(mapping_path: Path) -> InboundPipeline:
    mapping = load_mapping(mapping_path)
    return InboundPipeline(build_codec(mapping.inbound("track")), InboundMapping(mapping, "track"))


@pytest.mark.parametrize("carrier", BOTH, ids=IDS)
def test_the_acceptance_carriers_conform(carrier: Carrier) -> None:
    """Every sample against its golden file, read twice without adding anything, broken
    copies of the mapping refused. Points 1 (parcels without reference), 2 (places,
    signer), 3 (error answer, a path reaching nothing, an answer with nothing yet),
    5 (several parcels, each checkpoint its own parcel's number), 6 (three zones),
    7 (same-second scans, code patterns, unknown codes flagged)."""
    report = run_conformance(_mapping(carrier), CARRIERS, PARTIES)
    assert report.skipped is None
    assert [f"{c.name}: {c.detail}" for c in report.checks if not c.passed] == []
    goldens = sorted(p.name for p in (CARRIERS / carrier.partner).glob("*.expected.jsonl"))
    assert len(goldens) == 5
    assert sum(c.name.startswith("track: track_") for c in report.checks) == 5


@pytest.mark.parametrize("carrier", BOTH, ids=IDS)
def test_each_parcels_checkpoints_read_their_own_number_and_zone(carrier: Carrier) -> None:
    """Points 5 and 6: a parcel's checkpoints carry its own number (never the first
    parcel's), each read in the zone or offset it came with, or the mapping's zone."""
    items = list(
        _pipeline(_mapping(carrier)).parse(
            _sample(carrier, carrier.answer), source=carrier.answer, recorded_at=NOW
        )
    )
    events = [item for item in items if isinstance(item, Event)]
    assert len(events) == len(items), "no reject in the first answer"
    number, reference = carrier.referenced
    first = [e for e in events if e.subject == number]
    assert {e.case_ref for e in first} == {reference}
    assert [e.occurred_at.astimezone(UTC).isoformat() for e in first] == list(carrier.zones)
    other, _ = carrier.unreferenced
    assert {e.case_ref for e in events if e.subject == other} == {None}


@pytest.mark.parametrize("carrier", BOTH, ids=IDS)
def test_two_scans_at_the_same_second_in_two_places_stay_two(
    carrier: Carrier, tmp_path: Path
) -> None:
    """Point 7: `identity: [location_city]` keeps two facts the carrier stamped at the
    same second in two cities; without it they would be one event (one lost)."""
    instant, city_a, city_b = carrier.same_second

    def scans(mapping_path: Path) -> list[Event]:
        items = _pipeline(mapping_path).parse(
            _sample(carrier, carrier.answer), source=carrier.answer, recorded_at=NOW
        )
        return [
            item
            for item in items
            if isinstance(item, Event) and item.occurred_at.astimezone(UTC).isoformat() == instant
        ]

    kept = scans(_mapping(carrier))
    cities = sorted(str(e.details.location.city) for e in kept if e.details.location)
    assert cities == sorted([city_a, city_b])
    assert len({e.id for e in kept}) == 2
    text = _mapping(carrier).read_text(encoding="utf-8")
    without = tmp_path / "mapping.yaml"
    without.write_text(text.replace("    identity: [location_city]\n", ""), encoding="utf-8")
    assert len({e.id for e in scans(without)}) == 1


def _network(tmp_path: Path, carrier: Carrier) -> Network:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: pieces-plus, role: parts_supplier, name: PiècesPlus}}
  - {{id: {carrier.partner}, role: carrier, name: {carrier.partner}}}
connectors:
  - name: {carrier.partner}-track
    partner: {carrier.partner}
    mapping: "{_mapping(carrier)}"
    message: track
    transport: {{type: local-dir, path: "{drop}"}}
""",
        encoding="utf-8",
    )
    return open_network(path)


def _register(database: Database, carrier: Carrier) -> None:
    """The repository's parties, and the carrier: it is not in the network's file."""
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id=carrier.partner, role=PartyRole.CARRIER, name="C"))


def _ingest(database: Database, network: Network, carrier: Carrier, name: str) -> RawMessage:
    content = _sample(carrier, name)
    message = RawMessage(MessageRef(name, len(content)), content)
    connector = network.connector(f"{carrier.partner}-track")
    ingest_message(
        database, connector.spec.name, connector.pipeline(), message, on_stored=None, now=NOW
    )
    return message


def _carrier_events(database: Database, reference: str, carrier: Carrier) -> list[Event]:
    with database.transaction() as connection:
        timeline = case_state(connection, reference).timeline
    return [e for e in timeline if e.reported_by == carrier.partner]


@pytest.mark.parametrize("carrier", BOTH, ids=IDS)
def test_a_parcel_without_reference_links_by_its_number_through_the_store(
    database: Database, tmp_path: Path, carrier: Carrier
) -> None:
    """Point 1, end to end on SQLite and PostgreSQL: the supplier's shipped event taught
    the hub the parcel's number for its case earlier; the carrier's answer names that
    parcel with no reference, and its checkpoints (the two same-second scans included,
    point 7) land on that case. The parcel named with its reference links by it."""
    number, reference = carrier.unreferenced
    _register(database, carrier)
    with database.transaction() as connection:
        open_case(connection, make_case(reference))
        open_case(connection, make_case(carrier.referenced[1]))
        shipped = Event(
            id=f"pp-shipped-{number}",
            case_ref=reference,
            type=EventType.PARTS_ORDER_STATUS,
            status=None,
            occurred_at=datetime(2026, 11, 3, 12, 0, tzinfo=UTC),
            reported_by="pieces-plus",
            raw_code="SHIPPED",
            details=EventDetails(
                shipment=Shipment(tracking_number=number, carrier=carrier.partner)
            ),
        )
        append_events(connection, [shipped])
        link_waiting(connection, [shipped], None)

    _ingest(database, _network(tmp_path, carrier), carrier, carrier.answer)

    linked = _carrier_events(database, reference, carrier)
    assert {e.subject for e in linked} == {number}
    assert len(linked) == 4
    instant, city_a, city_b = carrier.same_second
    same = [e for e in linked if e.occurred_at.astimezone(UTC).isoformat() == instant]
    cities = sorted(str(e.details.location.city) for e in same if e.details.location)
    assert cities == sorted([city_a, city_b])
    referenced = _carrier_events(database, carrier.referenced[1], carrier)
    assert {e.subject for e in referenced} == {carrier.referenced[0]}
    with database.transaction() as connection:
        assert unlinked_events(connection, party=carrier.partner) == []


@pytest.mark.parametrize("carrier", BOTH, ids=IDS)
def test_an_error_answer_is_a_reject_kept_shown_and_replayable(
    database: Database, tmp_path: Path, carrier: Carrier
) -> None:
    """Point 3, end to end on SQLite and PostgreSQL: the carrier's error answer (a JSON
    error object, a SOAP Fault) is archived, rejected whole with the carrier's code and
    message for the operator, and a replay of it says the same, storing nothing."""
    _register(database, carrier)
    network = _network(tmp_path, carrier)
    connector = network.connector(f"{carrier.partner}-track")
    content = _sample(carrier, carrier.error)
    outcome = ingest_message(
        database,
        connector.spec.name,
        connector.pipeline(),
        RawMessage(MessageRef(carrier.error, len(content)), content),
        now=NOW,
    )
    assert (outcome.counts.events_stored, outcome.counts.rejected) == (0, 1)
    [problem] = outcome.rejects
    assert isinstance(problem, ErrorAnswer)
    [kept] = recent_rejects(database, connector.spec.name)
    assert kept.reason.endswith(f"not a track message: {carrier.quoted}")
    assert kept.message_id == outcome.message_id
    assert kept.raw is not None
    assert content.decode()[:40] in kept.raw

    replayed = replay_message(database, network, outcome.message_id)
    assert replayed.error is None
    assert replayed.counts.events_stored == 0
    assert [type(r).__name__ for r in replayed.rejects] == ["ErrorAnswer"]


def test_hub_ingest_fails_on_an_error_answer_and_quotes_it(tmp_path: Path) -> None:
    """Point 3 from the command line: the repository's Relais Direct tracking connector
    given a saved SOAP Fault answers exit 1 with the carrier's words, dry run or not
    (its pull's `faults` rules never let such an answer reach the mapping; a file does)."""
    fault = ROOT / "fixtures" / "relais-direct" / "suivi_fault_unknown.xml"
    result = run(
        "ingest", "--connector", "relais-direct-tracking", "--file", str(fault), "--dry-run",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "rd:COLIS_INCONNU: Colis RD99999999 inconnu" in result.stderr
    assert "suivi_fault_unknown.xml was rejected whole" in result.stderr
