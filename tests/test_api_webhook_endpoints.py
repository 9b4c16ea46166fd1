"""Retailers manage their own webhook endpoints through the API, and the hub delivers to
them as to the operator's: a real receiver on loopback (uvicorn in a thread) checks every
signature with the standardwebhooks package; SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from hub.api import create_app
from hub.api.webhook_docs import CaseEventPayload, WebhookTestPayload
from hub.model import Party, PartyRole
from hub.partners.connectors import Network, open_network
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.outbox import all_messages
from hub.store.parties import save_party
from hub.sync.delivery import deliver_any
from hub.sync.outbox import Dispatcher
from tests.api_support import Tenant, case_json, make_tenant, serving
from tests.factories import T0, case_event, register_network

PROBLEM = "application/problem+json"


@dataclass
class Receiver:
    """A retailer's endpoint: keeps every request, answers ``status``."""

    url: str = ""
    status: int = 204
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def verified(self, secret: str, index: int = -1) -> dict[str, Any]:
        headers, body = self.received[index]
        payload: dict[str, Any] = Webhook(secret).verify(body, headers)
        return payload


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    app = FastAPI()

    @app.post("/hooks")
    async def receive(request: Request) -> Response:
        state.received.append((dict(request.headers), await request.body()))
        return Response(status_code=state.status)

    with serving(app) as url:
        state.url = url
        yield state


@dataclass(frozen=True)
class Hub:
    database: Database
    network: Network
    client: TestClient
    me: Tenant
    bm: Tenant

    def dispatch(self) -> None:
        Dispatcher(
            self.database,
            lambda row: deliver_any(self.database, self.network, row),
            owner="test",
            max_attempts=1,
        ).run_until_idle()

    def register(self, url: str, **fields: Any) -> dict[str, Any]:
        answer = self.client.post(
            "/v1/webhook-endpoints", json={"url": url, **fields}, headers=self.me.headers
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
def hub(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("HUB_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    path = tmp_path / "connectors.yaml"
    path.write_text(
        """
version: 1
parties:
  - {id: maison-electro, role: retailer, name: Maison Électro}
  - {id: bricomarket, role: retailer, name: BricoMarket}
sync:
  rules:
    - {name: news, when: {type: case_status}, notify_retailer: true}
""",
        encoding="utf-8",
    )
    network = open_network(path)
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
    me = make_tenant(database, "maison-electro", "Maison Électro", "ME-")
    bm = make_tenant(database, "bricomarket", "BricoMarket", "BM-")
    return Hub(database, network, TestClient(create_app(database, network)), me, bm)


def test_a_test_event_reaches_the_endpoint_signed_with_the_secret_shown_once(
    hub: Hub, receiver: Receiver
) -> None:
    created = hub.register(f"{receiver.url}/hooks", description="after-sales desk")
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["case.event", "case.message_failed"]  # all, unless asked
    read = hub.client.get(f"/v1/webhook-endpoints/{created['id']}", headers=hub.me.headers)
    assert "secret" not in read.json()

    answer = hub.client.post(
        f"/v1/webhook-endpoints/{created['id']}/test", headers=hub.me.headers
    ).json()

    assert answer["delivered"] is True
    assert answer["status"] == 204
    payload = receiver.verified(created["secret"])
    assert WebhookTestPayload.model_validate(payload).type == "webhook.test"  # as documented
    assert payload["endpoint_id"] == created["id"]
    assert receiver.received[-1][0]["webhook-id"] == answer["message_id"]


def test_a_failing_endpoint_is_reported_by_the_test(hub: Hub, receiver: Receiver) -> None:
    created = hub.register(f"{receiver.url}/hooks")
    receiver.status = 500
    answer = hub.client.post(
        f"/v1/webhook-endpoints/{created['id']}/test", headers=hub.me.headers
    ).json()
    assert answer["delivered"] is False
    assert answer["status"] == 500
    assert answer["error"]


def test_case_events_reach_every_endpoint_in_order_once_each(hub: Hub, receiver: Receiver) -> None:
    first = hub.register(f"{receiver.url}/hooks")
    second = hub.register(f"{receiver.url}/hooks?copy=2")
    opened = hub.client.post("/v1/cases", json=case_json("ME-000123"), headers=hub.me.headers)
    assert opened.status_code == 201
    later = [
        case_event("received", T0, by="atelier-dupont"),
        case_event("diagnosing", T0 + timedelta(hours=2), by="atelier-dupont"),
    ]
    hook = hub.network.sync_hook()
    assert hook is not None
    with hub.database.transaction() as connection:
        stored = append_events(connection, later)
        hook(connection, [event for event in later if event.id in set(stored.stored_ids)])
    with hub.database.transaction() as connection:  # the same events again: no new message
        hook(connection, later)

    hub.dispatch()

    assert len(receiver.received) == 6  # three events, two endpoints
    by_secret: dict[str, list[str]] = {first["secret"]: [], second["secret"]: []}
    for index in range(len(receiver.received)):
        for secret, statuses in by_secret.items():
            try:
                payload = receiver.verified(secret, index)
            except WebhookVerificationError:
                continue
            assert CaseEventPayload.model_validate(payload).type == "case.event"  # as documented
            assert payload["case_reference"] == "ME-000123"
            statuses.append(payload["status"])
    assert by_secret[first["secret"]] == ["created", "received", "diagnosing"]
    assert by_secret[second["secret"]] == ["created", "received", "diagnosing"]
    ids = [headers["webhook-id"] for headers, _ in receiver.received]
    assert len(set(ids)) == 6


def test_during_the_grace_period_both_secrets_verify_then_only_the_new(
    hub: Hub, receiver: Receiver
) -> None:
    created = hub.register(f"{receiver.url}/hooks")
    path = f"/v1/webhook-endpoints/{created['id']}"

    rotated = hub.client.post(
        f"{path}/rotate-secret", json={"grace_period_seconds": 3600}, headers=hub.me.headers
    ).json()
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    hub.client.post(f"{path}/test", headers=hub.me.headers)
    assert len(receiver.received[-1][0]["webhook-signature"].split(" ")) == 2
    assert receiver.verified(created["secret"])["type"] == "webhook.test"
    assert receiver.verified(rotated["secret"])["type"] == "webhook.test"

    again = hub.client.post(
        f"{path}/rotate-secret", json={"grace_period_seconds": 0}, headers=hub.me.headers
    ).json()
    assert again["previous_secret_expires_at"] is None
    hub.client.post(f"{path}/test", headers=hub.me.headers)
    assert receiver.verified(again["secret"])["type"] == "webhook.test"
    for old in (created["secret"], rotated["secret"]):
        with pytest.raises(WebhookVerificationError):
            receiver.verified(old)


def test_a_rotation_during_delivery_signs_the_case_events_with_both(
    hub: Hub, receiver: Receiver
) -> None:
    created = hub.register(f"{receiver.url}/hooks")
    hub.client.post("/v1/cases", json=case_json("ME-000123"), headers=hub.me.headers)
    rotated = hub.client.post(
        f"/v1/webhook-endpoints/{created['id']}/rotate-secret", headers=hub.me.headers
    ).json()
    hub.dispatch()
    assert receiver.verified(created["secret"])["status"] == "created"
    assert receiver.verified(rotated["secret"])["status"] == "created"


def test_listing_pages_with_has_more_and_other_tenants_see_nothing(
    hub: Hub, receiver: Receiver
) -> None:
    made = sorted(hub.register(f"{receiver.url}/hooks?n={n}")["id"] for n in range(3))
    first = hub.client.get("/v1/webhook-endpoints?limit=2", headers=hub.me.headers).json()
    assert [item["id"] for item in first["items"]] == made[:2]
    assert first["has_more"] is True
    rest = hub.client.get(
        f"/v1/webhook-endpoints?limit=2&after={first['next_cursor']}", headers=hub.me.headers
    ).json()
    assert [item["id"] for item in rest["items"]] == made[2:]
    assert rest["has_more"] is False
    assert rest["next_cursor"] is None

    theirs = hub.client.get("/v1/webhook-endpoints", headers=hub.bm.headers).json()
    assert theirs["items"] == []
    for method in ("get", "delete"):
        answer = hub.client.request(
            method, f"/v1/webhook-endpoints/{made[0]}", headers=hub.bm.headers
        )
        assert answer.status_code == 404
        assert answer.headers["content-type"] == PROBLEM


def test_disabling_or_deleting_an_endpoint_stops_its_messages(hub: Hub, receiver: Receiver) -> None:
    kept = hub.register(f"{receiver.url}/hooks")
    paused = hub.register(f"{receiver.url}/hooks?paused")
    gone = hub.register(f"{receiver.url}/hooks?gone")
    hub.client.post("/v1/cases", json=case_json("ME-000123"), headers=hub.me.headers)
    changed = hub.client.patch(
        f"/v1/webhook-endpoints/{paused['id']}",
        json={"enabled": False, "description": "paused"},
        headers=hub.me.headers,
    )
    assert changed.status_code == 200
    assert changed.json()["enabled"] is False
    assert changed.json()["description"] == "paused"
    deleted = hub.client.delete(f"/v1/webhook-endpoints/{gone['id']}", headers=hub.me.headers)
    assert deleted.status_code == 204
    hub.client.post("/v1/cases", json=case_json("ME-000124"), headers=hub.me.headers)

    hub.dispatch()

    assert [receiver.verified(kept["secret"], i)["case_reference"] for i in range(2)] == [
        "ME-000123",
        "ME-000124",
    ]
    assert len(receiver.received) == 2
    with hub.database.transaction() as connection:
        states = {row.target: row.state.value for row in all_messages(connection)}
    assert states[f"webhook:maison-electro/{paused['id']}"] == "discarded"
    assert states[f"webhook:maison-electro/{gone['id']}"] == "discarded"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://10.0.0.5/hooks", "private"),
        ("https://169.254.169.254/latest", "private"),
        ("http://93.184.216.34/hooks", "https"),
        ("https://user:pw@93.184.216.34/hooks", "credentials"),
        ("ftp://93.184.216.34/hooks", "https"),
        ("https://[::1]/hooks", "loopback"),
    ],
)
def test_urls_the_hub_must_not_call_are_refused(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    monkeypatch.delenv("HUB_WEBHOOK_ALLOWED_NETWORKS")
    answer = hub.client.post("/v1/webhook-endpoints", json={"url": url}, headers=hub.me.headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["errors"][0]["field"] == "url"
    assert why in problem["errors"][0]["message"]


def test_loopback_is_refused_unless_the_operator_allows_it(
    hub: Hub, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_WEBHOOK_ALLOWED_NETWORKS")
    answer = hub.client.post(
        "/v1/webhook-endpoints", json={"url": f"{receiver.url}/hooks"}, headers=hub.me.headers
    )
    assert answer.status_code == 422
    assert "127.0.0.1" in answer.json()["errors"][0]["message"]


def test_an_unknown_event_type_is_refused_naming_the_known_ones(hub: Hub) -> None:
    answer = hub.client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://93.184.216.34/hooks", "event_types": ["case.eaten"]},
        headers=hub.me.headers,
    )
    assert answer.status_code == 422
    assert "case.event" in answer.json()["errors"][0]["message"]


def test_without_the_encryption_key_the_api_says_it_is_unavailable(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_WEBHOOK_SECRETS_KEYS")
    answer = hub.client.post(
        "/v1/webhook-endpoints", json={"url": "https://93.184.216.34/h"}, headers=hub.me.headers
    )
    assert answer.status_code == 503
    assert "HUB_WEBHOOK" not in answer.text  # the operator's setting is not the retailer's


def test_secrets_are_stored_encrypted(hub: Hub, receiver: Receiver) -> None:
    created = hub.register(f"{receiver.url}/hooks")
    with hub.database.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT secret FROM webhook_endpoints").scalar_one()
    assert created["secret"] not in stored
    assert created["secret"].removeprefix("whsec_") not in stored


def test_the_openapi_document_lists_each_webhook_with_its_payload_and_signature_headers(
    hub: Hub,
) -> None:
    document = hub.client.get("/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for name, schema in (
        ("case.event", "CaseEventPayload"),
        ("case.message_failed", "MessageFailedPayload"),
        ("webhook.test", "WebhookTestPayload"),
    ):
        operation = document["webhooks"][name]["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{schema}"}
        assert "422" not in operation["responses"]


def test_the_operators_webhook_keeps_working_beside_the_retailers_own(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    """connectors.yaml's webhook and an endpoint registered through the API both get
    every event, each signed with its own secret."""
    operator_secret = "whsec_" + base64.b64encode(b"the operator's secret, 32 bytes").decode()
    monkeypatch.setenv("ME_WEBHOOK_SECRET", operator_secret)
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("HUB_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties: [{{id: maison-electro, role: retailer, name: Maison Électro}}]
webhooks:
  - {{retailer: maison-electro, url: "{receiver.url}/hooks?from=operator",
      secret_env: ME_WEBHOOK_SECRET, max_attempts: 1}}
sync:
  rules:
    - {{name: news, when: {{type: case_status}}, notify_retailer: true}}
""",
        encoding="utf-8",
    )
    network = open_network(path)
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
    me = make_tenant(database, "maison-electro", "Maison Électro", "ME-")
    hub = Hub(database, network, TestClient(create_app(database, network)), me, me)
    own = hub.register(f"{receiver.url}/hooks?from=retailer")
    hub.client.post("/v1/cases", json=case_json("ME-000123"), headers=me.headers)

    hub.dispatch()

    assert len(receiver.received) == 2
    senders = set()
    for index in range(2):
        for secret, who in ((operator_secret, "operator"), (own["secret"], "retailer")):
            try:
                payload = receiver.verified(secret, index)
            except WebhookVerificationError:
                continue
            assert payload["case_reference"] == "ME-000123"
            senders.add(who)
    assert senders == {"operator", "retailer"}
