"""Élec Distrib end to end over real loopback HTTP, through the hub's jobs, on SQLite and
PostgreSQL: order events pulled from the newest instant stored (same-instant events
across pages stored once, none lost, the cursor kept across runs and crashes), OAuth 2.0
tokens that expire or are revoked mid-run, 429 with an HTTP date, purchase orders whose
answer's order_id is kept and shown on the case, and a 422 that dead-letters the order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from adapters.transports.http.from_spec import HTTP_PULL
from adapters.transports.http.pull import rfc3339
from adapters.transports.http.spec import HttpPullTransportSpec
from cli import app
from hub.api.operator_auth import TOKEN_ENV
from hub.bootstrap import Hub, Retries
from hub.errors import ConfigurationError
from hub.mapping.loader import build_answer_codec, load_mapping
from hub.mapping.outbound import UnreadableAnswer, answer_values
from hub.mapping.spec import AnswerSpec, AnswerTarget
from hub.model import Event, EventDetails, EventType, stable_event_id
from hub.model.work import PartsOrderLine
from hub.partners.connectors import Network, open_network
from hub.partners.ingest.paged import since_cursor
from hub.ports import Capability, DeliveryReceipt
from hub.store.case_links import RecordedBy, references_of_case
from hub.store.cases import case_state, open_case
from hub.store.connector_state import read_cursor, write_cursor
from hub.store.db import Database
from hub.store.events import append_events, count_events_by_reporter
from hub.store.outbox import all_messages
from hub.store.parties import save_party
from hub.sync.delivery import deliver_row, keep_answer
from hub.sync.outbox import dead_letters
from simulators.colis_express import ColisExpressSimulator
from simulators.elec_distrib import EVENTS_PATH, ElecDistribSimulator
from simulators.server import ManualClock
from tests.api_support import make_tenant
from tests.factories import make_case

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "hub-bricomarket", "ed-secret-4f9a2c"
EVENTS, ORDERS, PARCELS = "ed-events", "ed-orders", "ce-parcels"
OPERATOR_TOKEN = "op-" + "5e8d0c4b2a19f7e3d6c5b4a392817f60"
PARIS = timedelta(hours=1)
T0 = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)


@dataclass
class World:
    database: Database
    network: Network
    distributor: ElecDistribSimulator
    carrier: ColisExpressSimulator
    clock: ManualClock

    def run(self, connector: str) -> None:
        with Hub(self.database, self.network, owner="ed-test") as hub:
            report = hub.run_now(connector)
        assert report is not None

    def dispatch(self) -> None:
        retries = Retries(max_attempts=2, base_delay=0.0, max_delay=0.0)
        with Hub(self.database, self.network, owner="ed-test", retries=retries) as hub:
            hub.jobs.dispatch()

    def stored(self) -> int:
        with self.database.transaction() as connection:
            return count_events_by_reporter(connection).get("elec-distrib", 0)

    def cursor(self) -> str | None:
        with self.database.transaction() as connection:
            return read_cursor(connection, EVENTS)

    def asked(self) -> list[dict[str, str]]:
        """The query of each order-events call the distributor answered, in order."""
        return [
            dict(pair.split("=", 1) for pair in r.query.split("&") if pair)
            for r in self.distributor.requests
            if r.path == EVENTS_PATH
        ]

    def statuses(self, path: str) -> list[int]:
        return [r.status for r in self.distributor.requests if r.path == path]


@pytest.fixture
def world(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("ED_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ED_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("CE_TOKEN", "ce-token")
    clock = ManualClock(time.time())
    with (
        ElecDistribSimulator(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            clock=clock,
            wall_clock=time.time,
            rate_limit=None,
        ) as distributor,
        ColisExpressSimulator(token="ce-token", rate_limit=None) as carrier,
    ):
        path = tmp_path / "connectors.yaml"
        path.write_text(_network(distributor.base_url, carrier.base_url), encoding="utf-8")
        network = open_network(path)
        with database.transaction() as connection:
            for party in network.config.parties:
                save_party(connection, party)
        yield World(database, network, distributor, carrier, clock)


def _network(distributor: str, carrier: str) -> str:
    mappings = ROOT / "mappings"
    auth = (
        f"{{scheme: oauth2-client-credentials, token_url: '{distributor}/oauth2/token', "
        "client_id_env: ED_CLIENT_ID, client_secret_env: ED_CLIENT_SECRET, scope: orders}"
    )
    return f"""
version: 1
parties:
  - {{id: hub, role: hub, name: After-sales hub}}
  - {{id: bricomarket, role: retailer, name: BricoMarket}}
  - id: atelier-dupont
    role: repairer
    name: Atelier Dupont Réparation
    address: {{line1: ZA des Prés, postcode: "38300", city: Bourgoin-Jallieu, country: FR}}
  - {{id: colis-express, role: carrier, name: ColisExpress}}
  - {{id: elec-distrib, role: parts_supplier, name: Élec Distrib}}
connectors:
  - name: {EVENTS}
    partner: elec-distrib
    mapping: {mappings / "elec-distrib.yaml"}
    message: order_events
    transport:
      type: http-pull
      base_url: {distributor}
      page_path: {EVENTS_PATH}
      since_param: modified_since
      pagination: {{style: link_header, size_param: per_page, size: 2}}
      auth: {auth}
      requests_per_second: 200
      max_attempts: 3
  - name: {ORDERS}
    partner: elec-distrib
    mapping: {mappings / "elec-distrib.yaml"}
    message: purchase_order
    transport:
      type: http-post
      base_url: {distributor}
      post_path: /api/v2/orders
      content_type: application/json
      auth: {auth}
      idempotent_ok_status: 200
      requests_per_second: 200
  - name: {PARCELS}
    partner: colis-express
    mapping: {mappings / "colis-express.yaml"}
    message: parcel_events
    transport: {{type: http-pull, base_url: "{carrier}", item_path: "/v1/parcels/{{key}}/events",
                 bearer_token_env: CE_TOKEN, requests_per_second: 200}}
sync:
  routes:
    - {{retailer: bricomarket, repairer: atelier-dupont, carrier: colis-express,
        supplier: elec-distrib}}
  rules:
    - name: part-needed
      when: {{type: case_status, status: waiting_parts, reported_by_role: repairer}}
      send: [{{to: supplier, message: purchase_order}}]
    - name: part-obsolete
      when: {{type: parts_order_status, status: cancelled, reason: [REF_OBSOLETE, OBSOLETE]}}
      set_status: on_hold
"""


def _events(world: World, *at: datetime) -> None:
    """One event per instant given, for orders nobody opened a case for."""
    for index, when in enumerate(at):
        world.distributor.add_event(
            f"ED-9{index:05d}", "order.accepted", when, customer_order_ref=f"PO-9{index:07d}"
        )


# -- the incremental cursor ----------------------------------------------------------------


def test_same_instant_events_across_pages_are_stored_once_and_the_cursor_is_kept(
    world: World,
) -> None:
    t1, t2, t3 = T0 + timedelta(minutes=5), T0 + timedelta(minutes=9), T0 + timedelta(hours=1)
    _events(world, T0, t1, t1, t1, t2)  # pages of two: the instant t1 spans pages 1 and 2
    world.run(EVENTS)
    assert world.stored() == 5
    assert world.cursor() == since_cursor(t2)
    assert [q.get("page") for q in world.asked()] == [None, "2", "3"]
    assert "modified_since" not in world.asked()[0]  # nothing stored yet: from the start

    # Later: one more event at the newest instant stored, and one after it.
    world.distributor.add_event("ED-100000", "order.backordered", t2, {"eta": "2026-11-21"})
    world.distributor.add_event("ED-100001", "order.accepted", t3)
    world.distributor.clear_requests()
    world.run(EVENTS)
    first = world.asked()[0]
    assert first["modified_since"] == "2026-11-05T09%3A09%3A00.000Z"
    assert world.stored() == 7  # the event at t2 came again, told apart by its id
    assert world.cursor() == since_cursor(t3)


def test_a_run_stopped_mid_instant_loses_none_and_doubles_none(world: World) -> None:
    t1, t2 = T0 + timedelta(minutes=5), T0 + timedelta(minutes=9)
    _events(world, T0, t1, t1, t1, t2)
    failed_once: list[str] = []

    def fail_page_two(path: str, query: dict[str, str]) -> None:
        if query.get("page") == "2" and not failed_once:
            failed_once.append(path)
            world.distributor.fail_next(1, 400)

    world.distributor.on_call = fail_page_two
    world.run(EVENTS)
    assert world.stored() == 2  # page 1 only: T0 and the first event at t1
    assert world.cursor() == since_cursor(t1)

    world.distributor.clear_requests()
    world.run(EVENTS)
    assert world.asked()[0]["modified_since"] == "2026-11-05T09%3A05%3A00.000Z"
    assert world.stored() == 5
    with world.database.transaction() as connection:
        assert read_cursor(connection, EVENTS) == since_cursor(t2)


# -- OAuth 2.0 and rate limits ---------------------------------------------------------------


def test_a_token_that_expires_mid_run_is_renewed_once_and_the_call_retried(
    world: World,
) -> None:
    _events(world, *(T0 + timedelta(minutes=n) for n in range(6)))

    def expire_on_page_two(path: str, query: dict[str, str]) -> None:
        if query.get("page") == "2" and world.distributor.tokens_issued == 1:
            world.clock.advance(901)  # the 900-second token lapses at the distributor

    world.distributor.on_call = expire_on_page_two
    world.run(EVENTS)
    assert world.stored() == 6
    assert world.distributor.tokens_issued == 2
    assert world.statuses(EVENTS_PATH) == [200, 401, 200, 200]


def test_a_token_revoked_early_answers_401_mid_run_and_is_renewed(world: World) -> None:
    _events(world, *(T0 + timedelta(minutes=n) for n in range(6)))

    def revoke_on_page_three(path: str, query: dict[str, str]) -> None:
        if query.get("page") == "3" and world.distributor.tokens_issued == 1:
            world.distributor.revoke_tokens()

    world.distributor.on_call = revoke_on_page_three
    world.run(EVENTS)
    assert world.stored() == 6
    assert world.distributor.tokens_issued == 2
    assert world.statuses(EVENTS_PATH) == [200, 200, 401, 200]


def test_a_429_with_an_http_date_is_waited_out(world: World) -> None:
    _events(world, T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
    world.distributor.throttle_next(1)
    world.run(EVENTS)
    assert world.stored() == 3
    throttled = [r for r in world.distributor.requests if r.status == 429]
    assert len(throttled) == 1
    assert world.statuses(EVENTS_PATH) == [429, 200, 200]


# -- purchase orders -------------------------------------------------------------------------


def _needs_a_part(world: World, reference: str, sku: str) -> None:
    """The case opened, then its repairer waiting for one part: the order is queued."""
    hook = world.network.sync_hook()
    opened_at = T0 - timedelta(days=2)
    with world.database.transaction() as connection:
        open_case(connection, make_case(reference, opened_at=opened_at), on_stored=hook)
        waiting = Event(
            id=stable_event_id(
                reported_by="atelier-dupont",
                case_ref=reference,
                type=EventType.CASE_STATUS,
                raw_code="ATP",
                occurred_at=T0,
            ),
            case_ref=reference,
            type=EventType.CASE_STATUS,
            status="waiting_parts",
            occurred_at=T0,
            recorded_at=T0,
            reported_by="atelier-dupont",
            raw_code="ATP",
            details=EventDetails(parts=(PartsOrderLine(line_no=1, sku=sku),)),
        )
        append_events(connection, [waiting])
        assert hook is not None
        hook(connection, [waiting])


def test_the_order_id_answered_is_kept_shown_and_links_the_parcel(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_a_part(world, "BM-000045", "BSH-00641231")
    world.dispatch()
    [order] = world.distributor.orders
    assert order.body["deliver_to"]["name"] == "Atelier Dupont Réparation"
    assert order.body["items"] == [{"sku": "BSH-00641231", "qty": 1}]
    assert order.idempotency_key.startswith(f"{ORDERS}:")
    with world.database.transaction() as connection:
        [kept] = references_of_case(connection, "BM-000045")
    assert (kept.party, kept.reference, kept.recorded_by) == (
        "elec-distrib",
        order.order_id,
        RecordedBy.PARTNER,
    )

    # The same message again (a lost answer): 200 with the first answer, nothing new.
    with world.database.transaction() as connection:
        [row] = [r for r in all_messages(connection) if r.target == ORDERS]
    assert row.receipt_status == 201
    receipt = deliver_row(world.database, world.network, row)
    assert (receipt.status, receipt.already_known) == (200, True)
    assert len(world.distributor.orders) == 1

    # Shown on the case: the API's view, the CLI, the console.
    tenant = make_tenant(world.database, "bricomarket", "BricoMarket", "BM-")
    with Hub(world.database, world.network, owner="ed-test") as hub:
        client = TestClient(hub.app())
        view = client.get("/v1/cases/BM-000045", headers=tenant.headers).json()
    assert view["partner_references"] == [
        {"party": "elec-distrib", "reference": order.order_id, "recorded_by": "partner"}
    ]
    monkeypatch.setenv(TOKEN_ENV, OPERATOR_TOKEN)
    with Hub(world.database, world.network, owner="ed-test") as hub:
        console = TestClient(hub.app())
        console.post("/console/login", data={"token": OPERATOR_TOKEN, "next": "/console"})
        page = console.get("/console/cases/BM-000045")
    assert page.status_code == 200
    assert f'<span class="mono ref">{order.order_id}</span>' in page.text
    shown = CliRunner().invoke(
        app, ["cases", "show", "BM-000045", "--database", world.database.url]
    )
    assert shown.exit_code == 0, shown.output
    assert f"elec-distrib {order.order_id}" in shown.output

    # The distributor ships it with ColisExpress: its event links to the case by the
    # order, and the carrier's pull tracks the parcel until it is delivered.
    shipped_at = T0 + timedelta(days=1)
    world.distributor.add_event(
        order.order_id,
        "order.shipped",
        shipped_at,
        {"carrier": "COLIS_EXPRESS", "tracking_number": "CE700000045FR", "eta": "2026-11-07"},
    )
    world.run(EVENTS)
    parcels = world.network.connector(PARCELS)
    assert parcels.open_keys(world.database, default="parcels") == ["CE700000045FR"]
    world.carrier.add_parcel(order.customer_order_ref, "CE700000045FR")
    world.carrier.add_event("CE700000045FR", "LIV", shipped_at + timedelta(days=1))
    world.run(PARCELS)
    with world.database.transaction() as connection:
        state = case_state(connection, "BM-000045")
    assert state.parts[order.customer_order_ref].value == "shipped"
    assert state.shipments["CE700000045FR"].value == "delivered"
    [delivered] = [e for e in state.timeline if e.reported_by == "colis-express"]
    assert delivered.details.shipment is not None
    assert delivered.details.shipment.leg is not None
    assert delivered.details.shipment.leg.value == "part_to_repairer"
    assert parcels.open_keys(world.database, default="parcels") == []


def test_an_obsolete_part_puts_the_case_on_hold(world: World) -> None:
    _needs_a_part(world, "BM-000046", "WHR-00000001")
    world.dispatch()
    [order] = world.distributor.orders
    world.distributor.add_event(
        order.order_id, "order.cancelled", T0 + timedelta(hours=3), {"reason": "OBSOLETE"}
    )
    world.run(EVENTS)
    with world.database.transaction() as connection:
        state = case_state(connection, "BM-000046")
    assert state.status is not None
    assert state.status.value == "on_hold"


def test_an_unknown_sku_is_a_dead_letter_naming_the_field_and_code(world: World) -> None:
    world.distributor.unknown_skus = {"BSH-99999999"}
    _needs_a_part(world, "BM-000047", "BSH-99999999")
    world.dispatch()
    assert world.distributor.orders == []
    [letter] = dead_letters(world.database, ORDERS)
    assert letter.last_error is not None
    assert "422" in letter.last_error
    assert "items[0].sku" in letter.last_error
    assert "UNKNOWN_SKU" in letter.last_error
    assert world.statuses("/api/v2/orders") == [422]  # final: never retried


# -- the generic features on their own -------------------------------------------------------


def test_since_param_needs_a_feed_whose_pages_carry_it() -> None:
    base = {"base_url": "https://api.example", "since_param": "since"}
    with pytest.raises(ValidationError, match="page_path"):
        HttpPullTransportSpec.model_validate(base)
    paged = {**base, "page_path": "/events"}
    with pytest.raises(ValidationError, match="link_header or cursor_field"):
        HttpPullTransportSpec.model_validate({**paged, "pagination": {"style": "page_number"}})
    spec = HttpPullTransportSpec.model_validate(paged)
    assert Capability.SINCE in HTTP_PULL.enabled(spec)
    without = HttpPullTransportSpec.model_validate({**paged, "since_param": None})
    assert Capability.SINCE not in HTTP_PULL.enabled(without)


def test_the_instant_asked_from_is_utc_and_never_rounded_up() -> None:
    at = datetime(2026, 11, 5, 14, 12, 9, 250999, tzinfo=timezone(PARIS))
    assert rfc3339(at) == "2026-11-05T13:12:09.250Z"
    assert since_cursor(at) == "2026-11-05T13:12:09.250999+00:00"


def test_a_stored_cursor_that_is_no_instant_stops_the_run_saying_so(world: World) -> None:
    _events(world, T0)
    with world.database.transaction() as connection:
        write_cursor(connection, EVENTS, "/api/v2/order-events?page=2")
    with Hub(world.database, world.network, owner="ed-test") as hub:
        report = hub.run_now(EVENTS)
    assert report is not None
    assert report.error is not None
    assert "is no instant" in str(report.error)
    assert world.stored() == 0
    assert world.distributor.requests == []


def _answer_spec() -> AnswerSpec:
    answer = load_mapping(ROOT / "mappings" / "elec-distrib.yaml").outbound("purchase_order")
    assert answer.answer is not None
    return answer.answer


def test_answer_values_are_read_by_the_mapping_and_refused_with_the_reason() -> None:
    spec = _answer_spec()
    codec = build_answer_codec(spec)
    body = b'{"order_id": "ED-778812", "status": "received"}'
    assert answer_values(codec, spec.keep, body, source="answer") == {
        AnswerTarget.PARTNER_REF: "ED-778812"
    }
    with pytest.raises(UnreadableAnswer, match="no order_id"):
        answer_values(codec, spec.keep, b'{"status": "received"}', source="answer")
    with pytest.raises(UnreadableAnswer, match="cannot be read"):
        answer_values(codec, spec.keep, b"<html>busy</html>", source="answer")


def test_an_unreadable_answer_is_logged_and_the_delivery_stands(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    _needs_a_part(world, "BM-000048", "BSH-00641231")
    with world.database.transaction() as connection:
        [row] = [r for r in all_messages(connection) if r.target == ORDERS]
    receipt = DeliveryReceipt(status=201, body=b'{"status": "received"}', already_known=False)
    with caplog.at_level(logging.WARNING, logger="hub.sync.delivery"):
        keep_answer(world.database, world.network.connector(ORDERS), row, receipt)
    assert "partner_ref is required but the answer has no order_id" in caplog.text
    with world.database.transaction() as connection:
        assert references_of_case(connection, "BM-000048") == []


def test_a_mapping_whose_answer_codec_cannot_work_is_refused_with_its_line(
    tmp_path: Path,
) -> None:
    text = (ROOT / "mappings" / "elec-distrib.yaml").read_text(encoding="utf-8")
    broken = text.replace(
        'record: "$"\n        fields: {order_id', 'record: "$[{n}]"\n        fields: {order_id'
    )
    assert broken != text
    path = tmp_path / "elec-distrib.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(
        ConfigurationError, match=r"elec-distrib.yaml:\d+: messages.purchase_order.answer"
    ):
        load_mapping(path)
