"""Tenant isolation over every route of the OpenAPI document.

For each operation the test has a probe: what BricoMarket (BM-) sends when it tries
Maison Électro's (ME-) references and cursors. Each probe's answer must be exactly what
BricoMarket got before Maison Électro's objects existed (for references), or exactly the
answer to a made-up cursor (for cursors): as if the object did not exist. Maison
Électro's own requests prove the objects are there. Every route also answers 401, in
one shape, to no key, a malformed key and a revoked key. A route the document lists
without a probe fails the test, so new routes cannot skip isolation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from hub.retailers.cursors import CursorKind, encode_cursor
from hub.retailers.tenants import revoke_key
from hub.store.db import Database
from hub.store.events import append_events
from tests.api_support import Hub, Tenant, case_json, make_hub, make_tenant
from tests.factories import T0, case_event

ME_REF = "ME-000123"
ME_CSV = (
    b"reference,opened_at,brand,model,coverage,service,fault,customer_name\n"
    b"ME-000125,2026-11-01T09:00:00+01:00,Seb,Actifry,none,workshop_repair,Panne,Julie Martin\n"
)
"""A file Maison Électro imports; BricoMarket then sends the very same bytes."""

Answer = tuple[int, Any]
Request = Callable[[TestClient, dict[str, str], "Secrets"], Answer]


@dataclass
class Secrets:
    """What only Maison Électro holds once its objects exist (placeholders before)."""

    feed_cursor: str
    list_cursor: str
    csv: bytes
    endpoint_id: str = "we_" + "0" * 20


def _answer(response: Any) -> Answer:
    body = response.json() if response.content else None
    return response.status_code, body


def _without_id(response: Any, endpoint_id: str) -> Answer:
    """The answer with the endpoint id asked for written as a placeholder: the id exists
    only once Maison Électro made it, so the answers before and after differ by it alone
    when nothing else is told."""
    status, body = _answer(response)
    text = json.dumps(body).replace(endpoint_id, "{endpoint_id}")
    return status, json.loads(text)


def _on_endpoint(
    client: TestClient,
    headers: dict[str, str],
    secrets: Secrets,
    method: str,
    suffix: str,
    body: dict[str, Any] | None = None,
) -> Answer:
    url = f"/v1/webhook-endpoints/{secrets.endpoint_id}{suffix}"
    return _without_id(client.request(method, url, json=body, headers=headers), secrets.endpoint_id)


def _case_for_bm_with_me_reference() -> dict[str, Any]:
    document = case_json(ME_REF)
    document["retailer"] = "bricomarket"
    return document


# (method, path) -> requests BricoMarket makes with Maison Électro's references/cursors.
PROBES: dict[tuple[str, str], list[Request]] = {
    ("get", "/v1/me"): [lambda c, h, s: _answer(c.get("/v1/me", headers=h))],
    ("post", "/v1/cases"): [
        lambda c, h, s: _answer(c.post("/v1/cases", json=case_json(ME_REF), headers=h)),
        lambda c, h, s: _answer(
            c.post("/v1/cases", json=_case_for_bm_with_me_reference(), headers=h)
        ),
    ],
    ("get", "/v1/cases"): [
        lambda c, h, s: _answer(c.get("/v1/cases", headers=h)),
        lambda c, h, s: _answer(
            c.get("/v1/cases", params={"partner": "maison-electro"}, headers=h)
        ),
        lambda c, h, s: _answer(c.get("/v1/cases", params={"after": s.list_cursor}, headers=h)),
    ],
    ("get", "/v1/cases/{reference}"): [
        lambda c, h, s: _answer(c.get(f"/v1/cases/{ME_REF}", headers=h)),
    ],
    ("patch", "/v1/cases/{reference}"): [
        lambda c, h, s: _answer(
            c.patch(
                f"/v1/cases/{ME_REF}",
                json={"customer": {"phone": "+33600000000"}},
                headers={**h, "Content-Type": "application/merge-patch+json"},
            )
        ),
    ],
    ("get", "/v1/cases/{reference}/timeline"): [
        lambda c, h, s: _answer(c.get(f"/v1/cases/{ME_REF}/timeline", headers=h)),
    ],
    ("post", "/v1/cases/{reference}/erasure"): [
        lambda c, h, s: _answer(c.post(f"/v1/cases/{ME_REF}/erasure", headers=h)),
    ],
    ("get", "/v1/cases/{reference}/erasure"): [
        lambda c, h, s: _answer(c.get(f"/v1/cases/{ME_REF}/erasure", headers=h)),
    ],
    ("post", "/v1/cases/import"): [
        lambda c, h, s: _answer(
            c.post(
                "/v1/cases/import",
                files={"file": ("me.csv", s.csv, "text/csv")},
                headers=h,
            )
        ),
    ],
    ("get", "/v1/feed"): [
        lambda c, h, s: _answer(c.get("/v1/feed", headers=h)),
        lambda c, h, s: _answer(c.get("/v1/feed", params={"after": s.feed_cursor}, headers=h)),
    ],
    ("post", "/v1/webhook-endpoints"): [
        lambda c, h, s: _answer(
            c.post("/v1/webhook-endpoints", json={"url": "https://10.0.0.1/"}, headers=h)
        ),
    ],
    ("get", "/v1/webhook-endpoints"): [
        lambda c, h, s: _answer(c.get("/v1/webhook-endpoints", headers=h)),
        lambda c, h, s: _answer(c.get("/v1/webhook-endpoints", params={"after": "we_"}, headers=h)),
    ],
    ("get", "/v1/webhook-endpoints/{endpoint_id}"): [
        lambda c, h, s: _on_endpoint(c, h, s, "GET", ""),
    ],
    ("patch", "/v1/webhook-endpoints/{endpoint_id}"): [
        lambda c, h, s: _on_endpoint(c, h, s, "PATCH", "", {"enabled": False}),
    ],
    ("delete", "/v1/webhook-endpoints/{endpoint_id}"): [
        lambda c, h, s: _on_endpoint(c, h, s, "DELETE", ""),
    ],
    ("post", "/v1/webhook-endpoints/{endpoint_id}/test"): [
        lambda c, h, s: _on_endpoint(c, h, s, "POST", "/test"),
    ],
    ("post", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): [
        lambda c, h, s: _on_endpoint(c, h, s, "POST", "/rotate-secret"),
    ],
}


@pytest.fixture
def hub(database: Database, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS_KEYS", Fernet.generate_key().decode())
    hub = make_hub(database)
    # BricoMarket has a life of its own: a case with events in its feed.
    response = hub.client.post("/v1/cases", json=case_json("BM-000045"), headers=hub.bm.headers)
    assert response.status_code == 201
    return hub


def _operations(hub: Hub) -> dict[tuple[str, str], dict[str, Any]]:
    document = hub.client.get("/v1/openapi.json").json()
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def _me_creates_its_objects(hub: Hub) -> Secrets:
    me = hub.me.headers
    assert hub.client.post("/v1/cases", json=case_json(ME_REF), headers=me).status_code == 201
    assert hub.client.post("/v1/cases", json=case_json("ME-000124"), headers=me).status_code == 201
    with hub.database.transaction() as connection:
        append_events(connection, [case_event("received", T0, case_ref=ME_REF)])
    assert hub.client.get(f"/v1/cases/{ME_REF}", headers=me).status_code == 200
    timeline = hub.client.get(f"/v1/cases/{ME_REF}/timeline", headers=me).json()
    assert [e["status"] for e in timeline["events"]] == ["created", "received"]
    feed = hub.client.get("/v1/feed", params={"limit": 1}, headers=me).json()
    cases = hub.client.get("/v1/cases", params={"limit": 1}, headers=me).json()
    assert feed["items"][0]["case_reference"] == ME_REF
    assert cases["items"][0]["reference"] == ME_REF
    imported = hub.client.post(
        "/v1/cases/import", files={"file": ("me.csv", ME_CSV, "text/csv")}, headers=me
    ).json()
    assert (imported["created"], imported["duplicate_file"]) == (1, False)
    endpoint = hub.client.post(
        "/v1/webhook-endpoints", json={"url": "https://93.184.216.34/hooks"}, headers=me
    )
    assert endpoint.status_code == 201
    return Secrets(
        feed_cursor=feed["next_cursor"],
        list_cursor=cases["next_cursor"],
        csv=ME_CSV,
        endpoint_id=endpoint.json()["id"],
    )


def test_every_route_answers_another_tenant_as_if_the_object_did_not_exist(hub: Hub) -> None:
    operations = _operations(hub)
    assert set(operations) == set(PROBES), "each route of the OpenAPI document needs a probe"
    bm = hub.bm.headers
    forged = Secrets(
        feed_cursor=encode_cursor(b"never issued", CursorKind.FEED, (0, 1)),
        list_cursor=encode_cursor(b"never issued", CursorKind.CASE_LIST, (1,)),
        csv=ME_CSV + b"\n",  # other bytes (a blank line more): BricoMarket's first upload
    )
    before = {
        key: [probe(hub.client, bm, forged) for probe in probes] for key, probes in PROBES.items()
    }

    secrets = _me_creates_its_objects(hub)
    after = {
        key: [probe(hub.client, bm, secrets) for probe in probes] for key, probes in PROBES.items()
    }

    for key in PROBES:
        assert after[key] == before[key], f"{key} tells BricoMarket about Maison Électro's data"
    # And what "not existing" looks like, so the comparison above is not vacuous.
    assert before[("get", "/v1/cases/{reference}")][0][0] == 404
    assert before[("get", "/v1/cases/{reference}/timeline")][0][0] == 404
    assert before[("patch", "/v1/cases/{reference}")][0][0] == 404
    assert before[("get", "/v1/cases")][2][0] == 404
    assert before[("get", "/v1/feed")][1][0] == 404
    assert before[("post", "/v1/cases")][0][0] == 422
    assert before[("post", "/v1/cases/{reference}/erasure")][0][0] == 404
    assert before[("get", "/v1/cases/{reference}/erasure")][0][0] == 404
    me_erasure = hub.client.get(f"/v1/cases/{ME_REF}/erasure", headers=hub.me.headers)
    assert me_erasure.status_code == 404, "BricoMarket's request erased nothing"
    assert before[("get", "/v1/webhook-endpoints/{endpoint_id}")][0][0] == 404
    assert before[("post", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret")][0][0] == 404
    import_result = after[("post", "/v1/cases/import")][0][1]
    assert import_result["duplicate_file"] is False  # uploads are archived per tenant
    import_rows = import_result["rows"]
    assert [(r["line"], r["outcome"], r["field"]) for r in import_rows] == [
        (2, "rejected", "reference")
    ]
    bm_feed = after[("get", "/v1/feed")][0][1]["items"]
    assert {item["case_reference"] for item in bm_feed} == {"BM-000045"}
    bm_cases = after[("get", "/v1/cases")][0][1]["items"]
    assert [item["reference"] for item in bm_cases] == ["BM-000045"]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = path.replace("{reference}", ME_REF).replace("{endpoint_id}", "we_" + "0" * 20)
    if path == "/v1/cases/import":
        return client.post(url, files={"file": ("me.csv", ME_CSV)}, headers=headers)
    if method == "post":
        return client.post(url, json=case_json(ME_REF), headers=headers)
    return client.request(method.upper(), url, headers=headers)


def test_every_route_refuses_no_key_a_malformed_key_and_a_revoked_key_alike(hub: Hub) -> None:
    operations = _operations(hub)
    revoked: Tenant = make_tenant(hub.database, "brico-pro", "Brico Pro", "BP-")
    with hub.database.transaction() as connection:
        revoke_key(connection, revoked.key_id)
    attempts = {
        "none": {},
        "not-bearer": {"Authorization": f"Basic {hub.me.token}"},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "revoked": revoked.headers,
        "wrong-secret": {"Authorization": f"Bearer {hub.me.token[:-4]}AAAA"},
    }
    for (method, path), operation in operations.items():
        assert operation["security"] == [{"ApiKey": []}], f"{method} {path} is not secured"
        answers = {}
        for name, headers in attempts.items():
            response = _call(hub.client, method, path, headers)
            assert response.status_code == 401, (method, path, name, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"].startswith("Bearer")
            answers[name] = response.json()
        assert all(answer == answers["none"] for answer in answers.values()), (method, path)
        assert answers["none"]["type"] == "urn:aftersales-hub:problem:unauthorized"
