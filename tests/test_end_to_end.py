"""One case through its whole life, across every simulated partner, on both databases.

Maison Électro opens a workshop repair. The hub orders the pickup from ColisExpress and
the repair from TechniService; the repairer diagnoses, quotes, waits for a part; the hub
orders it from PiècesPlus (a file on its SFTP server), whose answers come back as files;
the repair ends; the hub orders the parcel back to the customer. Maison Électro receives
every status, signed, in order, once. Every exchange is real: HTTP and SFTP on loopback.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from standardwebhooks.webhooks import Webhook

from hub.model import Party, PartyRole
from hub.partners.connectors import Network, open_network
from hub.store.cases import get_case, open_case
from hub.store.db import Database
from hub.store.parties import save_party
from hub.sync.delivery import deliver_any
from hub.sync.outbox import Dispatcher, dead_letters
from simulators.colis_express import ColisExpressSimulator
from simulators.sftp import ClientKey, SftpServer
from simulators.techniservice.app import TechniServiceSimulator
from simulators.techniservice.repairs import Part, Quote
from tests.api_support import serving
from tests.factories import make_case, register_network
from tests.network_files import ROOT, network_head, sftp_options

PARIS = timezone(timedelta(hours=1))
SECRET = "whsec_" + base64.b64encode(b"maison-electro's webhook secret!").decode()


@dataclass
class Retailer:
    url: str = ""
    statuses: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


@pytest.fixture
def retailer() -> Iterator[Retailer]:
    state = Retailer()
    app = FastAPI()
    verifier = Webhook(SECRET)

    @app.post("/hub")
    async def receive(request: Request) -> Response:
        payload = verifier.verify(await request.body(), dict(request.headers))
        if request.headers["webhook-id"] not in state.ids:  # de-duplicates, as it says
            state.ids.append(request.headers["webhook-id"])
            state.statuses.append(payload["status"])
        return Response(status_code=204)

    with serving(app) as url:
        state.url = url
        yield state


@pytest.fixture
def supplier(tmp_path: Path, client_key: ClientKey) -> Iterator[SftpServer]:
    root = tmp_path / "pieces-plus"
    (root / "orders" / "in").mkdir(parents=True)
    (root / "orders" / "out").mkdir(parents=True)
    with SftpServer(root, client_keys=[client_key.public_openssh]) as server:
        yield server


@pytest.fixture
def repairer() -> Iterator[TechniServiceSimulator]:
    with TechniServiceSimulator(api_key="ts-key", rate_limit=None) as sim:
        yield sim


@pytest.fixture
def carrier() -> Iterator[ColisExpressSimulator]:
    with ColisExpressSimulator(token="ce-token", rate_limit=None) as sim:
        yield sim


@pytest.fixture
def network(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client_key: ClientKey,
    supplier: SftpServer,
    repairer: TechniServiceSimulator,
    carrier: ColisExpressSimulator,
    retailer: Retailer,
) -> Network:
    for name, value in {
        "E2E_SFTP_KEY": client_key.private_openssh,
        "E2E_TS_KEY": "ts-key",
        "E2E_CE_TOKEN": "ce-token",
        "E2E_WEBHOOK": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    mappings = ROOT / "mappings"
    sftp = sftp_options(supplier.port, supplier.host_key_fingerprint, "E2E_SFTP_KEY")
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
{network_head()}connectors:
  - {{name: ts-changes, partner: techniservice, mapping: {mappings / "techniservice.yaml"},
      message: changes, transport: {{type: http-pull, base_url: "{repairer.base_url}",
      page_path: /repairs/changes, item_path: "/repairs/{{key}}",
      header_env: {{X-Api-Key: E2E_TS_KEY}}, requests_per_second: 50}}}}
  - {{name: ts-orders, partner: techniservice, mapping: {mappings / "techniservice.yaml"},
      message: repair_order, transport: {{type: http-post, base_url: "{repairer.base_url}",
      post_path: /repairs, content_type: application/xml,
      header_env: {{X-Api-Key: E2E_TS_KEY}}, conflict_is_success: true}}}}
  - {{name: ce-parcels, partner: colis-express, mapping: {mappings / "colis-express.yaml"},
      message: parcel_events, transport: {{type: http-pull, base_url: "{carrier.base_url}",
      item_path: "/v1/parcels/{{key}}/events", bearer_token_env: E2E_CE_TOKEN}}}}
  - {{name: ce-pickups, partner: colis-express, mapping: {mappings / "colis-express.yaml"},
      message: pickup, transport: {{type: http-post, base_url: "{carrier.base_url}",
      post_path: /v1/pickups, content_type: application/json,
      bearer_token_env: E2E_CE_TOKEN, idempotent_ok_status: 200}}}}
  - {{name: pp-orders, partner: pieces-plus, mapping: {mappings / "pieces-plus.yaml"},
      message: purchase_order, transport: {{{sftp}, remote_dir: /orders/in,
      outbound_dir: /orders/in, upload_suffix: .part}}}}
  - {{name: pp-answers, partner: pieces-plus, mapping: {mappings / "pieces-plus.yaml"},
      message: answers, transport: {{{sftp}, remote_dir: /orders/out}}}}
webhooks:
  - {{retailer: maison-electro, url: "{retailer.url}/hub", secret_env: E2E_WEBHOOK}}
sync:
  routes:
    - {{repairer: techniservice, carrier: colis-express, supplier: pieces-plus}}
  rules:
    - name: opened
      when: {{type: case_status, status: created, service: [workshop_repair]}}
      send: [{{to: carrier, message: pickup, leg: to_repairer}},
             {{to: repairer, message: repair_order}}]
    - name: part-needed
      when: {{type: case_status, status: waiting_parts, reported_by_role: repairer}}
      send: [{{to: supplier, message: purchase_order}}]
    - name: back
      when: {{type: case_status, status: [repaired, not_repairable, quote_declined],
              reported_by_role: repairer}}
      send: [{{to: carrier, message: pickup, leg: to_customer}}]
    - {{name: news, when: {{type: case_status}}, notify_retailer: true}}
""",
        encoding="utf-8",
    )
    return open_network(path)


def test_one_case_from_opening_to_the_parcel_back(
    database: Database,
    network: Network,
    supplier: SftpServer,
    repairer: TechniServiceSimulator,
    carrier: ColisExpressSimulator,
    retailer: Retailer,
) -> None:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
    dispatcher = Dispatcher(
        database, lambda row: deliver_any(database, network, row), owner="e2e", max_attempts=2
    )
    customer = {
        "name": "Julie Martin",
        "phone": "+33612345678",
        "address": {"line1": "4 rue des Lilas", "postcode": "69003", "city": "Lyon"},
    }
    case = make_case("ME-000123", customer=customer, coverage="none")
    with database.transaction() as connection:
        open_case(connection, case, on_stored=network.sync_hook())
    assert dispatcher.run_until_idle().dead == 0

    # The carrier has the pickup from the customer, the repairer the order.
    [inbound] = carrier.received_pickups
    assert inbound.sender["postcode"] == "69003"
    assert inbound.recipient["name"] == "TechniService"
    [order] = repairer.received_orders
    assert (order.order_ref, order.service, order.warranty) == ("ME-000123", "WORKSHOP", "NONE")

    # The parcel travels; the repairer works: diagnosis, quote, approval, a part.
    day = datetime(2026, 11, 3, 9, 0, tzinfo=PARIS)
    carrier.add_event(inbound.tracking_number, "PCH", day - timedelta(hours=20))
    carrier.add_event(inbound.tracking_number, "LIV", day - timedelta(hours=2))
    for hours, (code, extra) in enumerate(
        [
            ("10", {}),
            ("20", {}),
            ("25", {"quote": Quote("149.90", "EUR")}),
            ("27", {}),
            ("30", {"parts": [Part("PP-77120", 1)]}),
        ]
    ):
        repairer.add_change(
            order.repair_id, "ME-000123", code, day + timedelta(hours=hours), **extra
        )  # type: ignore[arg-type]
    parcels = network.connector("ce-parcels").run(database)
    changes = network.connector("ts-changes").run(database)
    assert parcels.error is None
    assert changes.error is None
    assert changes.counts.events_stored == 5
    assert dispatcher.run_until_idle().dead == 0

    # The part is ordered from the supplier, who answers with a file.
    [purchase] = list(supplier.path("/orders/in").glob("PO_*.xml"))
    order_id = purchase.name.removeprefix("PO_").removesuffix(".xml")
    content = purchase.read_bytes()
    assert b'sku="PP-77120"' in content
    assert b"<CaseRef>ME-000123</CaseRef>" in content
    (supplier.path("/orders/out") / "ANS_20261103120000_1.csv").write_bytes(
        "\ufefforder_id,line_no,event,event_time,eta,carrier,tracking,reason\n"
        f"{order_id},1,ACK,2026-11-03T12:00:00Z,2026-11-05,,,\n"
        f"{order_id},1,SHIPPED,2026-11-04T09:00:00Z,,ColisExpress,CE555000001FR,\n".encode()
    )
    answers = network.connector("pp-answers").run(database)
    assert answers.error is None
    assert (answers.counts.events_stored, answers.counts.orphans) == (2, 0)

    # The repair ends; the parcel goes back to the customer.
    repairer.add_change(order.repair_id, None, "40", day + timedelta(days=2))
    repairer.add_change(order.repair_id, None, "50", day + timedelta(days=2, hours=3))
    assert network.connector("ts-changes").run(database).counts.events_stored == 2
    assert dispatcher.run_until_idle().dead == 0
    back = [p for p in carrier.received_pickups if p is not inbound]
    assert len(back) == 1
    assert back[0].sender["name"] == "TechniService"
    assert back[0].recipient["postcode"] == "69003"
    assert back[0].reference == "ME-000123-R", "its own reference: not the inbound parcel"

    # The retailer saw each status once, in order, and nothing is stuck.
    assert retailer.statuses == [
        "created",
        "received",
        "diagnosing",
        "quote_pending",
        "in_repair",
        "waiting_parts",
        "in_repair",
        "repaired",
    ]
    assert dead_letters(database) == []
    with database.transaction() as connection:
        record = get_case(connection, "ME-000123")
    assert record is not None
    assert record.status is not None
    assert record.status.value == "repaired"
