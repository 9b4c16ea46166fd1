"""The console's lists in Chromium: the cases list (its filters in the address, search by
each kind of reference, pages), the runs list (empty polls left out, outcomes said whole)
and the rejected records (in words, with their case, replayed by their button with a
lasting trace). Served by uvicorn on loopback over the seeded network of
tests.test_console, with thirty more cases and a real workshop export on top.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.api import create_app
from hub.partners.ingest.message import ingest_message
from hub.partners.runs import RunCounts, finish_run, start_run
from hub.ports import MessageRef, RawMessage
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.parcels import KnownParcel, learn_parcels
from tests.api_support import serving
from tests.factories import make_case
from tests.test_console import OPERATOR_TOKEN, REJECTING, Scenario, seed
from tests.test_console_browser import CHROMIUM, browser, context, log_in, page, shot
from tests.test_console_lists import HEADER

__all__ = ["browser", "context", "page"]  # the fixtures, shared with the console's tests

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent")

EXTRA = 30
"""Cases added to the seed's one: more than a page (25)."""
EXPORT = "STATUTS_20261104_0900.csv"


def seed_lists(database: Database) -> Scenario:
    """The console's seed, thirty BricoMarket and Maison Électro cases more (a serial, a
    partner's reference, a parcel, named customers), empty polls, and a workshop export
    with a short line, kept in the archive so that it can be replayed."""
    scenario = seed(database)
    now = datetime.now(UTC)
    with database.transaction() as connection:
        for number in range(EXTRA):
            reference = f"BM-0005{number:02d}" if number % 2 else f"ME-0005{number:02d}"
            extra: dict[str, object] = {"customer": {"name": f"Client {number:02d}"}}
            if number == 7:
                extra = {
                    "customer": {"name": "Hélène Quintard"},
                    "product": {"brand": "Bosch", "model": "WAN28", "serial_number": "WQ-7781"},
                    "references": [{"party": "techniservice", "reference": "TS-40417"}],
                }
            opened = now - timedelta(hours=EXTRA - number)  # recent: within every level
            open_case(connection, make_case(reference, opened_at=opened, **extra), now=now)
        learn_parcels(
            connection, [KnownParcel("CX998877FR", "ME-000510", "colis-express", None, "ev")]
        )
    for minutes in range(40, 10, -1):
        run = start_run(database, REJECTING, now=now - timedelta(minutes=minutes, seconds=30))
        finish_run(database, run, RunCounts(), now=now - timedelta(minutes=minutes))
    content = (HEADER + "AD-9;ME-000512;04/11/2026;09:00;REC;Reçu;;;\r\n").encode("cp1252")
    pipeline = scenario.network.connector(REJECTING).pipeline()
    run = start_run(database, REJECTING)
    outcome = ingest_message(
        database,
        REJECTING,
        pipeline,
        RawMessage(MessageRef(EXPORT, len(content)), content),
        run_id=run,
    )
    finish_run(database, run, outcome.counts)
    return scenario


@pytest.fixture
def scenario(database: Database, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    monkeypatch.setenv("HUB_OPERATOR_TOKEN", OPERATOR_TOKEN)
    return seed_lists(database)


@pytest.fixture
def base_url(scenario: Scenario) -> Iterator[str]:
    with serving(create_app(scenario.database, scenario.network)) as url:
        yield url


def go(page: Page, act: Callable[[], None]) -> None:
    """Click or submit, and wait for the page it leads to before reading it."""
    with page.expect_navigation():
        act()


def rows(page: Page) -> list[str]:
    found = page.locator("table.caselist tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.case)"
    )
    return [str(reference) for reference in found]


def test_open_cases_from_the_health_page_page_by_page(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url)
    go(page, page.locator(".tile").filter(has_text="cases open").click)
    assert page.url == base_url + "/console/cases?status=open"
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    expect(page.locator("#total")).to_have_text("31 cases kept by the filters")
    expect(page.get_by_label("Status")).to_have_value("open")
    first = rows(page)
    assert len(first) == 25
    assert first[0] == "BM-000529"  # the newest opened first
    shot(page, scenario, "cases-open")
    go(page, page.get_by_role("link", name="Older ›").click)
    second = rows(page)
    assert len(second) == 6
    assert not set(first) & set(second)
    assert "ME-000123" in second
    expect(page.get_by_label("Status")).to_have_value("open")  # the filter kept
    go(page, page.get_by_role("link", name="‹ Newer").click)
    assert rows(page) == first


def test_filters_narrow_the_list_and_stay_in_the_address(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url, start="/console/cases")
    page.get_by_label("Retailer").select_option("bricomarket")
    go(page, page.get_by_role("button", name="Show").click)
    assert "retailer=bricomarket" in page.url
    kept = rows(page)
    assert len(kept) == 15
    assert all(reference.startswith("BM-") for reference in kept)
    page.get_by_label("Retailer").select_option("")
    page.get_by_label("Partner").select_option("techniservice")
    go(page, page.get_by_role("button", name="Show").click)
    assert rows(page) == ["BM-000507"]
    page.goto(base_url + "/console/cases")
    page.get_by_label("Dead letter").check()
    go(page, page.get_by_role("button", name="Show").click)
    assert "dead=1" in page.url
    assert rows(page) == ["ME-000123"]
    expect(page.locator('tr[data-case="ME-000123"]')).to_contain_text("1 dead letter")
    page.get_by_label("Dead letter").uncheck()
    page.get_by_label("Breached").check()
    go(page, page.get_by_role("button", name="Show").click)
    assert rows(page) == ["ME-000123"]  # sixty days old: past the 30-day legal rule
    page.get_by_label("Status").select_option("diagnosing")
    go(page, page.get_by_role("button", name="Show").click)
    assert rows(page) == ["ME-000123"]
    assert "breached=1" in page.url
    assert "status=diagnosing" in page.url
    page.get_by_label("Status").select_option("repaired")
    go(page, page.get_by_role("button", name="Show").click)
    expect(page.get_by_text("No case matches these filters.")).to_be_visible()
    shot(page, scenario, "cases-filtered")


@pytest.mark.parametrize(
    ("typed", "expected", "found_by"),
    [
        ("BM-00051", [f"BM-0005{n}" for n in (19, 17, 15, 13, 11)], "reference"),
        ("wq-77", ["BM-000507"], "serial number WQ-7781"),
        ("ts-404", ["BM-000507"], "partner reference TS-40417"),
        ("dup-0042", ["ME-000123"], "partner reference DUP-0042"),
        ("cx9988", ["ME-000510"], "tracking number CX998877FR"),
        ("quintard", ["BM-000507"], "customer Hélène Quintard"),
    ],
)
def test_one_box_searches_every_kind_of_reference(
    page: Page, base_url: str, typed: str, expected: list[str], found_by: str
) -> None:
    log_in(page, base_url, start="/console/cases")
    page.get_by_label("Search cases").fill(typed)
    go(page, lambda: page.get_by_label("Search cases").press("Enter"))
    assert rows(page) == expected
    expect(page.locator("table.caselist tbody tr").first).to_contain_text(found_by)


def test_a_reference_opens_its_case_which_links_to_its_messages(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url, start="/console/cases")
    page.get_by_label("Search cases").fill("me-000123")
    page.get_by_label("Search cases").press("Enter")
    expect(page.get_by_role("heading", name="Case ME-000123")).to_be_visible()
    page.get_by_role("link", name="1 message sent").click()
    dead = page.locator("table.messages tbody tr").first
    expect(dead).to_contain_text("dead")
    expect(dead).to_contain_text("receiver answered 410 Gone")
    expect(page.locator("#connectors + table")).to_contain_text(REJECTING)
    shot(page, scenario, "case-messages")


def test_runs_leave_empty_polls_out_and_say_a_run_kept_rejects(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url, start=f"/console/runs?connector={REJECTING}")
    expect(page.locator("#empty-polls")).to_contain_text("30 empty polls")
    outcomes = page.locator("table.runs tbody tr .state")
    expect(outcomes).to_have_text(["succeeded with 1 reject", "succeeded with 1 reject"])
    shot(page, scenario, "runs")
    page.get_by_role("link", name="Every run", exact=True).click()
    expect(page.locator("table.runs tbody tr")).to_have_count(30)  # a page
    expect(page.get_by_role("link", name="Older ›")).to_be_visible()
    page.goto(f"{base_url}/console/connectors/{REJECTING}")  # its own page: the same rule
    expect(page.locator("#empty-polls")).to_contain_text("30 empty polls")
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    page.goto(base_url + "/console/runs?show=failed")
    expect(page.locator("table.runs tbody tr.row-bad")).to_have_count(3)
    expect(page.locator("table.runs tbody tr").first).to_contain_text("TechniService answered 503")


def test_health_figures_say_their_window(page: Page, base_url: str) -> None:
    log_in(page, base_url)
    header = page.locator("table.connectors thead")
    expect(header).to_contain_text("Rejectedlast 24 h")
    row = page.locator(f'tr[data-connector="{REJECTING}"]')
    expect(row.locator("td.num").nth(1)).to_have_text("2")  # both runs' rejects, not the last's


def test_rejects_in_words_with_their_case_and_a_replay_that_leaves_a_trace(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url, start="/console/rejects")
    listed = page.locator("table.rejects tbody tr")
    expect(listed).to_have_count(2)
    export = listed.filter(has_text=EXPORT)
    expect(export).to_contain_text(f"Line 2 of {EXPORT} was left out: expected 10 fields, got 9")
    expect(export.get_by_role("link", name="ME-000512")).to_be_visible()
    expect(export).to_contain_text("never replayed")
    seeded = listed.filter(has_text="STATUTS_20261103.csv")
    expect(seeded.get_by_role("link", name="ME-000123")).to_be_visible()  # by DUP-0042
    export.get_by_role("button", name="Replay its file").click()
    expect(page.get_by_role("status")).to_contain_text("0 records now read, 1 still refused")
    page.goto(base_url + "/console/rejects")
    export = page.locator("table.rejects tbody tr").filter(has_text=EXPORT)
    expect(export.locator(".replays")).to_contain_text("1 replay, last")
    expect(export.locator(".replays")).to_contain_text("1 record still refused")
    shot(page, scenario, "rejects")


def test_the_lists_are_closed_without_a_session(browser: Browser, base_url: str) -> None:
    context = browser.new_context()
    try:
        tab = context.new_page()
        for path in ("/console/cases?status=open", "/console/runs", "/console/rejects"):
            tab.goto(base_url + path)
            expect(tab.get_by_role("heading", name="Operator login")).to_be_visible()
    finally:
        context.close()


def test_a_replayed_dead_letter_stays_followed_on_its_cases_messages(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url, start="/console/dead-letters")
    page.locator(f"#message-{scenario.dead_letter}").get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_contain_text("is pending again")
    page.locator("#follow").get_by_role("link", name="ME-000123").click()
    replayed = page.locator(f"#message-{scenario.dead_letter}")
    expect(replayed.locator(".state")).to_have_text("pending")
    expect(replayed).to_contain_text("due")
    expect(replayed).to_contain_text("receiver answered 410 Gone")  # the last error stays
