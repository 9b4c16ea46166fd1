"""Cases over the API: open idempotently, read, timeline, list; errors as problem details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import update

from hub.config.network import load_network
from hub.retailers.cursors import CursorKind, decode_cursor
from hub.sla.publish import breach_event
from hub.sla.store import breaches
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.tables import cases
from tests.api_support import Hub, case_json, make_hub
from tests.factories import T0, case_event

NETWORK = load_network(Path(__file__).resolve().parent.parent / "connectors.yaml")

PROBLEM = "application/problem+json"


@pytest.fixture
def hub(database: Database) -> Hub:
    return make_hub(database)


def test_opening_a_case_answers_201_with_its_status_and_where_to_read_it(hub: Hub) -> None:
    response = hub.client.post("/v1/cases", json=case_json(), headers=hub.me.headers)
    assert response.status_code == 201
    assert response.headers["location"] == "/v1/cases/ME-000123"
    body = response.json()
    assert body["reference"] == "ME-000123"
    assert body["status"] == "created"
    assert body["status_label"] == {"fr": "Dossier ouvert", "en": "Case opened"}
    assert body["breached"] is False
    assert body["case"]["product"]["serial_number"] == "SN8841XK2"
    assert hub.client.get(response.headers["location"], headers=hub.me.headers).json() == body


def test_the_retailer_may_be_left_out_of_the_body_since_the_key_says_who(hub: Hub) -> None:
    document = case_json()
    del document["retailer"]
    response = hub.client.post("/v1/cases", json=document, headers=hub.me.headers)
    assert response.status_code == 201
    assert response.json()["case"]["retailer"] == "maison-electro"
    # The same case written out in full is the same content: 200, not a conflict.
    again = hub.client.post("/v1/cases", json=case_json(), headers=hub.me.headers)
    assert again.status_code == 200


def test_the_same_case_again_is_200_and_other_content_is_409(hub: Hub) -> None:
    first = hub.client.post("/v1/cases", json=case_json(), headers=hub.me.headers)
    again = hub.client.post("/v1/cases", json=case_json(), headers=hub.me.headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    changed = hub.client.post(
        "/v1/cases", json=case_json(fault="Fait du bruit"), headers=hub.me.headers
    )
    assert changed.status_code == 409
    assert changed.headers["content-type"] == PROBLEM
    assert changed.json() == {
        "type": "urn:aftersales-hub:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "case ME-000123 exists with different content",
        "instance": "/v1/cases",
    }


@pytest.mark.parametrize(
    ("change", "field", "location"),
    [
        (lambda d: d["product"].pop("brand"), "product.brand", "body"),
        (lambda d: d.update(opened_at="2026-10-30T16:20:00"), "opened_at", "body"),
        (lambda d: d.update(coverage="lifetime"), "coverage", "body"),
        (lambda d: d["customer"].update(phone="call me"), "customer.phone", "body"),
        (lambda d: d.update(colour="red"), "colour", "body"),
        (lambda d: d.update(retailer="bricomarket"), "retailer", "body"),
        (lambda d: d.update(reference="BM-000001"), "reference", "body"),
        (
            lambda d: d.update(references=[{"party": "nobody", "reference": "X1"}]),
            "references.0.party",
            "body",
        ),
    ],
    ids=[
        "missing-brand",
        "naive-time",
        "unknown-coverage",
        "bad-phone",
        "unknown-field",
        "other-retailer",
        "other-prefix",
        "unknown-partner",
    ],
)
def test_a_refused_case_is_a_422_naming_the_field(
    hub: Hub, change: object, field: str, location: str
) -> None:
    document = case_json()
    assert callable(change)
    change(document)
    response = hub.client.post("/v1/cases", json=document, headers=hub.me.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:aftersales-hub:problem:validation"
    assert body["status"] == 422
    assert {"field": field, "location": location} in [
        {"field": e["field"], "location": e["location"]} for e in body["errors"]
    ]
    assert field in body["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"status": "lost"}, "status"),
        ({"updated_since": "2026-11-01T10:00:00"}, "updated_since"),
        ({"updated_since": "0.5"}, "updated_since"),
        ({"updated_since": "1798794000"}, "updated_since"),
        ({"updated_since": "2026-11-01"}, "updated_since"),
        ({"updated_since": "2026-11-01 10:00:00+01:00x"}, "updated_since"),
        ({"breached": "perhaps"}, "breached"),
    ],
)
def test_bad_query_parameters_are_a_422_naming_them(
    hub: Hub, params: dict[str, object], field: str
) -> None:
    response = hub.client.get("/v1/cases", params=params, headers=hub.me.headers)
    assert response.status_code == 422
    assert [(e["field"], e["location"]) for e in response.json()["errors"]] == [(field, "query")]


def test_the_timeline_shows_every_partner_in_time_order_with_labels_and_raw_codes(
    hub: Hub,
) -> None:
    hub.client.post("/v1/cases", json=case_json(), headers=hub.me.headers)
    with hub.database.transaction() as connection:
        append_events(
            connection,
            [
                case_event("diagnosing", T0 + timedelta(hours=2), code="DIA"),
                case_event("received", T0, code="REC"),
                case_event(None, T0 + timedelta(hours=1), code="X47"),
            ],
        )
    response = hub.client.get("/v1/cases/ME-000123/timeline", headers=hub.me.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "diagnosing"
    assert body["status_label"]["en"] == "Diagnosis in progress"
    assert [(e["status"], e["raw_code"]) for e in body["events"]] == [
        ("created", None),
        ("received", "REC"),
        (None, "X47"),
        ("diagnosing", "DIA"),
    ]
    # 09:00 in Paris, written as every instant of the API is: UTC, with Z.
    assert body["events"][1]["occurred_at"] == "2026-11-03T08:00:00Z"
    assert body["events"][1]["label"] == {
        "fr": "Reçu à l'atelier",
        "en": "Received at the workshop",
    }
    assert body["events"][2]["unmapped"] is True
    assert body["events"][2]["label"] is None
    assert body["events"][1]["reported_by"] == "atelier-dupont"


def _open(hub: Hub, *references: str) -> None:
    for reference in references:
        response = hub.client.post("/v1/cases", json=case_json(reference), headers=hub.me.headers)
        assert response.status_code == 201


def test_listing_pages_through_the_callers_cases_only(hub: Hub) -> None:
    _open(hub, *(f"ME-{n:06d}" for n in range(1, 8)))
    hub.client.post("/v1/cases", json=case_json("BM-000001"), headers=hub.bm.headers)
    seen: list[str] = []
    more: list[bool] = []
    after: str | None = None
    while True:
        params: dict[str, object] = {"limit": 3} | ({"after": after} if after else {})
        body = hub.client.get("/v1/cases", params=params, headers=hub.me.headers).json()
        seen += [item["reference"] for item in body["items"]]
        more.append(body["has_more"])
        after = body["next_cursor"]
        if after is None:
            break
    assert seen == [f"ME-{n:06d}" for n in range(1, 8)]
    assert more == [True, True, False]


def test_a_list_cursor_issued_in_the_earlier_format_resumes_at_the_same_place(hub: Hub) -> None:
    """A case-list cursor of itsdangerous's format, issued before the tagged one (made
    here by itsdangerous itself), resumes the list after the same case."""
    _open(hub, *(f"ME-{n:06d}" for n in range(1, 8)))
    first = hub.client.get("/v1/cases", params={"limit": 3}, headers=hub.me.headers).json()
    key = hub.me.retailer.cursor_key
    (last_id,) = decode_cursor(key, CursorKind.CASE_LIST, first["next_cursor"], arity=1)
    legacy = str(URLSafeSerializer(key, salt="hub cursor case_list").dumps([last_id]))
    pages = [
        hub.client.get("/v1/cases", params={"limit": 3, "after": after}, headers=hub.me.headers)
        for after in (legacy, first["next_cursor"])
    ]
    assert pages[0].status_code == 200
    assert pages[0].content == pages[1].content
    assert [item["reference"] for item in pages[0].json()["items"]] == [
        "ME-000004",
        "ME-000005",
        "ME-000006",
    ]


def test_listing_filters_by_status_partner_update_time_and_breach(hub: Hub) -> None:
    _open(hub, "ME-000001", "ME-000002", "ME-000003")
    with hub.database.transaction() as connection:
        append_events(connection, [case_event("received", T0, case_ref="ME-000002")])
        connection.execute(
            update(cases)
            .where(cases.c.reference == "ME-000003")
            .values(updated_at=datetime(2026, 1, 1, tzinfo=UTC))
        )

    def references(**params: object) -> list[str]:
        response = hub.client.get("/v1/cases", params=params, headers=hub.me.headers)
        assert response.status_code == 200, response.text
        return [item["reference"] for item in response.json()["items"]]

    assert references(status="received") == ["ME-000002"]
    assert references(status="created") == ["ME-000001", "ME-000003"]
    assert references(partner="atelier-dupont") == ["ME-000002"]
    assert references(partner="colis-express") == []
    assert references(updated_since="2026-06-01T00:00:00+02:00") == ["ME-000001", "ME-000002"]
    assert references(breached="true") == []
    assert references(breached="false") == ["ME-000001", "ME-000002", "ME-000003"]
    # A late step of ME-000002, published to the retailer as hub.sla does.
    late = [
        breach
        for breach in breaches(hub.database, NETWORK, now=T0 + timedelta(days=60))
        if breach.case_ref == "ME-000002"
    ]
    assert late, "the case is two months old: some step is past its deadline"
    with hub.database.transaction() as connection:
        append_events(connection, [breach_event(late[0], now=T0 + timedelta(days=60))])
    assert references(breached="true") == ["ME-000002"]
    assert references(breached="false") == ["ME-000001", "ME-000003"]
    listed = hub.client.get("/v1/cases", headers=hub.me.headers).json()["items"]
    assert {item["reference"]: item["breached"] for item in listed} == {
        "ME-000001": False,
        "ME-000002": True,
        "ME-000003": False,
    }
    one = hub.client.get("/v1/cases/ME-000002", headers=hub.me.headers).json()
    assert one["breached"] is True


def test_a_body_over_the_limit_is_a_413_problem_even_without_content_length(hub: Hub) -> None:
    big = case_json() | {"padding": "x" * 300_000}
    response = hub.client.post("/v1/cases", json=big, headers=hub.me.headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:aftersales-hub:problem:payload-too-large"

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 10_000

    streamed = hub.client.post(
        "/v1/cases",
        content=chunks(),  # type: ignore[arg-type]
        headers=hub.me.headers | {"content-type": "application/json"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["status"] == 413


def test_unknown_routes_and_methods_answer_problem_details(hub: Hub) -> None:
    missing = hub.client.get("/v1/nothing-here", headers=hub.me.headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    wrong = hub.client.delete("/v1/feed", headers=hub.me.headers)
    assert wrong.status_code == 405
    assert wrong.json()["type"] == "urn:aftersales-hub:problem:method-not-allowed"
    assert "GET" in wrong.headers["allow"]


def test_a_wrong_method_on_the_import_advertises_only_what_the_import_allows(hub: Hub) -> None:
    for method in ("OPTIONS", "PUT", "DELETE"):
        answer = hub.client.request(method, "/v1/cases/import", headers=hub.me.headers)
        assert answer.status_code == 405
        assert answer.headers["content-type"] == PROBLEM
        assert answer.headers["allow"] == "POST"


def test_whoami_names_the_tenant_and_its_prefix(hub: Hub) -> None:
    assert hub.client.get("/v1/me", headers=hub.bm.headers).json() == {
        "retailer": "bricomarket",
        "name": "BricoMarket",
        "case_prefix": "BM-",
    }


def test_control_characters_are_refused_by_field_not_a_server_error(hub: Hub) -> None:
    """PostgreSQL cannot store NUL: each way in names the field instead of failing."""
    body = hub.client.post(
        "/v1/cases", json={**case_json(), "fault": "Ne chauffe\x00 plus"}, headers=hub.me.headers
    )
    assert body.status_code == 422
    assert body.json()["errors"][0]["field"] == "fault"
    path = hub.client.get("/v1/cases/ME-0%001", headers=hub.me.headers)
    assert path.status_code == 422
    assert path.json()["errors"][0] == {
        "field": "reference",
        "location": "path",
        "message": path.json()["errors"][0]["message"],
    }
    query = hub.client.get("/v1/cases", params={"partner": "a\x00b"}, headers=hub.me.headers)
    assert query.status_code == 422
    assert query.json()["errors"][0]["field"] == "partner"


def test_unknown_query_parameters_are_refused_not_ignored(hub: Hub) -> None:
    response = hub.client.get(
        "/v1/cases", params={"update_since": "2026-01-01T00:00:00Z"}, headers=hub.me.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "update_since", "location": "query", "message": "unknown query parameter"}
    ]
    anonymous = hub.client.get("/v1/cases", params={"update_since": "x"})
    assert anonymous.status_code == 401


def test_each_route_refuses_the_query_parameters_it_does_not_read_after_the_key(
    hub: Hub,
) -> None:
    # The names a route reads are gathered once per route: each keeps its own, at every
    # request, and a key is still checked before anything about the query is said.
    for _ in range(2):
        feed = hub.client.get("/v1/feed", params={"limit": 5}, headers=hub.me.headers)
        assert feed.status_code == 200
        me = hub.client.get("/v1/me", params={"limit": 5}, headers=hub.me.headers)
        assert me.status_code == 422
        assert me.json()["errors"] == [
            {"field": "limit", "location": "query", "message": "unknown query parameter"}
        ]
        partner = {"partner": "atelier-dupont"}
        cases = hub.client.get("/v1/cases", params=partner, headers=hub.me.headers)
        assert cases.status_code == 200
        feed = hub.client.get("/v1/feed", params=partner, headers=hub.me.headers)
        assert feed.json()["errors"] == [
            {"field": "partner", "location": "query", "message": "unknown query parameter"}
        ]
    anonymous = hub.client.get("/v1/feed", params={"limit": 0, "update_since": "x"})
    assert anonymous.status_code == 401
    wrong_key = hub.client.get(
        "/v1/feed",
        params={"limit": 0, "update_since": "x"},
        headers={"Authorization": f"Bearer {hub.me.token[:-1]}x"},
    )
    assert wrong_key.status_code == 401
    assert wrong_key.content == anonymous.content


def test_each_key_is_its_own_tenant_at_every_request(hub: Hub) -> None:
    # The key check's statement is built once and bound to each request's key.
    for _ in range(2):
        for tenant in (hub.me, hub.bm):
            who = hub.client.get("/v1/me", headers=tenant.headers)
            assert who.status_code == 200
            assert who.json()["retailer"] == tenant.retailer.id
