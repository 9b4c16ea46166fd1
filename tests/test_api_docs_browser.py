"""/v1/docs renders in Chromium with every request off loopback refused:
Swagger UI's files are the hub's own, never a CDN's.

Debian's Chromium driven by Playwright, the hub's app behind uvicorn on loopback; the
tests skip, saying why, when the browser is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from hub.api import create_app
from hub.store.db import Database
from tests.api_support import serving
from tests.test_console_browser import CHROMIUM, LAUNCH_ARGS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is absent: install Debian's chromium to run the docs' browser tests",
)

LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A tab that can reach loopback only; the list gathers every refused address."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    refused: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    yield context.new_page(), refused
    context.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    # The documentation reads no table: an in-memory database that is never opened.
    with serving(create_app(Database("sqlite://"))) as url:
        yield url


def test_swagger_ui_renders_the_operations_offline(
    base_url: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, refused = offline_page
    page.goto(f"{base_url}/v1/docs")
    expect(
        page.locator(".opblock-summary-path", has_text="/v1/cases/{reference}").first
    ).to_be_visible(timeout=15_000)
    expect(page.locator("#operations-cases-openCase")).to_be_visible()
    # The OpenAPI 3.1 webhooks are listed too.
    expect(page.locator(".opblock-summary-path", has_text="case.event").first).to_be_visible()
    assert refused == []
