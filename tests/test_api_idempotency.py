"""The Idempotency-Key header on the retailer API's POSTs: the first answer replayed for
the same request, a refusal for another, per retailer, for 24 hours; SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from hub.retailers.idempotency import (
    Claimed,
    InProgress,
    Mismatch,
    Replay,
    begin,
    finish,
    request_digest,
)
from hub.store.db import Database
from tests.api_support import Hub, case_json, make_hub

PROBLEM = "application/problem+json"
CSV = (
    b"reference,opened_at,brand,model,coverage,service,fault,customer_name\n"
    b"ME-000125,2026-11-01T09:00:00+01:00,Seb,Actifry,none,workshop_repair,Panne,Julie Martin\n"
)


@pytest.fixture
def hub(database: Database, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS_KEYS", Fernet.generate_key().decode())
    return make_hub(database)


def test_the_same_request_again_gets_the_first_answer(hub: Hub) -> None:
    first = hub.client.post(
        "/v1/cases", json=case_json(), headers={**hub.me.headers, "Idempotency-Key": "k-1"}
    )
    again = hub.client.post(
        "/v1/cases", json=case_json(), headers={**hub.me.headers, "Idempotency-Key": "k-1"}
    )
    assert first.status_code == 201
    # Without the key a second POST answers 200 ("opened before"); with it, the first 201.
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == "/v1/cases/ME-000123"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_the_same_key_with_another_body_is_refused(hub: Hub) -> None:
    headers = {**hub.me.headers, "Idempotency-Key": "k-2"}
    assert hub.client.post("/v1/cases", json=case_json(), headers=headers).status_code == 201
    other = hub.client.post("/v1/cases", json=case_json("ME-000124"), headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    problem = other.json()
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert problem["errors"][0]["location"] == "header"
    assert "POST /v1/cases" in problem["errors"][0]["message"]
    case = hub.client.get("/v1/cases/ME-000124", headers=hub.me.headers)
    assert case.status_code == 404  # the second request did nothing


def test_keys_belong_to_one_retailer(hub: Hub) -> None:
    me = hub.client.post(
        "/v1/cases", json=case_json(), headers={**hub.me.headers, "Idempotency-Key": "shared"}
    )
    bm = hub.client.post(
        "/v1/cases",
        json=case_json("BM-000001", retailer="bricomarket"),
        headers={**hub.bm.headers, "Idempotency-Key": "shared"},
    )
    assert me.status_code == 201
    assert bm.status_code == 201
    assert bm.json()["reference"] == "BM-000001"


def test_a_retried_upload_is_recognised_whatever_its_multipart_boundary(hub: Hub) -> None:
    headers = {**hub.me.headers, "Idempotency-Key": "upload-1"}
    first = hub.client.post(
        "/v1/cases/import", files={"file": ("me.csv", CSV, "text/csv")}, headers=headers
    )
    again = hub.client.post(
        "/v1/cases/import", files={"file": ("me.csv", CSV, "text/csv")}, headers=headers
    )
    assert first.json()["created"] == 1
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # not "duplicate_file": the import ran once
    without = hub.client.post(
        "/v1/cases/import", files={"file": ("me.csv", CSV, "text/csv")}, headers=hub.me.headers
    )
    assert without.json()["duplicate_file"] is True


def test_a_replayed_endpoint_creation_shows_the_same_secret_kept_encrypted(hub: Hub) -> None:
    headers = {**hub.me.headers, "Idempotency-Key": "endpoint-1"}
    body = {"url": "https://93.184.216.34/hooks"}
    first = hub.client.post("/v1/webhook-endpoints", json=body, headers=headers)
    again = hub.client.post("/v1/webhook-endpoints", json=body, headers=headers)
    assert first.status_code == 201
    assert again.json() == first.json()
    listed = hub.client.get("/v1/webhook-endpoints", headers=hub.me.headers).json()
    assert len(listed["items"]) == 1
    with hub.database.engine.connect() as connection:
        kept = connection.exec_driver_sql("SELECT response_body FROM idempotency_keys").scalar_one()
    assert first.json()["secret"].encode() not in bytes(kept)


@pytest.mark.parametrize("key", ["", "a key with spaces", "x" * 256])
def test_a_malformed_key_is_refused_naming_the_header(hub: Hub, key: str) -> None:
    answer = hub.client.post(
        "/v1/cases", json=case_json(), headers={**hub.me.headers, "Idempotency-Key": key}
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "Idempotency-Key"


def test_without_a_valid_api_key_the_answer_is_401_and_nothing_is_kept(hub: Hub) -> None:
    answer = hub.client.post(
        "/v1/cases",
        json=case_json(),
        headers={"Authorization": "Bearer wrong", "Idempotency-Key": "k-401"},
    )
    assert answer.status_code == 401
    with hub.database.engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM idempotency_keys").scalar_one()
    assert count == 0


def test_a_key_is_in_progress_until_answered_and_free_again_after_24_hours(hub: Hub) -> None:
    now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    me = hub.me.retailer
    digest = request_digest("application/json", b"{}")
    claim = {"operation": "POST /v1/cases", "digest": digest}
    assert begin(hub.database, me, "k", now=now, **claim) == Claimed()
    assert begin(hub.database, me, "k", now=now, **claim) == InProgress()
    finish(
        hub.database,
        me,
        "k",
        operation="POST /v1/cases",
        status=201,
        headers={"content-type": "application/json"},
        body=b"{}",
    )
    replay = begin(hub.database, me, "k", now=now + timedelta(hours=23), **claim)
    assert replay == Replay(201, {"content-type": "application/json"}, b"{}")
    other = {"operation": "POST /v1/cases", "digest": request_digest(None, b"[]")}
    assert isinstance(
        begin(hub.database, me, "k", now=now + timedelta(hours=23), **other), Mismatch
    )
    assert begin(hub.database, me, "k", now=now + timedelta(hours=24), **other) == Claimed()


def test_the_openapi_document_names_the_header_on_every_post(hub: Hub) -> None:
    document = hub.client.get("/v1/openapi.json").json()
    posts = [item["post"] for item in document["paths"].values() if "post" in item]
    assert len(posts) == 6  # cases, import, erasure, endpoints, test, rotate
    for operation in posts:
        names = [parameter["name"] for parameter in operation["parameters"]]
        assert "Idempotency-Key" in names
