"""What a pull object by object asks about is the connector's choice, not the core's
guess from the kind of transport (``open_items`` in connectors.yaml)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.config.connector_spec import ConnectorSpec
from hub.model import Event, EventType, stable_event_id
from hub.model.statuses import ShipmentStatus
from hub.partners.connectors import open_network
from hub.store.case_links import learn_partner_references
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events
from tests.factories import T0, make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
PER_ITEM = "colis-express-parcels"
"""The carrier's tracking API: a per-item transport in connectors.yaml."""


def _parcel(tracking: str, status: ShipmentStatus, hours: int) -> Event:
    at = T0 + timedelta(hours=hours)
    return Event(
        id=stable_event_id(
            reported_by="colis-express",
            partner_event_id=f"{tracking}-{status.value}",
            type=EventType.SHIPMENT_STATUS,
            raw_code=status.value,
            occurred_at=at,
        ),
        case_ref="ME-000123",
        type=EventType.SHIPMENT_STATUS,
        status=status,
        occurred_at=at,
        reported_by="colis-express",
        raw_code=status.value,
        subject=tracking,
    )


def test_a_connector_chooses_parcels_or_references(database: Database) -> None:
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
        append_events(
            connection,
            [
                _parcel("CE-OPEN", ShipmentStatus.IN_TRANSIT, 1),
                _parcel("CE-DONE", ShipmentStatus.IN_TRANSIT, 1),
                _parcel("CE-DONE", ShipmentStatus.DELIVERED, 2),
            ],
        )
        learn_partner_references(connection, {("ME-000123", "colis-express", "CX-77")})
    connector = open_network(ROOT / "connectors.yaml").connector(PER_ITEM)

    assert connector.spec.open_items is None
    assert connector.open_keys(database, default="parcels") == ["CE-OPEN"]
    by_reference = replace(
        connector, spec=connector.spec.model_copy(update={"open_items": "references"})
    )
    assert by_reference.open_keys(database, default="parcels") == ["CX-77"]


def test_open_items_takes_only_what_the_hub_can_list() -> None:
    base = {
        "name": "feed",
        "partner": "colis-express",
        "mapping": "m.yaml",
        "message": "m",
        "transport": {"type": "local-dir", "path": "/tmp"},
    }
    assert ConnectorSpec.model_validate({**base, "open_items": "parcels"}).open_items == "parcels"
    with pytest.raises(ValidationError, match="open_items"):
        ConnectorSpec.model_validate({**base, "open_items": "repairs"})
