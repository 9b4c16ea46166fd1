"""The console's Webhooks page in Chromium: the endpoints a retailer registered through
the API, with their queues in the outbox (pending, dead, delivered in the last day), and
never a secret. Served by uvicorn on loopback over the seeded network of tests.test_console.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Page, expect

from hub.api import create_app
from hub.store.db import Database
from tests.api_support import serving
from tests.factories import stored_message
from tests.test_console import OPERATOR_TOKEN, Scenario, seed
from tests.test_console_browser import CHROMIUM, browser, context, log_in, page

__all__ = ["browser", "context", "page"]  # the fixtures, shared with the console's tests

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent")


@pytest.fixture
def scenario(database: Database, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    monkeypatch.setenv("HUB_OPERATOR_TOKEN", OPERATOR_TOKEN)
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("HUB_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    return seed(database)


@pytest.fixture
def base_url(scenario: Scenario) -> Iterator[str]:
    with serving(create_app(scenario.database, scenario.network)) as url:
        yield url


def _queue(database: Database, target: str, states: list[str], at: datetime) -> None:
    for number, state in enumerate(states):
        key = f"{target}:{number}"
        stored_message(database, target=target, key=key, state=state, at=at, case_ref="ME-000123")


def test_an_operator_sees_the_retailers_endpoints_and_their_queues(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    log_in(page, base_url)
    expect(page.get_by_role("link", name="Webhooks")).to_be_visible()
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No retailer has registered an endpoint")).to_be_visible()

    headers = scenario.retailer.headers
    registered = []
    for url, description in (
        ("http://127.0.0.1:9/hooks/erp", "ERP"),
        ("http://127.0.0.1:9/hooks/shop", None),
    ):
        answer = httpx.post(
            f"{base_url}/v1/webhook-endpoints",
            json={"url": url, "description": description, "event_types": ["case.event"]},
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        registered.append(answer.json())
    erp, shop = registered
    disabled = httpx.patch(
        f"{base_url}/v1/webhook-endpoints/{shop['id']}", json={"enabled": False}, headers=headers
    )
    assert disabled.status_code == 200, disabled.text
    now = datetime.now(UTC)
    target = f"webhook:{scenario.retailer.retailer.id}/{erp['id']}"
    _queue(scenario.database, target, ["delivered", "delivered", "pending", "dead"], now)
    _queue(scenario.database, target + "-old", ["delivered"], now - timedelta(days=3))

    page.reload()
    expect(page.get_by_role("heading", name="Webhook endpoints")).to_be_visible()
    first = page.locator(f'tr[data-endpoint="{erp["id"]}"]')
    expect(first).to_contain_text("Maison Électro")
    expect(first).to_contain_text("http://127.0.0.1:9/hooks/erp")
    expect(first).to_contain_text("ERP")
    expect(first.locator(".state.ok")).to_have_text("enabled")
    cells = first.locator("td.num")
    expect(cells.nth(0)).to_have_text("1")  # pending
    expect(cells.nth(1)).to_have_text("1")  # dead, linked to the dead letters
    expect(cells.nth(2)).to_have_text("2")  # delivered in the last day
    expect(first.get_by_role("link", name="1")).to_have_attribute("href", "/console/dead-letters")
    second = page.locator(f'tr[data-endpoint="{shop["id"]}"]')
    expect(second.locator(".state.disabled")).to_have_text("disabled")
    expect(second).to_contain_text("never")
    content = page.content()
    for item in registered:
        assert item["secret"] not in content, "a secret is never shown"
