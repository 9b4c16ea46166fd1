"""The charts page in Chromium: plotly.js, served by the hub itself, draws the seeded hub's
runs, rejects and outbox as points (the console's strict CSP lets only its own files run)."""

# ruff: noqa: F811 - the browser tests' fixtures, imported, are the parameters' names

from __future__ import annotations

from typing import Any

from playwright.sync_api import ConsoleMessage, Page, expect

from tests.test_console import FAILING, REJECTING, Scenario
from tests.test_console_browser import (  # noqa: F401 - the fixtures, shared
    base_url,
    browser,
    context,
    log_in,
    page,
    pytestmark,
    scenario,
    shot,
)


def traces(page: Page, key: str) -> dict[str, list[Any]]:
    """What plotly drew in a chart: each trace's name and y values."""
    drawn: list[dict[str, Any]] = page.evaluate(
        "key => document.getElementById('chart-' + key).data"
        ".map(trace => ({name: trace.name, y: trace.y}))",
        key,
    )
    return {trace["name"]: trace["y"] for trace in drawn}


def test_charts_draw_the_stored_runs_as_points(
    page: Page, base_url: str, scenario: Scenario
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if _script_refused(message) else None,
    )
    log_in(page, base_url, start="/console/charts")
    expect(page.get_by_role("heading", name="The network over time")).to_be_visible()
    for key in ("throughput", "rejects", "lag", "outbox", "breaches"):
        expect(page.locator(f"#chart-{key}")).to_have_attribute("data-drawn", "true")

    throughput = page.locator("#chart-throughput")
    points = throughput.locator(".scatterlayer .trace .points path")
    assert points.count() > 0, "the throughput chart drew no point"
    stored = traces(page, "throughput")
    assert sum(stored[REJECTING]) == 2, "the rejecting connector's run stored 2 events"
    assert sum(stored[FAILING]) == 0, "failed runs store nothing"
    assert sum(traces(page, "rejects")[REJECTING]) == 1
    depth = traces(page, "outbox")["outbox"]
    assert len(depth) == 48, "a point every half hour over 24 h"
    assert max(depth) == 0, "the seeded hub's one message is a dead letter: nothing waits"
    expect(page.locator("#chart-lag .legendtext").first).to_be_visible()
    assert errors == [], f"the charts' scripts failed: {errors}"
    shot(page, scenario, "charts")


def test_auto_refresh_is_a_page_setting(page: Page, base_url: str, scenario: Scenario) -> None:
    log_in(page, base_url, start="/console/charts")
    assert page.locator('meta[http-equiv="refresh"]').count() == 0, "off by default"
    page.get_by_label("Auto-refresh").select_option("30")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_attribute("content", "30")
    expect(page.get_by_label("Auto-refresh")).to_have_value("30")
    assert "refresh=30" in page.url


def _script_refused(message: ConsoleMessage) -> bool:
    return message.type == "error" and "script" in message.text.lower()
