"""Service levels over stored cases, and breaches published to the retailer once.

On SQLite and PostgreSQL; the retailer's webhook is a real server on loopback whose
signatures are checked with the standardwebhooks package, and BricoMarket reads its feed
through the API. Every clock is given, never read.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from hub.api import create_app
from hub.bootstrap import Hub
from hub.console.render import duration
from hub.errors import NotFoundError
from hub.model import Event, EventDetails, EventType, Party, PartyRole, ShipmentStatus
from hub.model.statuses import CaseStatus
from hub.partners.connectors import Network, open_network
from hub.partners.leases import acquire_lease
from hub.partners.network_cache import CACHE_DIR_VARIABLE, read_outline
from hub.sla.compute import StepState
from hub.sla.levels import Step
from hub.sla.publish import LEASE_NAME, breach_event_id, publish_breaches, publish_leased
from hub.sla.store import (
    breaches,
    case_service_levels,
    plain_breaches,
    plain_case_service_levels,
)
from hub.store import plain_reads
from hub.store.cases import case_state, get_case, open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.parties import save_party
from hub.store.plain import PlainStore
from hub.store.service_levels import measured_case, measured_open_cases
from hub.store.tables import cases
from hub.sync.delivery import deliver_any
from hub.sync.outbox import Dispatcher
from tests.api_support import make_tenant, serving
from tests.factories import PARIS_WINTER as WINTER
from tests.factories import case_event, make_case, register_network
from tests.locks import assert_case_held, not_waiting
from tests.test_console import OPERATOR_TOKEN, log_in

SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode()
MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=WINTER)
NOW = datetime(2026, 11, 5, 12, 0, tzinfo=WINTER)
"""Thursday: Gold's one-day pickup from Monday was due before Wednesday."""


@dataclass
class Receiver:
    url: str = ""
    payloads: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    app = FastAPI()
    verifier = Webhook(SECRET)

    @app.post("/hub")
    async def receive(request: Request) -> Response:
        state.payloads.append(verifier.verify(await request.body(), dict(request.headers)))
        return Response(status_code=204)

    with serving(app) as url:
        state.url = url
        yield state


@pytest.fixture
def network(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Network:
    monkeypatch.setenv("TEST_ME_WEBHOOK", SECRET)
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: hub, role: hub, name: After-sales hub}}
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: bricomarket, role: retailer, name: BricoMarket}}
service_levels: {{maison-electro: gold}}   # BricoMarket: the legal rule only
webhooks:
  - {{retailer: maison-electro, url: "{receiver.url}/hub", secret_env: TEST_ME_WEBHOOK}}
sync:
  rules:
    - {{name: breaches-to-retailer, when: {{type: service_level}}, notify_retailer: true}}
""",
        encoding="utf-8",
    )
    return open_network(path)


def scanned(case_ref: str, at: datetime) -> Event:
    return Event(
        id=f"colis-express:scan-{case_ref}",
        case_ref=case_ref,
        type=EventType.SHIPMENT_STATUS,
        status=ShipmentStatus.IN_TRANSIT,
        occurred_at=at,
        reported_by="colis-express",
        raw_code="PCH",
        subject=f"CE{case_ref[-6:]}FR",
    )


def store_cases(database: Database) -> None:
    """ME-000123 never picked up (breach); ME-000124 picked up in time; ME-000125 was
    late but is closed; BM-000045 (no contract level) under legal warranty for 40 days."""
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
        for reference in ("ME-000123", "ME-000124", "ME-000125"):
            open_case(connection, make_case(reference, opened_at=MONDAY))
        open_case(
            connection,
            make_case("BM-000045", opened_at=NOW - timedelta(days=40), service="exchange"),
        )
        append_events(
            connection,
            [
                scanned("ME-000124", MONDAY + timedelta(hours=5)),
                case_event("closed", MONDAY + timedelta(days=2), case_ref="ME-000125", code="CLO"),
            ],
        )


def test_breaches_list_the_open_cases_steps_past_their_deadline(
    database: Database, network: Network
) -> None:
    store_cases(database)
    found = breaches(database, network, now=NOW)
    assert [(b.case_ref, b.step, b.basis) for b in found] == [
        ("BM-000045", Step.LEGAL, "legal"),
        ("ME-000123", Step.PICKUP, "gold"),
    ]
    pickup = found[1]
    assert pickup.retailer == "maison-electro"
    assert pickup.deadline == datetime(2026, 11, 4, 0, 0, tzinfo=WINTER)
    assert pickup.late_by == timedelta(days=1, hours=12)
    assert pickup.ongoing
    assert [b.case_ref for b in breaches(database, network, now=NOW, retailer="bricomarket")] == [
        "BM-000045"
    ]
    an_hour_in = breaches(database, network.config, now=MONDAY + timedelta(hours=1))
    assert [b.case_ref for b in an_hour_in] == ["BM-000045"], "pickups not due yet"


def test_one_case_s_steps_with_their_deadlines(database: Database, network: Network) -> None:
    store_cases(database)
    levels = case_service_levels(database, network.config, "ME-000124", now=NOW)
    assert levels.level is not None
    assert levels.level.value == "gold"
    states = {step.step: step.state for step in levels.steps}
    assert states == {
        Step.PICKUP: StepState.MET,
        Step.TOTAL: StepState.RUNNING,
        Step.LEGAL: StepState.RUNNING,
    }
    with database.transaction() as connection:
        same = case_service_levels(connection, network, "ME-000124", now=NOW)
    assert same == levels
    with pytest.raises(NotFoundError, match="ME-999999"):
        case_service_levels(database, network, "ME-999999", now=NOW)


def test_breaches_and_a_case_s_levels_are_read_beside_a_held_writer(
    database: Database, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-only units (``Database.reading``): on SQLite they do not ask for the writer's
    lock, which another unit holds here (tests.locks: a wait would fail at once)."""
    store_cases(database)
    with not_waiting(database, monkeypatch) as impatient, database.transaction() as writing:
        writing.execute(update(cases).values(updated_at=cases.c.updated_at))
        assert_case_held(database, "ME-000124")
        assert [b.case_ref for b in breaches(impatient, network, now=NOW)] == [
            "BM-000045",
            "ME-000123",
        ]
        assert case_service_levels(impatient, network, "ME-000124", now=NOW).level is not None


def test_breaches_read_all_open_cases_in_two_statements(
    database: Database, network: Network
) -> None:
    store_cases(database)
    with database.transaction() as connection:
        for number in range(200, 240):
            reference = f"ME-000{number}"
            open_case(connection, make_case(reference, opened_at=MONDAY))
            append_events(connection, [scanned(reference, MONDAY + timedelta(days=3))])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sqlalchemy_event.listen(database.engine, "before_cursor_execute", count)
    try:
        found = breaches(database, network, now=NOW)
    finally:
        sqlalchemy_event.remove(database.engine, "before_cursor_execute", count)
    assert len(found) == 42  # 40 late pickups, ME-000123's, BM-000045's legal rule
    assert len(statements) == 2, statements


def test_a_breach_is_published_once_and_leaves_the_case_status_alone(
    database: Database, network: Network
) -> None:
    store_cases(database)
    first = publish_breaches(database, network, now=NOW)
    assert len(first.published) == 2
    again = publish_breaches(database, network, now=NOW + timedelta(hours=1))
    assert len(again.breaches) == 2
    assert again.published == []

    with database.transaction() as connection:
        state = case_state(connection, "ME-000123")
        record = get_case(connection, "ME-000123")
    verdicts = [e for e in state.timeline if e.type is EventType.SERVICE_LEVEL]
    assert len(verdicts) == 1
    [verdict] = verdicts
    assert verdict.reported_by == "hub"
    assert verdict.subject == "pickup"
    assert verdict.occurred_at == datetime(2026, 11, 4, 0, 0, tzinfo=WINTER)
    assert verdict.details == EventDetails(
        reason="gold", note="due before 2026-11-04T00:00:00+01:00"
    )
    assert verdict.id == breach_event_id(first.breaches[1])
    assert state.status is CaseStatus.CREATED
    assert record is not None
    assert record.status is CaseStatus.CREATED


def test_the_retailer_gets_the_breach_by_webhook_and_in_its_feed(
    database: Database, network: Network, receiver: Receiver
) -> None:
    store_cases(database)
    bricomarket = make_tenant(database, "bricomarket", "BricoMarket", "BM-")
    publish_breaches(database, network, now=NOW)
    publish_breaches(database, network, now=NOW + timedelta(minutes=15))

    dispatcher = Dispatcher(
        database,
        lambda row: deliver_any(database, network, row),
        owner="test",
        clock=lambda: datetime.now(UTC) + timedelta(seconds=1),
    )
    assert dispatcher.run_until_idle().delivered == 1
    [payload] = receiver.payloads
    assert payload["case_reference"] == "ME-000123"
    assert payload["event_type"] == "service_level"
    assert payload["status"] == "breached"
    assert payload["label"] == {"fr": "Délai de service dépassé", "en": "Service deadline missed"}
    assert payload["raw_code"] == "pickup"
    assert payload["case_status_after"] == "created"

    client = TestClient(create_app(database))
    response = client.get("/v1/feed", headers=bricomarket.headers)
    assert response.status_code == 200, response.text
    items = [i for i in response.json()["items"] if i["type"] == "service_level"]
    assert [(i["case_reference"], i["status"], i["raw_code"]) for i in items] == [
        ("BM-000045", "breached", "legal")
    ]


def test_the_scheduled_check_runs_under_its_lease(database: Database, network: Network) -> None:
    store_cases(database)
    assert acquire_lease(database, LEASE_NAME, "another-process", now=NOW)
    assert publish_leased(database, network, "this-process", now=NOW) is None
    assert breaches(database, network, now=NOW)
    with database.transaction() as connection:
        assert [
            e
            for e in case_state(connection, "ME-000123").timeline
            if e.type is EventType.SERVICE_LEVEL
        ] == []

    later = NOW + timedelta(minutes=5)  # the other process's lease has expired
    result = publish_leased(database, network, "this-process", now=later)
    assert result is not None
    assert len(result.published) == 2
    assert publish_leased(database, network, "this-process", now=later) is not None, "released"

    job = {job.id: job for job in Hub(database, network, owner="x").scheduler().get_jobs()}[
        LEASE_NAME
    ]
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(minutes=1), "published within a minute"


def test_the_hubs_jobs_look_for_breaches_by_the_hubs_clock(
    database: Database, network: Network
) -> None:
    """The demo's hub runs on its story's clock: before the deadlines nothing is late,
    whatever the machine's date; at NOW the breaches are published, dated by that clock."""
    store_cases(database)
    story: list[datetime] = [NOW - timedelta(days=30)]
    hub = Hub(database, network, owner="story", clock=lambda: story[0])
    early = hub.jobs.publish_breaches(now=None)
    assert early is not None
    assert early.published == [], "nothing is late a month before"
    story[0] = NOW
    result = hub.jobs.publish_breaches(now=None)
    assert result is not None
    assert len(result.published) == 2
    assert {event.recorded_at for event in result.published} == {NOW}


def test_the_console_measures_breaches_by_the_hubs_clock(
    database: Database, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console's breaches and case pages ask the clock the hub was built with (the
    demo's story time), never the machine's date: "31 d late" was the machine's."""
    store_cases(database)
    monkeypatch.setenv("HUB_OPERATOR_TOKEN", OPERATOR_TOKEN)
    expected = {b.case_ref: b.late_by for b in breaches(database, network, now=NOW)}
    app = create_app(database, network, clock=lambda: NOW)
    with TestClient(app) as client:
        log_in(client)
        page = client.get("/console/breaches").text
        case_page = client.get("/console/cases/ME-000123").text
    assert f"<strong>{duration(expected['ME-000123'])}</strong>" in page
    assert f"<strong>{duration(expected['BM-000045'])}</strong>" in page
    assert f"{duration(expected['ME-000123'])} late" in case_page
    assert "2026-11-05 12:00:00 CET</span> by the hub's clock" in page


def test_service_levels_are_read_the_same_both_ways(
    database: Database, network: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: `hub sla` reads the cases through hub.store.plain, without SQLAlchemy, and
    the contract levels from the network's kept outline; the same cases, events and
    breaches as through the Database with the whole network."""
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / "kept"))
    read_outline(network.path)
    kept = read_outline(network.path)
    assert kept.contract_level("maison-electro") == "gold"
    store_cases(database)
    with database.transaction() as connection:  # a case's own details, read back too
        append_events(
            connection,
            [
                case_event("received", MONDAY + timedelta(hours=3)).model_copy(
                    update={"details": EventDetails(note="bagged, é")}
                )
            ],
        )
    url = database.engine.url.render_as_string(hide_password=False)
    with PlainStore(url) as store, database.reading() as connection:
        for retailer in (None, "maison-electro", "bricomarket", "nobody"):
            found = plain_reads.measured_open_cases(store, retailer)
            assert found == measured_open_cases(connection, retailer)
            for now in (NOW, MONDAY + timedelta(hours=1)):
                # The unit's connection: a unit of its own inside this one is refused.
                expected = breaches(connection, network, now=now, retailer=retailer)
                assert plain_breaches(store, network, now=now, retailer=retailer) == expected
                assert plain_breaches(store, kept, now=now, retailer=retailer) == expected
        for reference in ("ME-000123", "ME-000124", "ME-000125", "BM-000045"):
            assert plain_reads.measured_case(store, reference) == measured_case(
                connection, reference
            )
            expected_levels = case_service_levels(connection, network, reference, now=NOW)
            assert plain_case_service_levels(store, network, reference, now=NOW) == expected_levels
            assert plain_case_service_levels(store, kept, reference, now=NOW) == expected_levels
        assert plain_reads.measured_case(store, "ME-999999") is None
        with pytest.raises(NotFoundError, match="ME-999999"):
            plain_case_service_levels(store, network, "ME-999999", now=NOW)
        every = plain_reads.measured_open_cases(store)
    assert [one.case.reference for one in every] == ["ME-000123", "ME-000124", "BM-000045"]
    [received] = [event for event in every[0].events if event.details.written]
    assert received.details.written == {"note": "bagged, é"}
    assert received.occurred_at == MONDAY + timedelta(hours=3)
