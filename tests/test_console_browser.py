"""The operator console in a real browser: Debian's Chromium driven by Playwright.

The hub's own application is served by uvicorn on loopback, over the same seeded network
as the HTTP tests (tests.test_console.seed). Each page is kept as a screenshot in
test-artifacts/screenshots/ for a person to look at. Never ``playwright install``: the
browser is the system's, and the tests skip, saying why, when it is not there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from hub.api import create_app
from hub.model.statuses import CaseStatus
from hub.operators.times import shown
from hub.store.db import Database
from tests.api_support import serving
from tests.test_console import (
    FAILING,
    HOSTILE,
    OPERATOR_TOKEN,
    REJECTING,
    REPO,
    T0,
    Scenario,
    message_state,
    seed,
)

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) "
    "to run the console's browser tests",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def scenario(database: Database, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    monkeypatch.setenv("HUB_OPERATOR_TOKEN", OPERATOR_TOKEN)
    return seed(database)


@pytest.fixture
def base_url(scenario: Scenario) -> Iterator[str]:
    with serving(create_app(scenario.database, scenario.network)) as url:
        yield url


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    fresh = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A tab that fails the test if any script ever runs a dialog (escaping broke)."""
    tab = context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    assert dialogs == [], f"a partner's text ran as script: {dialogs}"


def shot(page: Page, scenario: Scenario, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{scenario.database.dialect}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, base_url: str, *, start: str = "/console") -> None:
    page.goto(base_url + start)
    expect(page.get_by_role("heading", name="Operator login")).to_be_visible()
    page.get_by_label("Operator token").fill(OPERATOR_TOKEN)
    page.get_by_role("button", name="Log in").click()


def test_login_then_network_health_flags_the_failing_connector(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url)
    expect(page.get_by_role("heading", name="Network health")).to_be_visible()
    assert page.url == base_url + "/console"
    failing = page.locator(f'tr[data-connector="{FAILING}"]')
    expect(failing.locator(".state.failing")).to_have_text("failing")
    expect(failing).to_contain_text("3 failed runs in a row")
    expect(failing).to_contain_text("TechniService answered 503")
    rejecting = page.locator(f'tr[data-connector="{REJECTING}"]')
    expect(rejecting.locator(".state").first).to_have_text("ok")
    expect(rejecting).to_contain_text("1 rejected row in the last run")
    expect(page.locator(".tile").filter(has_text="dead letter →")).to_contain_text("1")
    expect(page.get_by_text(CaseStatus.DIAGNOSING.label.fr)).to_be_visible()
    shot(page, scenario, "network-health")


def test_the_health_page_refreshes_itself_on_a_wall_screen(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url)
    assert page.locator('meta[http-equiv="refresh"]').count() == 0, "off by default"
    page.get_by_label("Auto-refresh").select_option("60")
    page.get_by_role("button", name="Set").click()
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_attribute("content", "60")
    expect(page.get_by_label("Auto-refresh")).to_have_value("60")
    assert page.url == base_url + "/console?refresh=60"
    page.goto(base_url + "/console?refresh=5")
    assert page.locator('meta[http-equiv="refresh"]').count() == 0, "only the offered choices"


def test_a_connectors_page_shows_its_runs_and_rejects_with_the_raw_line(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url)
    page.get_by_role("link", name=REJECTING).click()
    expect(page.get_by_role("heading", name=REJECTING)).to_be_visible()
    reject = page.locator("table.rejects tbody tr").first
    expect(reject).to_contain_text("STATUTS_20261103.csv")
    expect(reject).to_contain_text("date_statut")
    expect(reject).to_contain_text("is not a day of the calendar")
    expect(reject.locator("td.num")).to_have_text("4")
    expect(reject.locator("pre.raw")).to_have_text(f"DUP-0042;REC;31/02/2026;{HOSTILE}")
    expect(page.locator("img")).to_have_count(0)  # the hostile <img> stayed text
    shot(page, scenario, "connector-rejects")

    page.goto(f"{base_url}/console/connectors/{FAILING}")
    expect(page.locator("table tbody tr.row-bad")).to_have_count(3)
    page.get_by_placeholder("Why").fill("TechniService maintenance")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("The connector is paused")
    expect(page.locator(".pagehead .state")).to_have_text("paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("status")).to_contain_text("The connector is resumed")
    shot(page, scenario, "connector-runs")


def test_a_case_timeline_across_all_parties(page: Page, base_url: str, scenario: Scenario) -> None:
    log_in(page, base_url)
    search = page.get_by_role("searchbox", name="Case reference")
    search.fill("me-000123")
    search.press("Enter")
    expect(page.get_by_role("heading", name="Case ME-000123")).to_be_visible()
    rows = page.locator("table.timeline tbody tr")
    expect(rows).to_have_count(5)  # opened, picked up, received, diagnosing, unknown code
    expect(rows.nth(0)).to_contain_text("Maison Électro")
    expect(rows.nth(1)).to_contain_text("ColisExpress")
    expect(rows.nth(1)).to_contain_text("PICKED_UP")
    # The partner wrote +01:00; the console writes every time in the operators' zone.
    picked_up = shown(T0 - timedelta(days=1), ZoneInfo("Europe/Paris"))
    expect(rows.nth(1)).to_contain_text(picked_up)
    expect(rows.nth(1)).not_to_contain_text("+01:00")
    expect(rows.nth(3)).to_contain_text("diagnosing")
    expect(rows.nth(3)).to_contain_text(CaseStatus.DIAGNOSING.label.fr)
    unknown = rows.nth(4)
    expect(unknown).to_have_class("row-warn")
    expect(unknown).to_contain_text("unmapped")
    expect(unknown).to_contain_text("ZZ9")
    expect(unknown).to_contain_text(HOSTILE)
    expect(page.get_by_text("Atelier Dupont Réparation: DUP-0042")).to_be_visible()
    shot(page, scenario, "case-timeline")


def test_unmapped_codes_grouped_by_party(page: Page, base_url: str, scenario: Scenario) -> None:
    log_in(page, base_url)
    page.get_by_role("link", name="Unmapped", exact=True).click()
    expect(page.get_by_role("heading", name="Atelier Dupont Réparation")).to_be_visible()
    row = page.locator("table tbody tr").filter(has_text="ZZ9")
    expect(row.locator("td.num")).to_have_text("1")
    row.get_by_role("link", name="ME-000123").click()
    expect(page.get_by_role("heading", name="Case ME-000123")).to_be_visible()
    page.go_back()
    shot(page, scenario, "unmapped-codes")


def test_a_dead_letter_is_replayed_by_its_button(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url, start="/console/dead-letters")
    expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    row = page.locator(f"#message-{scenario.dead_letter}")
    expect(row).to_contain_text("receiver answered 410 Gone")
    shot(page, scenario, "dead-letters")
    row.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Message {scenario.dead_letter} is pending again: "
        "the dispatcher sends it on its next round."
    )
    expect(page.locator(f"#message-{scenario.dead_letter}")).to_have_count(0)
    assert message_state(scenario.database, scenario.dead_letter) == "pending"
    shot(page, scenario, "dead-letter-replayed")


def test_without_a_credential_the_console_shows_the_login(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    page.goto(base_url + "/console/dead-letters")
    expect(page.get_by_role("heading", name="Operator login")).to_be_visible()
    assert page.url == base_url + "/console/login?next=/console/dead-letters"
    expect(page.get_by_text("receiver answered 410 Gone")).to_have_count(0)
    shot(page, scenario, "login")


def test_a_retailer_key_is_refused(
    browser: Browser, page: Page, base_url: str, scenario: Scenario
) -> None:
    page.goto(base_url + "/console/login")
    page.get_by_label("Operator token").fill(scenario.retailer.token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the operator credential.")
    page.goto(base_url + "/console")
    expect(page.get_by_role("heading", name="Operator login")).to_be_visible()

    keyed = browser.new_context(extra_http_headers=scenario.retailer.headers)
    try:
        tab = keyed.new_page()
        answer = tab.goto(base_url + "/console")
        assert answer is not None
        assert answer.status == 403
        expect(tab.get_by_role("heading", name="Not an operator credential")).to_be_visible()
        expect(tab.get_by_text("Network health")).to_have_count(0)
        shot(tab, scenario, "retailer-key-refused")
    finally:
        keyed.close()


def test_service_level_breaches_lead_to_their_case(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url)
    page.get_by_role("link", name="Breaches", exact=True).click()
    expect(page.get_by_role("heading", name="Service-level breaches")).to_be_visible()
    legal = page.locator("table.breaches tbody tr").filter(has_text="legal conformity")
    expect(legal).to_contain_text("ME-000123")
    expect(legal).to_contain_text("still running")
    shot(page, scenario, "breaches")
    legal.get_by_role("link", name="ME-000123").click()
    levels = page.locator("table.levels tbody tr")
    expect(levels.filter(has_text="received → diagnosis")).to_contain_text("met")
    expect(levels.filter(has_text="legal conformity")).to_contain_text("breached")
    page.goto(base_url + "/console/breaches")
    page.get_by_label("Retailer").select_option("bricomarket")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No open case is past a deadline.")).to_be_visible()


def test_an_erased_case_says_so_and_shows_the_erasure_on_its_timeline(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    from hub.retailers.erasure import erase_case

    erase_case(scenario.database, "ME-000123", by="operator:ticket-7")
    log_in(page, base_url, start="/console/cases/ME-000123")
    expect(page.get_by_role("heading", name="Case ME-000123")).to_be_visible()
    notice = page.locator("p.notice.erasure")
    expect(notice).to_contain_text("Personal data erased")
    expect(notice).to_contain_text("operator:ticket-7")
    rows = page.locator("table.timeline tbody tr")
    expect(rows).to_have_count(6)  # the five of the scenario and the erasure
    expect(rows.nth(5)).to_contain_text("Customer's personal data erased")
    shot(page, scenario, "case-erased")
