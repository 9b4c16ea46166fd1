"""A case's dead letter on its console page, in Debian's Chromium driven by Playwright:
seen, then gone once the retailer corrects the case through the API and the re-sent
pickup reaches the carrier's simulator.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from hub.store.db import Database
from simulators.colis_express import ColisExpressSimulator
from tests.api_support import case_json
from tests.test_case_corrections import (
    ADDRESS,
    Hub,
    carrier,
    hub,
    network,
    receiver,
)
from tests.test_console import OPERATOR_TOKEN
from tests.test_console_browser import (
    SCREENSHOTS,
    browser,
    context,
    log_in,
    page,
    pytestmark,
)

__all__ = ["browser", "carrier", "context", "hub", "network", "page", "pytestmark", "receiver"]


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_OPERATOR_TOKEN", OPERATOR_TOKEN)


@pytest.fixture
def console(operator: None, hub: Hub) -> str:
    """The console's base URL: the hub's app serves the API and the console alike."""
    return str(hub.client.base_url).rstrip("/")


def test_a_dead_letter_shows_on_the_case_page_and_goes_once_the_case_is_corrected(
    page: Page,
    console: str,
    hub: Hub,
    carrier: ColisExpressSimulator,
    database: Database,
) -> None:
    typo = {**ADDRESS, "postcode": "6903"}
    opened = hub.post(case_json("ME-000123", customer={"name": "Julie Martin", "address": typo}))
    assert opened.status_code == 201
    assert hub.dispatcher.run_until_idle().dead == 1

    log_in(page, console, start="/console/cases/ME-000123")
    expect(page.get_by_role("heading", name="Case ME-000123")).to_be_visible()
    letters = page.locator("table.dead-letters tbody tr")
    expect(letters).to_have_count(1)
    expect(letters.first).to_have_attribute("data-state", "dead")
    expect(letters.first).to_contain_text("dead letter")
    expect(letters.first).to_contain_text("pickup")
    expect(letters.first).to_contain_text("400")
    expect(page.locator("#dead-letters")).to_contain_text("1 waiting")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"case-dead-letter-{database.dialect}.png"))

    corrected = hub.patch("ME-000123", {"customer": {"address": {"postcode": "69003"}}})
    assert corrected.status_code == 200
    page.reload()
    expect(letters.first).to_have_attribute("data-state", "resent")
    expect(letters.first).to_contain_text("after a correction of the case")

    assert hub.dispatcher.run_until_idle().delivered >= 1
    page.reload()
    expect(letters.first).to_have_attribute("data-state", "fixed")
    expect(letters.first).to_contain_text("fixed")
    expect(page.locator("#dead-letters")).to_contain_text("0 waiting")
    expect(page.locator("table.timeline")).to_contain_text("Case corrected")
    assert [pickup.sender["postcode"] for pickup in carrier.received_pickups] == ["69003"]
    page.screenshot(path=str(SCREENSHOTS / f"case-dead-letter-fixed-{database.dialect}.png"))
