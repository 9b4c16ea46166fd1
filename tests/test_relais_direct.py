"""Relais Direct over real loopback HTTP, configured as connectors.yaml ships it: its
batches pushed to the hub's API (served by uvicorn) with the key in X-RD-Cle and
acknowledged in XML, its SOAP tracking service asked per open parcel. On SQLite and
PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select, text, update

from hub.api.app import create_app
from hub.model import Party, PartyRole
from hub.partners.connectors import Network, open_network
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.parties import save_party
from hub.store.tables import connector_cursors, events, raw_messages, rejects
from simulators.relais_direct import PARIS, RelaisDirectSimulator, Relay
from tests.api_support import serving
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
PUSH_KEY = "rd-push-key-for-tests"
SOAP_KEY = "rd-soap-key-for-tests"
PUSH = "relais-direct-push"
TRACKING = "relais-direct-tracking"
LYON = Relay("R0452", "Tabac de la Gare", "69003", "LYON")
GRENOBLE = Relay("R1187", "Presse Saint-Michel", "38000", "GRENOBLE")
T = datetime(2026, 11, 3, 10, 12, tzinfo=PARIS)


def shipped_network(folder: Path, base_url: str) -> Path:
    """connectors.yaml's two Relais Direct connectors as shipped, the SOAP service moved
    to the simulator's address."""
    shipped = yaml.safe_load((ROOT / "connectors.yaml").read_text(encoding="utf-8"))
    connectors: list[dict[str, Any]] = [
        c for c in shipped["connectors"] if c["partner"] == "relais-direct"
    ]
    assert {c["name"] for c in connectors} == {PUSH, TRACKING}
    for connector in connectors:
        connector["mapping"] = str(ROOT / connector["mapping"])
        if connector["name"] == TRACKING:
            connector["transport"]["base_url"] = base_url
    document = {
        "version": 1,
        "parties": [p for p in shipped["parties"] if p["id"] == "relais-direct"],
        "connectors": connectors,
    }
    path = folder / "connectors.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class World:
    database: Database
    network: Network
    carrier: RelaisDirectSimulator
    hub_url: str

    @property
    def push_url(self) -> str:
        return f"{self.hub_url}/partners/{PUSH}/events"

    def stored(self, *conditions: Any) -> int:
        query = (
            select(func.count())
            .select_from(events)
            .where(events.c.reported_by == "relais-direct", *conditions)
        )
        with self.database.transaction() as connection:
            return int(connection.execute(query).scalar_one())

    def wait_for(self, expected: int) -> int:
        """Pushes are mapped after the answer: wait (bounded) for the background work."""
        deadline = time.monotonic() + 10
        while (found := self.stored()) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    def count(self, table: Any) -> int:
        with self.database.transaction() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def world(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("RELAIS_DIRECT_PUSH_KEY", PUSH_KEY)
    monkeypatch.setenv("RELAIS_DIRECT_SOAP_KEY", SOAP_KEY)
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="relais-direct", role=PartyRole.CARRIER, name="RD"))
        open_case(connection, make_case("ME-000123"))
        open_case(connection, make_case("ME-000130"))
    with RelaisDirectSimulator(key=SOAP_KEY, push_key=PUSH_KEY, rate_limit=None) as carrier:
        network = open_network(shipped_network(tmp_path, carrier.base_url))
        with serving(create_app(database, network)) as url:
            carrier.push_url = f"{url}/partners/{PUSH}/events"
            yield World(database, network, carrier, url)


def test_a_wrong_or_missing_key_is_refused_with_403_and_nothing_is_kept(world: World) -> None:
    body = b'<?xml version="1.0"?><Evenements lot="RD-1"/>'
    for headers in ({"X-RD-Cle": "not-the-key"}, {}):
        answer = httpx.post(world.push_url, content=body, headers=headers)
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("application/xml")
        assert b"<Refus motif=" in answer.content
    world.carrier.push_key = "an-old-key"
    parcel = world.carrier.add_parcel("ME-000123")
    world.carrier.add_event(parcel, "PEC", T, relay=LYON)
    run = world.carrier.push_pending()
    assert run.retrying == [run.attempts[0].lot], "a 403 is retried every 15 minutes"
    assert world.count(raw_messages) == 0


def test_a_batch_is_acknowledged_ok_with_its_lot_once_stored(world: World) -> None:
    carrier = world.carrier
    parcel = carrier.add_parcel("ME-000123", "RD00458712")
    counter = carrier.add_parcel(None, "RD00458790")
    carrier.add_event(parcel, "PEC", T, relay=LYON, label="Colis pris en charge à Lyon")
    carrier.add_event(counter, "PEC", T + timedelta(minutes=5), relay=GRENOBLE)
    carrier.add_event(parcel, "TRA", T + timedelta(hours=11))
    run = carrier.push_pending()
    assert run.acknowledged == [run.attempts[0].lot]
    assert not carrier.retrying()
    assert not carrier.tickets
    # The acknowledgement came after the raw batch was committed.
    assert world.count(raw_messages) == 1
    assert world.wait_for(3) == 3
    with world.database.transaction() as connection:
        rows = connection.execute(
            select(events.c.case_ref, events.c.subject, events.c.raw_code, events.c.status)
            .where(events.c.reported_by == "relais-direct")
            .order_by(events.c.occurred_at)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("ME-000123", "RD00458712", "PEC", "picked_up"),
        (None, "RD00458790", "PEC", "picked_up"),  # a counter drop-off: no RefClient
        ("ME-000123", "RD00458712", "TRA", "in_transit"),
    ]


def test_the_acknowledgement_echoes_the_lot_of_a_latin1_batch(world: World) -> None:
    body = (ROOT / "fixtures/relais-direct/lot_RD-20261104-000871.xml").read_bytes()
    answer = httpx.post(world.push_url, content=body, headers={"X-RD-Cle": PUSH_KEY})
    assert answer.status_code == 200
    assert answer.content == (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<Acquittement lot="RD-20261104-000871" statut="OK"/>'
    )
    assert world.wait_for(2) == 2


@pytest.mark.parametrize(
    ("body", "motif"),
    [
        (b"NumColis;Code\nRD00458712;REM\n", "the body is not readable XML"),
        (
            b'<?xml version="1.0"?><Lot numero="X-1"><Evt/></Lot>',
            "not a Relais Direct batch: no Evenements lot",
        ),
    ],
)
def test_a_batch_that_can_never_be_stored_is_answered_ko(
    world: World, body: bytes, motif: str
) -> None:
    answer = httpx.post(world.push_url, content=body, headers={"X-RD-Cle": PUSH_KEY})
    assert answer.status_code == 200
    assert b'statut="KO"' in answer.content
    assert motif.encode() in answer.content
    assert world.count(raw_messages) == 0


def test_the_carrier_stops_retrying_a_batch_answered_ko(world: World) -> None:
    carrier = world.carrier
    moment = [1_800_000_000.0]
    carrier.clock = lambda: moment[0]
    parcel = carrier.add_parcel("ME-000123")
    carrier.add_event(parcel, "PEC", T, relay=LYON)
    carrier.garble_next = 1
    run = carrier.push_pending()
    assert run.refused == [run.attempts[0].lot]
    assert carrier.tickets[0][1].startswith("the body is not readable XML")
    moment[0] += 15 * 60
    assert carrier.push_pending().attempts == [], "no retry after a KO"
    assert world.count(raw_messages) == 0


def test_a_batch_the_hub_fails_to_store_gets_no_200_and_is_retried(world: World) -> None:
    carrier = world.carrier
    moment = [1_800_000_000.0]
    carrier.clock = lambda: moment[0]
    parcel = carrier.add_parcel("ME-000123")
    carrier.add_event(parcel, "PEC", T, relay=LYON)
    with world.database.transaction() as connection:
        connection.execute(text("ALTER TABLE raw_messages RENAME TO raw_messages_away"))
    try:
        first = carrier.push_pending()
    finally:
        with world.database.transaction() as connection:
            connection.execute(text("ALTER TABLE raw_messages_away RENAME TO raw_messages"))
    assert first.attempts[0].status is not None
    assert first.attempts[0].status >= 500
    assert first.retrying == [first.attempts[0].lot]
    moment[0] += 15 * 60
    second = carrier.push_pending()
    assert second.acknowledged == first.retrying
    assert world.wait_for(1) == 1


def soap_calls(carrier: RelaisDirectSimulator, at_least: int = 0, answered: int = 0) -> list[int]:
    """The statuses of the SOAP calls answered so far; the log is written as the answer
    leaves, so wait (bounded) for the calls, and the 200s, the caller knows were made."""
    deadline = time.monotonic() + 5
    while True:
        statuses = [r.status for r in carrier.requests if r.path == "/ws/SuiviColis"]
        enough = len(statuses) >= at_least and statuses.count(200) >= answered
        if enough or time.monotonic() > deadline:
            return statuses


def run_tracking(world: World) -> Any:
    return world.network.connector(TRACKING).run(world.database)


def test_a_lost_push_is_recovered_by_the_soap_pull(world: World) -> None:
    carrier = world.carrier
    parcel = carrier.add_parcel("ME-000123", "RD00458712")
    carrier.add_event(parcel, "PEC", T, relay=LYON)
    carrier.add_event(parcel, "TRA", T + timedelta(hours=11))
    assert carrier.push_pending().acknowledged
    assert world.wait_for(2) == 2
    carrier.lose_next = 1
    carrier.add_event(parcel, "DEP", T + timedelta(days=1, hours=8), relay=LYON)
    assert carrier.push_pending().lost
    report = run_tracking(world)
    assert report.error is None
    assert report.counts.events_stored == 1, "only DEP is new"
    assert report.counts.duplicates == 2, "PEC and TRA were pushed: the same events"
    with world.database.transaction() as connection:
        dep = connection.execute(
            select(events.c.case_ref, events.c.status, events.c.details).where(
                events.c.raw_code == "DEP"
            )
        ).one()
    assert dep.case_ref == "ME-000123"
    assert dep.status == "available_for_pickup"
    assert dep.details["shipment"]["leg"] == "to_customer"
    assert soap_calls(carrier, at_least=1) == [200]


def test_a_quota_fault_is_waited_out_and_the_run_goes_on(world: World) -> None:
    carrier = world.carrier
    numbers = []
    for index in range(3):
        number = carrier.add_parcel(f"ME-00013{index}" if index == 0 else None)
        carrier.add_event(number, "PEC", T + timedelta(minutes=index), relay=LYON)
        numbers.append(number)
    assert carrier.push_pending().acknowledged
    assert world.wait_for(3) == 3
    for number in numbers:
        carrier.add_event(number, "TRA", T + timedelta(hours=5))
    carrier.rate_limiter.limit = 1  # one call a second: the hub's 4 a second trip it
    carrier.clear_requests()
    report = run_tracking(world)
    assert report.error is None
    assert report.counts.events_stored == 3
    statuses = soap_calls(carrier, at_least=4, answered=3)
    assert 500 in statuses, "the quota Fault was met"
    assert statuses.count(200) == 3, "and every parcel answered in the end"


def test_an_unknown_parcel_is_noted_and_the_others_go_on(world: World) -> None:
    carrier = world.carrier
    kept = carrier.add_parcel("ME-000123", "RD00458712")
    purged = carrier.add_parcel("ME-000130", "RD00451077")
    for number in (kept, purged):
        carrier.add_event(number, "PEC", T, relay=LYON)
    assert carrier.push_pending().acknowledged
    assert world.wait_for(2) == 2
    carrier.add_event(kept, "TRA", T + timedelta(hours=3))
    carrier.forget_parcel(purged)
    report = run_tracking(world)
    assert report.error is None
    assert report.counts.rejected == 1
    assert report.counts.events_stored == 1
    with world.database.transaction() as connection:
        noted = connection.execute(
            select(rejects.c.connector, rejects.c.source, rejects.c.reason)
        ).one()
    assert noted.connector == TRACKING
    assert noted.source == "/ws/SuiviColis#RD00451077"
    assert "Colis RD00451077 inconnu" in noted.reason


def test_any_other_fault_fails_the_run_with_its_text(world: World) -> None:
    carrier = world.carrier
    number = carrier.add_parcel("ME-000123")
    carrier.add_event(number, "PEC", T, relay=LYON)
    assert carrier.push_pending().acknowledged
    assert world.wait_for(1) == 1
    carrier.key = "a-new-key-they-did-not-tell-us"
    report = run_tracking(world)
    assert report.error is not None
    assert "rd:CLE: Clé client invalide" in report.error.message


def test_each_parcel_is_asked_at_most_once_per_interval_across_restarts(
    world: World, tmp_path: Path
) -> None:
    carrier = world.carrier
    number = carrier.add_parcel("ME-000123", "RD00458712")
    carrier.add_event(number, "PEC", T, relay=LYON)
    assert carrier.push_pending().acknowledged
    assert world.wait_for(1) == 1

    def asked(expected: int) -> int:
        return len(soap_calls(carrier, at_least=expected))

    assert run_tracking(world).error is None
    assert asked(1) == 1
    assert run_tracking(world).counts.messages_seen == 0
    # Another process (a new network, as after a restart) knows it was asked.
    again = open_network(world.network.path).connector(TRACKING).run(world.database)
    assert again.counts.messages_seen == 0
    assert asked(1) == 1
    # Two hours later it is due again.
    with world.database.transaction() as connection:
        connection.execute(
            update(connector_cursors)
            .where(connector_cursors.c.connector == TRACKING)
            .values(updated_at=datetime.now(UTC) - timedelta(hours=2, minutes=1))
        )
    assert run_tracking(world).counts.messages_seen == 1
    assert asked(2) == 2
    # Delivered: no longer open, never asked again, and its row is dropped.
    carrier.add_event(number, "DEP", T + timedelta(days=1), relay=LYON)
    carrier.add_event(number, "REM", T + timedelta(days=2), relay=LYON, signatory="MARTIN")
    assert carrier.push_pending().acknowledged
    assert world.wait_for(3) == 3
    assert run_tracking(world).counts.messages_seen == 0
    with world.database.transaction() as connection:
        left = connection.execute(
            select(func.count())
            .select_from(connector_cursors)
            .where(connector_cursors.c.connector == TRACKING)
        ).scalar_one()
    assert left == 0
