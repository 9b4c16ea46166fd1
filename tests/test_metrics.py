"""/metrics over real HTTP: the Prometheus text format, figures that agree with the run
records and hub.operators.status, and the operator credential only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from hub.api import create_app
from hub.api.operator_auth import SESSION_COOKIE, TOKEN_ENV
from hub.api.throttle import FAILURES_ALLOWED
from hub.errors import FatalError, Location, PartnerDataError
from hub.operators.listings import recent_runs
from hub.operators.status import network_status
from hub.partners.alerts import pause_connector
from hub.partners.connectors import Network, open_network
from hub.partners.runs import RunCounts, finish_run, start_run
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.runs import record_rejects
from hub.store.tables import events, outbox
from hub.sync.outbox import OutboxItem, enqueue
from tests.api_support import make_tenant, serving
from tests.factories import case_event, register_network

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "operator-secret-for-tests-0123456789"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def network() -> Network:
    return open_network(ROOT / "connectors.yaml")


@pytest.fixture(autouse=True)
def operator_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def _samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _activity(database: Database) -> None:
    """Runs of two connectors, rejects, events (one unmapped) and a dead letter."""
    register_network(database)
    start = datetime.now(UTC) - timedelta(hours=1)
    for minutes, error in ((0, None), (15, None), (30, "sftp: connection refused")):
        run_id = start_run(
            database, "atelier-dupont-status", now=start + timedelta(minutes=minutes)
        )
        finish_run(
            database,
            run_id,
            RunCounts(records_read=10, rejected=1),
            error=FatalError(error) if error else None,
            now=start + timedelta(minutes=minutes, seconds=5),
        )
    run_id = start_run(database, "techniservice-changes", now=start)
    finish_run(database, run_id, RunCounts(), now=start + timedelta(seconds=2))
    start_run(database, "colis-express-parcels")  # still running
    problem = PartnerDataError("bad date", location=Location("S.csv", line=2), raw="x;y")
    with database.transaction() as connection:
        record_rejects(
            connection,
            "atelier-dupont-status",
            [problem, problem],
            run_id=None,
            message_id=None,
            now=start,
        )
        append_events(
            connection,
            [
                case_event("received", start, code="REC"),
                case_event(None, start + timedelta(minutes=1), code="ZZ9"),
            ],
        )
        ids = enqueue(
            connection, [OutboxItem("colis-express-pickups", "pickup", f"k{n}", {}) for n in (1, 2)]
        )
        connection.execute(update(outbox).where(outbox.c.id == ids[0]).values(state="dead"))


def test_the_figures_agree_with_the_run_records(database: Database, network: Network) -> None:
    _activity(database)
    pause_connector(database, "pieces-plus-answers", reason="supplier asked", by="ops")
    before = network_status(database, network).connector("atelier-dupont-status")
    with serving(create_app(database, network)) as base:
        answer = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    after = network_status(database, network).connector("atelier-dupont-status")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = _samples(answer.text)

    runs = recent_runs(database, "atelier-dupont-status")
    for outcome in ("succeeded", "failed"):
        expected = sum(1 for run in runs if run.outcome.value == outcome)
        assert (
            _value(
                samples,
                "hub_connector_runs_total",
                connector="atelier-dupont-status",
                outcome=outcome,
            )
            == expected
        )
    assert _value(samples, "hub_connector_runs_running", connector="colis-express-parcels") == 1
    with database.transaction() as connection:
        stored = connection.execute(select(func.count()).select_from(events)).scalar_one()
    assert _value(samples, "hub_events_stored_total") == stored == 2
    assert _value(samples, "hub_events_unmapped") == 1
    assert _value(samples, "hub_unmapped_codes", reported_by="atelier-dupont") == 1
    assert _value(samples, "hub_rejects_total", connector="atelier-dupont-status") == 2
    assert _value(samples, "hub_outbox_messages", state="pending") == 1
    assert _value(samples, "hub_outbox_messages", state="dead") == 1
    assert _value(samples, "hub_dead_letters", target="colis-express-pickups") == 1

    labels = {"connector": "atelier-dupont-status", "partner": "atelier-dupont", "direction": "in"}
    assert before.lag is not None
    assert after.lag is not None
    lag = _value(samples, "hub_connector_lag_seconds", **labels)
    assert before.lag.total_seconds() <= lag <= after.lag.total_seconds()
    assert _value(samples, "hub_connector_failing", **labels) == 1
    assert _value(samples, "hub_connector_consecutive_failures", **labels) == 1
    assert _value(samples, "hub_connector_paused", **labels) == 0
    assert _value(samples, "hub_connector_state", state="failing", **labels) == 1
    supplier = {"connector": "pieces-plus-answers", "partner": "pieces-plus", "direction": "in"}
    assert _value(samples, "hub_connector_paused", **supplier) == 1
    assert ("hub_connector_lag_seconds", tuple(sorted(supplier.items()))) not in samples, (
        "no lag for a connector that never succeeded"
    )


def test_two_apps_on_one_database_report_the_same(database: Database, network: Network) -> None:
    _activity(database)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serving(create_app(database, network)) as one, serving(create_app(database)) as two:
        first = _samples(httpx.get(f"{one}/metrics", headers=headers).text)
        second = _samples(httpx.get(f"{two}/metrics", headers=headers).text)
    shared = {key for key in second if not key[0].startswith("hub_connector_") or "runs" in key[0]}
    assert shared, "the store's figures are there without a network"
    assert {key: first[key] for key in shared} == {key: second[key] for key in shared}


def test_only_the_operator_credential_opens_metrics(database: Database, network: Network) -> None:
    register_network(database)
    retailer = make_tenant(database, "maison-electro", "Maison Électro", "ME-")
    with serving(create_app(database, network)) as base:
        anonymous = httpx.get(f"{base}/metrics")
        with_key = httpx.get(f"{base}/metrics", headers=retailer.headers)
        wrong = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer not-the-token"})
        document = httpx.get(f"{base}/v1/openapi.json").json()
    for refused in (anonymous, with_key, wrong):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert "hub_" not in refused.text
    assert "/metrics" not in document["paths"]


def test_closed_when_no_operator_credential_is_configured(
    database: Database, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    with serving(create_app(database, network)) as base:
        answer = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 401


def test_wrong_bearers_are_throttled_and_then_even_the_right_one_waits(
    database: Database, network: Network
) -> None:
    wrong = {"Authorization": "Bearer not-the-token"}
    right = {"Authorization": f"Bearer {TOKEN}"}
    with serving(create_app(database, network)) as base:
        refused = [httpx.get(f"{base}/metrics", headers=wrong) for _ in range(FAILURES_ALLOWED)]
        held = httpx.get(f"{base}/metrics", headers=right)
        console = httpx.get(f"{base}/console", headers=right, follow_redirects=False)
    assert [answer.status_code for answer in refused] == [401] * FAILURES_ALLOWED
    assert held.status_code == 429
    assert held.headers["content-type"] == "application/problem+json"
    assert held.json()["type"] == "urn:aftersales-hub:problem:too-many-requests"
    assert 0 < int(held.headers["retry-after"]) <= 15 * 60
    assert "hub_" not in held.text
    assert console.status_code == 429, "the console's header is held by the same throttle"
    assert "retry-after" in console.headers


def test_the_login_form_and_the_header_count_against_one_throttle(
    database: Database, network: Network
) -> None:
    with serving(create_app(database, network)) as base:
        for _ in range(3):
            form = httpx.post(f"{base}/console/login", data={"token": "guess"})
            assert form.status_code == 401
        for _ in range(FAILURES_ALLOWED - 3):
            header = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer guess"})
            assert header.status_code == 401
        metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        login = httpx.post(f"{base}/console/login", data={"token": TOKEN}, follow_redirects=False)
    assert metrics.status_code == 429
    assert login.status_code == 429


def test_a_right_bearer_clears_the_failures_before_it(database: Database, network: Network) -> None:
    with serving(create_app(database, network)) as base:
        for _ in range(FAILURES_ALLOWED - 1):
            httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer typo"})
        assert (
            httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
            == 200
        )
        again = [
            httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer typo"}).status_code
            for _ in range(FAILURES_ALLOWED - 1)
        ]
    assert again == [401] * (FAILURES_ALLOWED - 1)


def test_a_console_session_cookie_never_opens_metrics(database: Database, network: Network) -> None:
    with serving(create_app(database, network)) as base:
        login = httpx.post(f"{base}/console/login", data={"token": TOKEN}, follow_redirects=False)
        assert login.status_code == 303
        cookie = login.cookies[SESSION_COOKIE]
        console = httpx.get(f"{base}/console", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
        metrics = httpx.get(f"{base}/metrics", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert console.status_code == 200, "the session is good for the console"
    assert metrics.status_code == 401
    assert "hub_" not in metrics.text
