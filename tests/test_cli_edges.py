"""The rough edges a new operator met at the command line, each checked as a user meets
it: a real `hub` process on a real database file (tests.test_cli.run)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_cli import ROOT, run

CONNECTOR = "atelier-dupont-status"
ORPHAN = {
    "id": "atelier-dupont:edge-1",
    "case_ref": "ME-000219",
    "type": "case_status",
    "status": "received",
    "occurred_at": "2026-11-03T09:12:00+01:00",
    "reported_by": "atelier-dupont",
    "raw_code": "REC",
    "raw_label": "Reçu atelier",
}
"""An event for a case not opened yet: `hub unlinked` lists it with its reference."""


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _lines(stdout: str) -> list[dict[str, object]]:
    """Every line of ``stdout`` as the JSON object it must be (the `--json` rule)."""
    documents = [json.loads(line) for line in stdout.splitlines()]
    assert all(isinstance(document, dict) for document in documents), stdout
    return documents


@pytest.mark.parametrize("command", [("serve",), ("serve-api",), ("demo",)])
def test_a_busy_port_is_named_in_one_line_with_the_option_to_change_it(
    tmp_path: Path, busy_port: int, command: tuple[str, ...]
) -> None:
    refused = run(*command, "--port", str(busy_port), cwd=tmp_path)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert f"port {busy_port} on 127.0.0.1 is already in use" in line
    assert "--port" in line
    assert not (tmp_path / "var").exists(), "the demo emptied no folder for nothing"


def test_json_is_json_lines_for_every_command(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    for empty in (
        ("runs", CONNECTOR),
        ("rejects", CONNECTOR),
        ("warnings", CONNECTOR),
        ("unmapped",),
        ("unlinked",),
        ("dead-letters",),
        ("sla",),
    ):
        listed = run(*empty, "--json", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout == "", f"an empty listing writes no line: {empty}"
    [status] = _lines(run("status", "--json", cwd=tmp_path).stdout)
    assert "connectors" in status
    adapters = _lines(run("adapters", "list", "--json", cwd=tmp_path).stdout)
    assert len(adapters) > 1, "one adapter a line"
    assert all(adapter["loaded"] in (True, False) for adapter in adapters)


def test_an_empty_listing_says_so_instead_of_a_bare_table(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    expected = {
        ("runs", CONNECTOR): f"No run of {CONNECTOR} yet.",
        ("rejects", CONNECTOR): f"No rejected record for {CONNECTOR}.",
        ("warnings", CONNECTOR): f"No file warning for {CONNECTOR}.",
        ("unmapped",): "No unmapped code",
        ("unlinked",): "No event waits for its case.",
        ("dead-letters",): "No dead letter",
        ("sla",): "No breach in open cases.",
    }
    for command, sentence in expected.items():
        shown = run(*command, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert sentence in shown.stdout
        assert "┏" not in shown.stdout, f"no table with headings only: {command}"


def test_a_reference_in_lower_case_is_the_case_it_names(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    opened = run("cases", "open", str(ROOT / "fixtures/cases/ME-000123.json"), cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    shown = run("cases", "show", "me-000123", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("ME-000123: ")
    [created] = _lines(run("cases", "show", "me-000123", "--json", cwd=tmp_path).stdout)
    assert created["case_ref"] == "ME-000123"
    steps = run("sla", "--case", "Me-000123", "--json", cwd=tmp_path)
    assert steps.returncode == 0, steps.stderr
    assert _lines(steps.stdout)[0]["case_reference"] == "ME-000123"
    missing = run("cases", "show", "me-404", cwd=tmp_path)
    assert missing.returncode == 1
    assert "no case me-404" in missing.stderr


def test_a_reference_stays_whole_in_a_narrow_terminal(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(ORPHAN) + "\n", encoding="utf-8")
    assert run("events", "append", str(events), cwd=tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {"HUB_CONNECTORS": str(ROOT / "connectors.yaml"), "COLUMNS": "60"}
    narrow = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "unlinked"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert narrow.returncode == 0, narrow.stderr
    assert "│ ME-000219 │" in narrow.stdout, narrow.stdout


def test_a_pause_without_a_reason_is_refused(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    refused = run("pause", CONNECTOR, "--reason", "  ", cwd=tmp_path)
    assert refused.returncode == 2
    assert "needs a reason" in refused.stderr
    assert "Traceback" not in refused.stderr
    [status] = _lines(run("status", "--json", cwd=tmp_path).stdout)
    connectors = status["connectors"]
    assert isinstance(connectors, list)
    [state] = [c["state"] for c in connectors if c["name"] == CONNECTOR]
    assert state != "paused"
