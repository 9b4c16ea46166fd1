"""From a case opened to the partners' servers: outbox, context, rendering, delivery.

A workshop case at Maison Électro: the rules queue a pickup for ColisExpress and a
repair order for Atelier Dupont; the dispatcher renders each from the store and delivers
it to the carrier's simulator (HTTP) and the workshop's SFTP server. Then the workshop
waits for a part: the purchase order reaches PiècesPlus's server with the part's lines.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from standardwebhooks.webhooks import Webhook

from hub.model import (
    Case,
    CaseStatus,
    Event,
    EventDetails,
    EventType,
    PartsOrderLine,
    Party,
    PartyRole,
    Shipment,
    ShipmentStatus,
)
from hub.partners.connectors import Network, open_network
from hub.partners.resolve import resolve_cases
from hub.ports import DeliveryReceipt
from hub.store.case_lists import case_messages, case_parcels
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.parties import save_party
from hub.sync.delivery import deliver_any, keep_answer
from hub.sync.outbox import Dispatcher, dead_letters
from simulators.colis_express import ColisExpressSimulator
from simulators.sftp import ClientKey, SftpServer
from tests.api_support import serving
from tests.factories import CUSTOMER_WITH_ADDRESS, T0, make_case, register_network
from tests.network_files import ROOT, network_head, sftp_options


@pytest.fixture
def sftp(tmp_path: Path, client_key: ClientKey) -> Iterator[SftpServer]:
    root = tmp_path / "sftp"
    (root / "in").mkdir(parents=True)
    (root / "orders" / "in").mkdir(parents=True)
    with SftpServer(root, client_keys=[client_key.public_openssh]) as server:
        yield server


@pytest.fixture
def carrier() -> Iterator[ColisExpressSimulator]:
    with ColisExpressSimulator(token="ce-token", rate_limit=None) as sim:
        yield sim


WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"maison-electro-webhook-secret!!").decode()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """Maison Électro's endpoint: records every delivery with its headers."""
    received: list[tuple[dict[str, str], bytes]] = []
    app = FastAPI()

    @app.post("/hooks/hub")
    async def hook(request: Request) -> dict[str, str]:
        received.append((dict(request.headers), await request.body()))
        return {"ok": "yes"}

    with serving(app) as url:
        yield url, received


@pytest.fixture
def network(
    tmp_path: Path,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
    sftp: SftpServer,
    carrier: ColisExpressSimulator,
    client_key: ClientKey,
    monkeypatch: pytest.MonkeyPatch,
) -> Network:
    monkeypatch.setenv("TEST_SFTP_KEY", client_key.private_openssh)
    monkeypatch.setenv("TEST_CE_TOKEN", "ce-token")
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    receiver_url = receiver[0]
    mappings = ROOT / "mappings"
    sftp_common = sftp_options(sftp.port, sftp.host_key_fingerprint, "TEST_SFTP_KEY")
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
{network_head()}connectors:
  - name: workshop-orders
    partner: atelier-dupont
    mapping: {mappings / "atelier-dupont.yaml"}
    message: repair_order
    transport: {{{sftp_common}, remote_dir: /in, outbound_dir: /in}}
  - name: supplier-orders
    partner: pieces-plus
    mapping: {mappings / "pieces-plus.yaml"}
    message: purchase_order
    transport: {{{sftp_common}, remote_dir: /orders/in, outbound_dir: /orders/in,
                 upload_suffix: .part}}
  - name: carrier-pickups
    partner: colis-express
    mapping: {mappings / "colis-express.yaml"}
    message: pickup
    transport: {{type: http-post, base_url: "{carrier.base_url}", post_path: /v1/pickups,
      content_type: application/json, bearer_token_env: TEST_CE_TOKEN,
      idempotent_ok_status: 200}}
sync:
  routes:
    - {{service: workshop_repair, repairer: atelier-dupont}}
    - {{carrier: colis-express, supplier: pieces-plus}}
  rules:
    - name: workshop-case-opened
      when: {{type: case_status, status: created, service: [workshop_repair]}}
      send:
        - {{to: carrier, message: pickup, leg: to_repairer}}
        - {{to: repairer, message: repair_order, after: pickup}}
    - name: part-needed
      when: {{type: case_status, status: waiting_parts, reported_by_role: repairer}}
      send: [{{to: supplier, message: purchase_order}}]
    - name: news
      when: {{type: case_status}}
      notify_retailer: true
webhooks:
  - {{retailer: maison-electro, url: "{receiver_url}/hooks/hub", secret_env: TEST_WEBHOOK_SECRET}}
""",
        encoding="utf-8",
    )
    return open_network(path)


@pytest.fixture
def hub_db(database: Database) -> Database:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
    return database


def test_a_case_reaches_the_carrier_and_the_workshop_then_its_part_the_supplier(
    hub_db: Database,
    network: Network,
    sftp: SftpServer,
    carrier: ColisExpressSimulator,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    hook = network.sync_hook()
    case = make_case(
        "ME-000123",
        customer={
            "name": "Julie Martin",
            "phone": "+33612345678",
            "address": {"line1": "4 rue des Lilas", "postcode": "69003", "city": "Lyon"},
        },
    )
    with hub_db.transaction() as connection:
        open_case(connection, case, on_stored=hook)
    dispatcher = Dispatcher(
        hub_db, lambda row: deliver_any(hub_db, network, row), owner="test", max_attempts=2
    )
    first = dispatcher.run_until_idle()
    assert (first.delivered, first.dead) == (3, 0)
    [pickup] = carrier.received_pickups
    assert pickup.reference == "ME-000123"
    orders = list(sftp.path("/in").glob("ORDRES_*.csv"))
    assert len(orders) == 1
    assert "ME-000123;Maison Électro;Seb".encode("latin-1") in orders[0].read_bytes()

    waiting = Event(
        id="atelier-dupont:atp-1",
        case_ref="ME-000123",
        type=EventType.CASE_STATUS,
        status=CaseStatus.WAITING_PARTS,
        occurred_at=T0,
        reported_by="atelier-dupont",
        raw_code="ATP",
        details=EventDetails(parts=(PartsOrderLine(line_no=1, sku="PP-77120"),)),
    )
    with hub_db.transaction() as connection:
        append_events(connection, [waiting])
        assert hook is not None
        hook(connection, [waiting])
    second = dispatcher.run_until_idle()
    assert (second.delivered, second.dead) == (2, 0)
    [order] = list(sftp.path("/orders/in").glob("PO_PO-*.xml"))
    content = order.read_bytes()
    assert b"<CaseRef>ME-000123</CaseRef>" in content
    assert b'sku="PP-77120"' in content
    assert order.name.removeprefix("PO_").removesuffix(".xml").encode() in content
    assert dead_letters(hub_db) == []

    deliveries = receiver[1]
    verifier = Webhook(WEBHOOK_SECRET)
    statuses = [verifier.verify(body, headers)["status"] for headers, body in deliveries]
    assert statuses == ["created", "waiting_parts"], "in order, each once, signed"
    assert len({headers["webhook-id"] for headers, _ in deliveries}) == 2


def _workshop_case() -> Case:
    return make_case("ME-000123", customer=CUSTOMER_WITH_ADDRESS)


def test_the_pickup_answers_number_is_the_cases_parcel_and_the_repair_order_carries_it(
    hub_db: Database, network: Network, sftp: SftpServer, carrier: ColisExpressSimulator
) -> None:
    """The carrier's 201 names the parcel it booked: kept on the case (its carrier, the
    message's leg), linking the carrier's events that name only the number, and read by
    the workshop's order as ``shipment`` once the pickup has gone."""
    hook = network.sync_hook()
    with hub_db.transaction() as connection:
        opened = open_case(
            connection, make_case("ME-000123", customer=CUSTOMER_WITH_ADDRESS), on_stored=hook
        )
    dispatcher = Dispatcher(
        hub_db, lambda row: deliver_any(hub_db, network, row), owner="test", max_attempts=2
    )
    assert dispatcher.run_until_idle().delivered == 3
    [pickup] = carrier.received_pickups
    with hub_db.transaction() as connection:
        parcels = case_parcels(connection, opened.record.id)
    assert [(p.tracking_number, p.carrier, p.leg) for p in parcels] == [
        (pickup.tracking_number, "colis-express", "to_repairer")
    ]
    assert parcels[0].learned_from.startswith("answer to outbox message ")
    [order] = sftp.path("/in").glob("ORDRES_*.csv")
    line = order.read_bytes().decode("latin-1").splitlines()[1]
    assert line.startswith("ME-000123;")
    assert line.endswith(f";{pickup.tracking_number}")

    # The carrier's event naming only the number now links to the case at once.
    only_the_number = Event(
        id="colis-express:evt-1",
        case_ref=None,
        subject=pickup.tracking_number,
        type=EventType.SHIPMENT_STATUS,
        status=ShipmentStatus.PICKED_UP,
        occurred_at=T0,
        reported_by="colis-express",
        raw_code="PCH",
        details=EventDetails(shipment=Shipment(tracking_number=pickup.tracking_number)),
    )
    with hub_db.transaction() as connection:
        [resolved] = resolve_cases(connection, [only_the_number])
    assert resolved.case_ref == "ME-000123"


def test_a_booking_answered_again_keeps_one_parcel_and_a_bad_number_is_logged(
    hub_db: Database,
    network: Network,
    carrier: ColisExpressSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = network.sync_hook()
    with hub_db.transaction() as connection:
        opened = open_case(
            connection, make_case("ME-000123", customer=CUSTOMER_WITH_ADDRESS), on_stored=hook
        )
    with hub_db.transaction() as connection:
        [row] = [m for m in case_messages(connection, "ME-000123") if m.kind == "pickup"]
    connector = network.connector(row.target)
    deliver_any(hub_db, network, row)
    deliver_any(hub_db, network, row)  # a lost answer: the 200 replay names the same number
    keep_answer(
        hub_db,
        connector,
        row,
        DeliveryReceipt(200, b'{"tracking_number": "X"}', already_known=True),
    )
    with hub_db.transaction() as connection:
        parcels = case_parcels(connection, opened.record.id)
    assert [p.tracking_number for p in parcels] == [carrier.received_pickups[0].tracking_number]
    assert "the answer's tracking number 'X' is not one" in caplog.text
