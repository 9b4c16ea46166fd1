"""What the sync rules read for every file, on the driver (issue 17, fourteenth pass): the
retailers' receiving endpoints, read once a round for every retailer the round notifies,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.config.network import load_network
from hub.model import Party, PartyRole
from hub.retailers.webhook_endpoints import endpoint_target
from hub.store.cases import open_case, opening_event
from hub.store.db import Database
from hub.store.parties import save_party
from hub.store.tables import outbox
from hub.store.webhook_endpoints import StoredEndpoint, insert_endpoint, receiving_endpoints
from hub.sync.addresses import addresses_of
from hub.sync.engine import apply_sync
from tests.api_support import make_tenant
from tests.factories import make_case, register_network
from tests.statements import recorded

ROOT = Path(__file__).resolve().parent.parent
NETWORK = load_network(ROOT / "connectors.yaml")
ADDRESSES = addresses_of(NETWORK)
AT = datetime(2026, 11, 3, 9, 30, 15, 250_000, tzinfo=UTC)


def _endpoint(endpoint_id: str, retailer: str, **overrides: Any) -> StoredEndpoint:
    values: dict[str, Any] = {
        "id": endpoint_id,
        "retailer_id": retailer,
        "url": f"https://hooks.example/{endpoint_id}",
        "description": None,
        "event_types": ("case.event",),
        "enabled": True,
        "secret": f"encrypted-{endpoint_id}",
        "previous_secret": None,
        "previous_secret_until": None,
        "created_at": AT,
        "updated_at": AT,
    }
    values.update(overrides)
    return StoredEndpoint(**values)


ENDPOINTS = (
    _endpoint("we_b", "maison-electro", description="ERP", event_types=("case.event", "x.y")),
    _endpoint("we_a", "bricomarket", previous_secret="old", previous_secret_until=AT),
    _endpoint("we_c", "maison-electro", enabled=False),
    _endpoint("we_d", "maison-electro", event_types=("case.message_failed",)),
)


@pytest.fixture
def tenants(database: Database) -> Database:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
    make_tenant(database, "maison-electro", "Maison Électro", "ME-")
    make_tenant(database, "bricomarket", "BricoMarket", "BM-")
    with database.transaction() as connection:
        for endpoint in ENDPOINTS:
            insert_endpoint(connection, endpoint)
    return database


def test_the_receiving_endpoints_are_the_enabled_ones_of_those_retailers_by_id(
    tenants: Database,
) -> None:
    with tenants.transaction() as connection:
        both = receiving_endpoints(connection, ["maison-electro", "bricomarket", "bricomarket"])
        one = receiving_endpoints(connection, ["maison-electro"])
        assert receiving_endpoints(connection, []) == []
        assert receiving_endpoints(connection, ["nobody"]) == []
    by_id = {endpoint.id: endpoint for endpoint in ENDPOINTS}
    # Every field as written: the event types a tuple, the flag a bool, instants in UTC.
    assert both == [by_id["we_a"], by_id["we_b"], by_id["we_d"]]
    assert one == [by_id["we_b"], by_id["we_d"]]


def test_a_round_reads_the_endpoints_of_every_retailer_it_notifies_in_one_statement(
    tenants: Database,
) -> None:
    """Two retailers' cases opened in one call: one read of the endpoints for both, and
    each retailer's news for its own endpoints that asked for case events, in the order
    of the events (the configured webhook's first, as before)."""
    opened = [make_case("ME-000301"), make_case("BM-000302"), make_case("ME-000303")]
    with tenants.transaction() as connection:
        for case in opened:
            open_case(connection, case)
        with recorded(tenants) as ran:
            apply_sync(connection, NETWORK.sync, ADDRESSES, [opening_event(c) for c in opened])
        assert len([one for one in ran if "FROM webhook_endpoints" in one.sql]) == 1
        rows = connection.execute(
            select(outbox.c.target, outbox.c.case_ref)
            .where(outbox.c.kind == "event")
            .order_by(outbox.c.id)
        ).all()
    me, bm = endpoint_target("maison-electro", "we_b"), endpoint_target("bricomarket", "we_a")
    assert [tuple(row) for row in rows] == [
        ("webhook:maison-electro", "ME-000301"),
        (me, "ME-000301"),
        (bm, "BM-000302"),
        ("webhook:maison-electro", "ME-000303"),
        (me, "ME-000303"),
    ]
