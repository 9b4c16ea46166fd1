"""The operator console over plain HTTP: who gets in, forms that must come from it, escaping.

The browser tests (test_console_browser.py) drive the same pages in Chromium; these check
what a browser hides: status codes, cookies, headers, and what a forged request gets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hub.api import create_app
from hub.api.operator_auth import SESSION_COOKIE, TOKEN_ENV
from hub.api.throttle import FAILURES_ALLOWED
from hub.errors import FatalError, Location, PartnerDataError, TransientError
from hub.model import Event, EventType, stable_event_id
from hub.partners.connectors import Network, open_network
from hub.partners.push import push_window
from hub.partners.runs import RunCounts, finish_run, start_run
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.runs import push_window_run, record_rejects
from hub.store.tables import console_sessions, outbox
from hub.sync.outbox import Dispatcher, OutboxItem, OutboxRow, enqueue
from tests.api_support import Tenant, make_tenant
from tests.factories import PARIS_WINTER, case_event, make_case, register_network

OPERATOR_TOKEN = "op-" + "7f3a9c1e5b2d4068a1c3e5f7b9d1f3a5"
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
REPO = Path(__file__).resolve().parent.parent
FAILING = "techniservice-changes"
REJECTING = "atelier-dupont-status"


T0 = (datetime.now(PARIS_WINTER) - timedelta(days=60)).replace(
    hour=9, minute=0, second=0, microsecond=0
)
"""Sixty days ago: the case is past the 30-day legal rule whatever day the tests run."""


@dataclass(frozen=True)
class Scenario:
    """A small network with something to see on every page."""

    database: Database
    network: Network
    retailer: Tenant
    case_ref: str
    dead_letter: int


def seed(database: Database) -> Scenario:
    """One case across three parties (one code unmapped, one label hostile), a connector
    failing three runs in a row, one with a rejected line, and a dead letter."""
    register_network(database)
    retailer = make_tenant(database, "maison-electro", "Maison Électro", "ME-")
    now = datetime.now(UTC)
    with database.transaction() as connection:
        case = make_case(
            "ME-000123",
            references=[{"party": "atelier-dupont", "reference": "DUP-0042"}],
            opened_at=T0 - timedelta(days=2),
        )
        open_case(connection, case, now=now)
        unknown = Event(
            id=stable_event_id(
                reported_by="atelier-dupont",
                case_ref="ME-000123",
                type=EventType.CASE_STATUS,
                raw_code="ZZ9",
                occurred_at=T0 + timedelta(hours=5),
            ),
            case_ref="ME-000123",
            type=EventType.CASE_STATUS,
            status=None,
            occurred_at=T0 + timedelta(hours=5),
            reported_by="atelier-dupont",
            raw_code="ZZ9",
            raw_label=HOSTILE,
        )
        append_events(
            connection,
            [
                case_event("received", T0, by="atelier-dupont", code="REC"),
                case_event("diagnosing", T0 + timedelta(hours=2), by="atelier-dupont", code="DIA"),
                unknown,
                case_event(
                    "in_transit_to_repairer",
                    T0 - timedelta(days=1),
                    by="colis-express",
                    code="PICKED_UP",
                ),
            ],
            now=now,
        )
    for minutes in (30, 20, 10):
        run = start_run(database, FAILING, now=now - timedelta(minutes=minutes))
        finish_run(
            database,
            run,
            RunCounts(),
            error=TransientError("TechniService answered 503 Service Unavailable"),
            now=now - timedelta(minutes=minutes - 1),
        )
    run = start_run(database, REJECTING, now=now - timedelta(minutes=5))
    problem = PartnerDataError(
        "date '31/02/2026' is not a day of the calendar",
        location=Location("STATUTS_20261103.csv", line=4, field="date_statut"),
        raw=f"DUP-0042;REC;31/02/2026;{HOSTILE}",
    )
    with database.transaction() as connection:
        record_rejects(connection, REJECTING, [problem], run_id=run, message_id=None, now=now)
    finish_run(
        database,
        run,
        RunCounts(messages_seen=1, messages_read=1, records_read=3, events_stored=2, rejected=1),
        now=now - timedelta(minutes=4),
    )
    with database.transaction() as connection:
        (letter,) = enqueue(
            connection,
            [
                OutboxItem(
                    target="maison-electro",
                    kind="webhook",
                    idempotency_key="console-test-webhook-1",
                    payload={"case": "ME-000123"},
                    case_ref="ME-000123",
                )
            ],
            now=now - timedelta(hours=1),
        )

    def refuse(message: OutboxRow) -> None:
        raise FatalError("receiver answered 410 Gone")

    Dispatcher(database, refuse, owner="console-test").run_until_idle()  # type: ignore[arg-type]
    return Scenario(database, open_network(REPO / "connectors.yaml"), retailer, "ME-000123", letter)


@pytest.fixture
def operator_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, OPERATOR_TOKEN)
    return OPERATOR_TOKEN


@pytest.fixture
def scenario(database: Database, operator_token: str) -> Scenario:
    return seed(database)


@pytest.fixture
def client(scenario: Scenario) -> Iterator[TestClient]:
    with TestClient(create_app(scenario.database, scenario.network)) as test_client:
        yield test_client


def log_in(client: TestClient) -> None:
    answer = client.post(
        "/console/login",
        data={"token": OPERATOR_TOKEN, "next": "/console"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, "the page has no CSRF token"
    return match.group(1)


def message_state(database: Database, message_id: int) -> str:
    with database.transaction() as connection:
        return str(
            connection.execute(select(outbox.c.state).where(outbox.c.id == message_id)).scalar_one()
        )


PAGES = [
    "/console",
    "/console/connectors/atelier-dupont-status",
    "/console/cases",
    "/console/cases/ME-000123",
    "/console/unmapped",
    "/console/breaches",
    "/console/dead-letters",
]


@pytest.mark.parametrize("path", PAGES)
def test_without_a_credential_every_page_sends_to_the_login(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/login?next={path}"
    assert "ME-000123" not in answer.text


@pytest.mark.parametrize("path", PAGES)
def test_a_retailer_key_never_opens_the_console(
    client: TestClient, scenario: Scenario, path: str
) -> None:
    answer = client.get(path, headers=scenario.retailer.headers, follow_redirects=False)
    assert answer.status_code == 403
    assert "retailer" in answer.text
    assert "ME-000123" not in answer.text


def test_a_retailer_key_in_the_login_form_gets_no_session(
    client: TestClient, scenario: Scenario
) -> None:
    answer = client.post(
        "/console/login", data={"token": scenario.retailer.token}, follow_redirects=False
    )
    assert answer.status_code == 401
    assert "not the operator credential" in answer.text
    assert SESSION_COOKIE not in answer.cookies
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_an_address_that_keeps_guessing_must_wait_even_with_the_right_token(
    client: TestClient,
) -> None:
    for _ in range(FAILURES_ALLOWED):
        wrong = client.post("/console/login", data={"token": "guess"}, follow_redirects=False)
        assert wrong.status_code == 401
    held = client.post("/console/login", data={"token": OPERATOR_TOKEN}, follow_redirects=False)
    assert held.status_code == 429
    assert 0 < int(held.headers["retry-after"]) <= 15 * 60
    assert "Too many failed logins" in held.text
    assert SESSION_COOKIE not in held.cookies
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_success_forgets_the_failures_before_it(client: TestClient) -> None:
    for _ in range(FAILURES_ALLOWED - 1):
        client.post("/console/login", data={"token": "typo"}, follow_redirects=False)
    log_in(client)
    for _ in range(FAILURES_ALLOWED - 1):
        again = client.post("/console/login", data={"token": "typo"}, follow_redirects=False)
        assert again.status_code == 401


def test_login_sets_a_strict_http_only_session_cookie_and_logout_ends_it(
    client: TestClient,
) -> None:
    answer = client.post(
        "/console/login",
        data={"token": OPERATOR_TOKEN, "next": "/console/dead-letters"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/dead-letters"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert OPERATOR_TOKEN not in cookie  # an HMAC of the token, never the token
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    page = client.get("/console/dead-letters")
    assert page.status_code == 200
    assert "Dead letters" in page.text

    gone = client.post(
        "/console/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_login_never_redirects_off_the_console(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/console", "/v1/cases"):
        answer = client.post(
            "/console/login",
            data={"token": OPERATOR_TOKEN, "next": target},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/console"


def test_the_operator_token_as_a_bearer_opens_the_pages(client: TestClient) -> None:
    answer = client.get(
        "/console/dead-letters", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    assert answer.status_code == 200
    assert "receiver answered 410 Gone" in answer.text


def test_with_no_token_configured_the_console_is_closed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    login = client.get("/console/login")
    assert "The console is closed" in login.text
    answer = client.post("/console/login", data={"token": ""}, follow_redirects=False)
    assert answer.status_code == 401
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_replay_without_the_csrf_token_is_refused_and_changes_nothing(
    client: TestClient, scenario: Scenario
) -> None:
    log_in(client)
    path = f"/console/dead-letters/{scenario.dead_letter}/replay"
    for data in ({}, {"csrf_token": "1700000000.deadbeef"}, {"csrf_token": "garbage"}):
        answer = client.post(path, data=data, follow_redirects=False)
        assert answer.status_code == 403
        assert "CSRF" in answer.text
    assert message_state(scenario.database, scenario.dead_letter) == "dead"


def test_a_csrf_token_from_another_credential_is_refused(
    client: TestClient, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token issued under an earlier operator credential dies with it."""
    log_in(client)
    stale = csrf_of(client.get("/console/dead-letters").text)
    monkeypatch.setenv(TOKEN_ENV, OPERATOR_TOKEN + "-rotated")
    client.cookies.clear()
    client.post("/console/login", data={"token": OPERATOR_TOKEN + "-rotated"})
    answer = client.post(
        f"/console/dead-letters/{scenario.dead_letter}/replay",
        data={"csrf_token": stale},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert message_state(scenario.database, scenario.dead_letter) == "dead"


def test_replay_and_discard_with_the_page_token(client: TestClient, scenario: Scenario) -> None:
    log_in(client)
    token = csrf_of(client.get("/console/dead-letters").text)
    answer = client.post(
        f"/console/dead-letters/{scenario.dead_letter}/replay", data={"csrf_token": token}
    )
    assert answer.status_code == 200
    assert f"Message {scenario.dead_letter} is pending again" in answer.text
    assert message_state(scenario.database, scenario.dead_letter) == "pending"

    again = client.post(
        f"/console/dead-letters/{scenario.dead_letter}/replay", data={"csrf_token": token}
    )
    assert "is pending, not dead" in again.text

    discarded = client.post(
        f"/console/dead-letters/{scenario.dead_letter}/discard", data={"csrf_token": token}
    )
    assert f"Message {scenario.dead_letter} was discarded" in discarded.text
    assert message_state(scenario.database, scenario.dead_letter) == "discarded"


def test_partner_text_is_escaped_on_every_page_that_shows_it(client: TestClient) -> None:
    log_in(client)
    for path in ("/console/cases/ME-000123", f"/console/connectors/{REJECTING}"):
        html = client.get(path).text
        assert "<script>" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html


def test_pages_run_only_the_consoles_own_scripts_and_forbid_framing(client: TestClient) -> None:
    log_in(client)
    answer = client.get("/console")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"  # the charts' files: nothing inline, no eval
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["cache-control"] == "no-store"


def test_the_console_stays_out_of_the_retailer_openapi_document(client: TestClient) -> None:
    document = client.get("/v1/openapi.json").json()
    assert not [path for path in document["paths"] if path.startswith("/console")]


def test_a_case_is_found_by_a_partner_reference_prefix_too(
    client: TestClient, scenario: Scenario
) -> None:
    log_in(client)
    exact = client.get("/console/cases", params={"q": "me-000123"}, follow_redirects=False)
    assert exact.status_code == 303
    assert exact.headers["location"] == "/console/cases/ME-000123"
    for prefix in ("ME-0001", "dup-00"):
        listed = client.get("/console/cases", params={"q": prefix})
        assert 'href="/console/cases/ME-000123"' in listed.text
    missing = client.get("/console/cases/ME-999999")
    assert missing.status_code == 404
    assert "No case has the reference ME-999999." in missing.text


def test_the_health_page_flags_the_failing_connector(client: TestClient) -> None:
    log_in(client)
    html = client.get("/console").text
    row = html[html.index(f'data-connector="{FAILING}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="state failing">failing</span>' in row
    assert "3 failed runs in a row" in row
    assert "TechniService answered 503 Service Unavailable" in row


def test_pause_and_resume_need_the_csrf_token(client: TestClient, scenario: Scenario) -> None:
    log_in(client)
    path = f"/console/connectors/{FAILING}"
    forged = client.post(f"{path}/pause", data={"reason": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    token = csrf_of(client.get(path).text)
    paused = client.post(
        f"{path}/pause", data={"csrf_token": token, "reason": "<b>maintenance</b>"}
    )
    assert "The connector is paused" in paused.text
    assert "&lt;b&gt;maintenance&lt;/b&gt;" in paused.text
    assert '<span class="state paused">paused</span>' in client.get("/console").text
    resumed = client.post(f"{path}/resume", data={"csrf_token": token})
    assert "The connector is resumed" in resumed.text
    again = client.post(f"{path}/resume", data={"csrf_token": token})
    assert "is not paused" in again.text


def test_breaches_list_the_late_steps_of_open_cases(client: TestClient) -> None:
    """The case was opened 62 days ago under the legal conformity warranty: it breaches
    the 30-day rule, whatever day the test runs."""
    log_in(client)
    html = client.get("/console/breaches").text
    assert 'href="/console/cases/ME-000123"' in html
    assert "legal conformity: back in conformity within 30 days" in html
    assert "still running" in html
    other = client.get("/console/breaches", params={"retailer": "bricomarket"}).text
    assert "ME-000123" not in other
    assert "No open case is past a deadline." in other
    case = client.get("/console/cases/ME-000123").text
    assert "received → diagnosis" in case
    assert '<span class="state ok">met' in case
    assert '<span class="state failing">breached' in case


# --- issue 11: one throttle for the header too; sessions kept server-side -----------------


def test_wrong_bearers_on_the_console_are_throttled_like_wrong_logins(
    client: TestClient,
) -> None:
    for _ in range(FAILURES_ALLOWED):
        wrong = client.get("/console", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 403
    held = client.get("/console", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert held.status_code == 429
    assert 0 < int(held.headers["retry-after"]) <= 15 * 60
    assert "ME-000123" not in held.text
    login = client.post("/console/login", data={"token": OPERATOR_TOKEN}, follow_redirects=False)
    assert login.status_code == 429, "the login form shares the throttle"


def test_every_login_gets_its_own_random_session(client: TestClient) -> None:
    values = set()
    for _ in range(3):
        answer = client.post(
            "/console/login", data={"token": OPERATOR_TOKEN}, follow_redirects=False
        )
        values.add(answer.cookies[SESSION_COOKIE])
    assert len(values) == 3
    assert all(len(value) >= 43 for value in values), "256 random bits"


def _session_cookie(client: TestClient) -> str:
    answer = client.post("/console/login", data={"token": OPERATOR_TOKEN}, follow_redirects=False)
    assert answer.status_code == 303
    client.cookies.clear()
    return answer.cookies[SESSION_COOKIE]


def _opens(client: TestClient, cookie: str) -> bool:
    answer = client.get(
        "/console", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, follow_redirects=False
    )
    return answer.status_code == 200


def test_a_cookie_replayed_after_logout_opens_nothing(client: TestClient) -> None:
    cookie = _session_cookie(client)
    other = _session_cookie(client)
    page = client.get("/console/dead-letters", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    gone = client.post(
        "/console/logout",
        data={"csrf_token": csrf_of(page.text)},
        headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert not _opens(client, cookie), "revoked server-side, not only deleted in the browser"
    assert _opens(client, other), "another session lives on"


def test_a_csrf_token_of_one_session_is_refused_in_another(
    client: TestClient, scenario: Scenario
) -> None:
    first = _session_cookie(client)
    second = _session_cookie(client)
    token = csrf_of(
        client.get("/console/dead-letters", headers={"Cookie": f"{SESSION_COOKIE}={first}"}).text
    )
    answer = client.post(
        f"/console/dead-letters/{scenario.dead_letter}/replay",
        data={"csrf_token": token},
        headers={"Cookie": f"{SESSION_COOKIE}={second}"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert message_state(scenario.database, scenario.dead_letter) == "dead"


def _age_session(database: Database, *, idle: timedelta, since_login: timedelta) -> None:
    """Move every stored session back in time, as if the clock had run on."""
    now = datetime.now(UTC)
    with database.transaction() as connection:
        connection.execute(
            update(console_sessions).values(
                last_seen_at=now - idle, expires_at=now + DEFAULT_LIFETIME - since_login
            )
        )


DEFAULT_LIFETIME = timedelta(hours=12)
DEFAULT_IDLE = timedelta(minutes=30)


def test_a_session_ends_when_unused_for_the_idle_lifetime(
    client: TestClient, scenario: Scenario
) -> None:
    cookie = _session_cookie(client)
    _age_session(
        scenario.database, idle=DEFAULT_IDLE - timedelta(minutes=1), since_login=DEFAULT_IDLE
    )
    assert _opens(client, cookie), "used 29 minutes ago: still alive, and seen again now"
    assert _opens(client, cookie)
    _age_session(
        scenario.database, idle=DEFAULT_IDLE + timedelta(seconds=1), since_login=DEFAULT_IDLE
    )
    assert not _opens(client, cookie)


def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    client: TestClient, scenario: Scenario
) -> None:
    cookie = _session_cookie(client)
    _age_session(scenario.database, idle=timedelta(0), since_login=DEFAULT_LIFETIME)
    assert not _opens(client, cookie)


def test_the_lifetimes_come_from_the_environment(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_CONSOLE_SESSION_MAX", "2h")
    with TestClient(create_app(scenario.database, scenario.network)) as short:
        answer = short.post(
            "/console/login", data={"token": OPERATOR_TOKEN}, follow_redirects=False
        )
    assert "Max-Age=7200" in answer.headers["set-cookie"]
    with scenario.database.transaction() as connection:
        row = connection.execute(select(console_sessions)).one()
    assert row.expires_at - row.created_at == timedelta(hours=2)


def test_a_session_ends_when_the_operator_credential_changes(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = _session_cookie(client)
    monkeypatch.setenv(TOKEN_ENV, OPERATOR_TOKEN + "-rotated")
    assert not _opens(client, cookie)
    monkeypatch.setenv(TOKEN_ENV, OPERATOR_TOKEN)
    assert _opens(client, cookie), "the same credential back: the session was never revoked"


def test_two_hub_processes_on_one_database_agree_on_sessions(scenario: Scenario) -> None:
    with (
        TestClient(create_app(scenario.database, scenario.network)) as one,
        TestClient(create_app(scenario.database, scenario.network)) as two,
    ):
        cookie = _session_cookie(one)
        assert _opens(two, cookie)
        page = two.get("/console/dead-letters", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
        two.post(
            "/console/logout",
            data={"csrf_token": csrf_of(page.text)},
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
        )
        assert not _opens(one, cookie), "logged out on one process, refused on the other"


def test_the_database_keeps_only_a_hash_of_the_session_id(
    client: TestClient, scenario: Scenario
) -> None:
    cookie = _session_cookie(client)
    with scenario.database.transaction() as connection:
        rows = connection.execute(select(console_sessions)).all()
    assert len(rows) == 1
    assert cookie not in {str(value) for value in rows[0]}
    assert OPERATOR_TOKEN not in {str(value) for value in rows[0]}


# ------------------------------------------------------------------ rough edges (#16)


def test_counts_agree_with_their_nouns(client: TestClient) -> None:
    log_in(client)
    unmapped = client.get("/console/unmapped").text
    assert '<span class="count">1 event</span>' in unmapped, "one unmapped event, not 1 events"
    case = client.get("/console/cases/ME-000123").text
    assert '<span class="count">5 events</span>' in case, "its creation and four reports"
    health = client.get("/console").text
    assert '<div class="caption">dead letter →</div>' in health, "one dead letter"
    assert '<div class="caption">case open →</div>' in health, "one case open"
    assert '<div class="caption">unmapped code to fix →</div>' in health


def test_the_health_page_speaks_english_with_the_french_label_named_so(
    client: TestClient,
) -> None:
    log_in(client)
    health = client.get("/console").text
    assert "Libellé" not in health
    assert "<th>French label</th>" in health


def test_references_never_fold_at_their_hyphen(client: TestClient) -> None:
    log_in(client)
    assert ".ref { white-space: nowrap; }" in client.get("/console/static/console.css").text
    assert 'class="ref">ME-000123<' in client.get("/console/cases", params={"q": "ME-0001"}).text
    assert '<span class="ref">ME-000123</span>' in client.get("/console/cases/ME-000123").text
    assert 'class="ref">ME-000123<' in client.get("/console/dead-letters").text
    assert '<span class="mono ref">DUP-0042</span>' in client.get("/console/cases/ME-000123").text


def test_a_reference_in_lower_case_opens_its_case_as_the_cli_reads_it(
    client: TestClient,
) -> None:
    log_in(client)
    lower = client.get("/console/cases/me-000123", follow_redirects=False)
    assert lower.status_code == 303
    assert lower.headers["location"] == "/console/cases/ME-000123"
    assert client.get("/console/cases/me-404").status_code == 404


def test_a_failed_login_keeps_the_page_asked_for(client: TestClient) -> None:
    asked = "/console/cases?q=ME-0001"
    sent = client.get(asked, follow_redirects=False)
    assert sent.status_code == 303
    form = client.get(sent.headers["location"]).text
    action = re.search(r'<form method="post" action="([^"]+)"', form)
    assert action is not None
    wrong = client.post(
        action.group(1).replace("&amp;", "&"), data={"token": "typo"}, follow_redirects=False
    )
    assert wrong.status_code == 401
    assert f'name="next" value="{asked}"' in wrong.text, "the failed login still knows it"
    # Without the hidden field (a form re-sent by hand), the address still carries it.
    again = client.post(
        action.group(1).replace("&amp;", "&"),
        data={"token": OPERATOR_TOKEN},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert again.headers["location"] == asked


def test_a_form_posted_after_the_session_ended_leads_back_to_its_page(
    client: TestClient,
) -> None:
    page = f"/console/connectors/{FAILING}"
    posted = client.post(
        f"{page}/pause",
        data={"reason": "maintenance"},
        headers={"referer": f"http://testserver{page}"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/console/login?next={page}"
    elsewhere = client.post(
        f"{page}/pause",
        data={"reason": "maintenance"},
        headers={"referer": "https://evil.example/console/x"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/console/login?next=/console"


def test_a_pause_needs_a_reason_in_the_console_as_in_the_cli(
    client: TestClient, scenario: Scenario
) -> None:
    log_in(client)
    path = f"/console/connectors/{FAILING}"
    form = client.get(path).text
    assert 'aria-label="Reason" maxlength="300" required>' in form
    refused = client.post(f"{path}/pause", data={"csrf_token": csrf_of(form), "reason": "   "})
    assert refused.status_code == 200
    assert "needs a reason" in refused.text
    assert "The connector is paused" not in refused.text
    assert '<span class="state paused">paused</span>' not in client.get("/console").text


def test_a_message_waiting_for_a_dead_letter_says_so_there_and_on_its_cases_messages(
    client: TestClient, scenario: Scenario
) -> None:
    with scenario.database.transaction() as connection:
        (waiting,) = enqueue(
            connection,
            [
                OutboxItem(
                    target="atelier-dupont-orders",
                    kind="repair_order",
                    idempotency_key="console-test-order-1",
                    payload={},
                    case_ref="ME-000123",
                    after="console-test-webhook-1",
                )
            ],
        )
    log_in(client)
    page = client.get("/console/cases/ME-000123/messages").text
    row = page[page.index(f'id="message-{waiting}"') :].split("</tr>")[0]
    assert f'once <a href="#message-{scenario.dead_letter}">#{scenario.dead_letter}</a>' in row
    assert "is delivered" in row
    letters = client.get("/console/dead-letters").text
    dead = letters[letters.index(f'id="message-{scenario.dead_letter}"') :].split("</tr>")[0]
    assert f"holds back #{waiting} repair_order to atelier-dupont-orders" in dead


def test_the_runs_page_flags_an_hour_of_pushes(client: TestClient, scenario: Scenario) -> None:
    now = datetime.now(UTC)
    with scenario.database.transaction() as connection:
        window = push_window_run(connection, "colis-express-push", push_window(now), now)
    log_in(client)
    page = client.get("/console/runs?connector=colis-express-push&show=all")
    assert page.status_code == 200
    row = re.search(rf'<tr data-run="{window}".*?</tr>', page.text, re.S)
    assert row is not None, "the hour's record is listed"
    assert '<span class="flag" title="the pushes of the hour from' in row.group(0)
