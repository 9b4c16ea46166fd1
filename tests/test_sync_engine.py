"""Events become outbox messages in their own transaction, addressed to connectors."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.api.app import create_app
from hub.config.network import load_network
from hub.model import CaseStatus, Party, PartyRole
from hub.partners.connectors import open_network
from hub.store.cases import get_case, open_case, opening_event
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.parties import save_party
from hub.store.tables import outbox
from hub.sync.addresses import addresses_of
from hub.sync.engine import apply_sync
from tests.api_support import case_json, make_tenant
from tests.factories import make_case, part_cancelled, register_network

ROOT = Path(__file__).resolve().parent.parent
NETWORK = load_network(ROOT / "connectors.yaml")
ADDRESSES = addresses_of(NETWORK)


@pytest.fixture
def hub_db(database: Database) -> Database:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
    return database


def queued(database: Database) -> list[tuple[str, str, str]]:
    with database.transaction() as connection:
        rows = connection.execute(
            select(outbox.c.target, outbox.c.kind, outbox.c.idempotency_key).order_by(outbox.c.id)
        ).all()
    return [(row.target, row.kind, row.idempotency_key) for row in rows]


def test_an_opened_workshop_case_queues_its_pickup_its_repair_order_and_the_news(
    hub_db: Database,
) -> None:
    case = make_case("ME-000123")
    with hub_db.transaction() as connection:
        open_case(connection, case)
        apply_sync(connection, NETWORK.sync, ADDRESSES, [opening_event(case)])
    assert queued(hub_db) == [
        ("colis-express-pickups", "pickup", "ME-000123:colis-express:pickup:to_repairer"),
        ("atelier-dupont-orders", "repair_order", "ME-000123:atelier-dupont:repair_order:-"),
        ("webhook:maison-electro", "event", f"webhook:maison-electro:{opening_event(case).id}"),
    ]
    with hub_db.transaction() as connection:  # the same facts again: nothing new
        apply_sync(connection, NETWORK.sync, ADDRESSES, [opening_event(case)])
    assert len(queued(hub_db)) == 3


def test_messages_roll_back_with_the_events_that_caused_them(hub_db: Database) -> None:
    case = make_case("BM-000045")

    def failing() -> None:
        with hub_db.transaction() as connection:
            open_case(connection, case)
            apply_sync(connection, NETWORK.sync, ADDRESSES, [opening_event(case)])
            raise RuntimeError("the store failed after the rules ran")

    with pytest.raises(RuntimeError):
        failing()
    assert queued(hub_db) == []


def test_an_obsolete_part_puts_the_case_on_hold_and_tells_the_retailer(
    hub_db: Database,
) -> None:
    case = make_case("ME-000123")
    cancelled = part_cancelled(case.reference)
    with hub_db.transaction() as connection:
        open_case(connection, case)
        append_events(connection, [cancelled])
        outcome = apply_sync(connection, NETWORK.sync, ADDRESSES, [cancelled])
        record = get_case(connection, case.reference)
    assert [e.status for e in outcome.hub_events] == [CaseStatus.ON_HOLD]
    assert record is not None
    assert record.status is CaseStatus.ON_HOLD
    hold = outcome.hub_events[0]
    assert ("webhook:maison-electro", "event", f"webhook:maison-electro:{hold.id}") in queued(
        hub_db
    )


def test_a_case_opened_through_the_api_queues_its_messages_in_the_same_transaction(
    hub_db: Database,
) -> None:
    tenant = make_tenant(hub_db, "bricomarket", "BricoMarket", "BM-")
    app = create_app(hub_db, open_network(ROOT / "connectors.yaml"))
    with TestClient(app) as client:
        # With the address the carrier's pickup needs: without it the case is refused.
        customer = {
            "name": "Julie Martin",
            "address": {"line1": "4 rue des Lilas", "postcode": "69003", "city": "Lyon"},
        }
        document = case_json("BM-000045", customer=customer)
        created = client.post("/v1/cases", json=document, headers=tenant.headers)
    assert created.status_code == 201
    assert [(target, kind) for target, kind, _ in queued(hub_db)] == [
        ("colis-express-pickups", "pickup"),
        ("techniservice-orders", "repair_order"),
    ], "BricoMarket reads the feed: no webhook is queued for it"
