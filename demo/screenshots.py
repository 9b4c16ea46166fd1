"""Pictures of the console for the documentation, made from the demo's own story.

``python -m demo.screenshots`` plays the demo to its end (as ``hub demo --once``, in a
working folder of its own), logs in to its console in Debian's Chromium driven by
Playwright, and saves the network health, the open cases, a case's page, the runs with
rejects and the rejected records as PNGs in docs/images/. Run it again when the console
changes; the pictures then show what an operator sees today. Never ``playwright
install``: the browser is the system's (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from demo.run import run_once
from demo.session import Session, demo_session

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
SHOWN_CASE = "ME-000219"
"""The story's case with the most to see: a pickup breach, a refused address (a dead
letter), parcels and messages."""
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
PAGES: list[tuple[str, str, bool]] = [
    ("console-health.png", "", True),
    ("console-cases.png", "/cases?status=open", False),
    ("console-case.png", f"/cases/{SHOWN_CASE}", True),
    ("console-case-messages.png", f"/cases/{SHOWN_CASE}/messages", True),
    ("console-runs.png", "/runs", False),
    ("console-rejects.png", "/rejects?state=all", True),
]
"""File, console address, whole page (else the first screen)."""


def take(session: Session, out: Path, say: Callable[[str], None]) -> list[Path]:
    """Log in to the session's console and save each page of PAGES under ``out``."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_context(viewport=VIEWPORT, locale="en-GB").new_page()
            tab.goto(session.console_url + "/login")
            tab.get_by_label("Operator token").fill(session.secrets.operator_token)
            tab.get_by_role("button", name="Log in").click()
            tab.wait_for_url(session.console_url)
            for name, address, whole in PAGES:
                tab.goto(session.console_url + address)
                path = out / name
                tab.screenshot(path=str(path), full_page=whole)
                saved.append(path)
                say(f"saved {path}")
        finally:
            browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=IMAGES, help="where the PNGs go")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="the demo's working folder (default: a temporary one)",
    )
    options = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is absent: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hub-screenshots-") as scratch:
        folder = options.dir or Path(scratch) / "demo"
        quiet = Console(file=io.StringIO(), width=160)
        with demo_session(folder, port=0) as session:
            outcome = run_once(session, quiet)
            if outcome.problems:
                print("the demo did not end consistent:", *outcome.problems, sep="\n  ")
                return 1
            take(session, options.out, print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
