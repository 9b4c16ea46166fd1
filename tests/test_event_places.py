"""Where an event happened and who signed for a delivery: read by a carrier's mapping,
kept on the event, shown to the retailer (timeline API, feed) and to the operator (the
console's case page). Through ColisExpress's real push mapping, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.api.operator_auth import TOKEN_ENV
from hub.partners.connectors import open_network
from hub.partners.ingest.message import ingest_message
from hub.ports import MessageRef, RawMessage
from hub.store.db import Database
from tests.api_support import case_json, make_hub

ROOT = Path(__file__).resolve().parent.parent
PUSH = {
    "id": "ev_place_1",
    "code": "LIV",
    "label": "Livré",
    "at": "2026-11-03T08:52:00+01:00",
    "signed_by": "M. RENÉ FAURE",
    "location": {"postcode": "26000", "city": "Valence", "relay_id": "R-26000-007"},
    "tracking_number": "CE700000001FR",
    "reference": "ME-000700",
}


def test_the_place_and_the_signer_reach_the_retailer_and_the_operator(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = make_hub(database)
    opened = hub.client.post("/v1/cases", json=case_json("ME-000700"), headers=hub.me.headers)
    assert opened.status_code == 201
    network = open_network(ROOT / "connectors.yaml")
    content = json.dumps(PUSH).encode()
    message = RawMessage(MessageRef("push-place.json", len(content)), content)
    pipeline = network.connector("colis-express-push").pipeline()
    assert ingest_message(database, "colis-express-push", pipeline, message).counts.events_stored

    timeline = hub.client.get("/v1/cases/ME-000700/timeline", headers=hub.me.headers).json()
    [delivered] = [item for item in timeline["events"] if item["raw_code"] == "LIV"]
    assert delivered["details"]["location"] == {
        "id": "R-26000-007",
        "name": None,
        "postcode": "26000",
        "city": "Valence",
        "country": None,
    }
    assert delivered["details"]["signed_by"] == "M. RENÉ FAURE"

    monkeypatch.setenv(TOKEN_ENV, "operator-token-for-places")
    with TestClient(create_app(database, network)) as console:
        page = console.get(
            "/console/cases/ME-000700",
            headers={"Authorization": "Bearer operator-token-for-places"},
        )
    assert page.status_code == 200
    assert "At 26000 Valence" in page.text
    assert "R-26000-007" in page.text
    assert "Signed by M. RENÉ FAURE" in page.text
