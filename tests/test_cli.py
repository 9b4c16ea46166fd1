"""The `hub` command, run as a user runs it: a real process on a real database file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path, entry: str = "module") -> subprocess.CompletedProcess[str]:
    """Run the CLI in ``cwd``, with the default (SQLite in the working directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONNECTORS"] = str(ROOT / "connectors.yaml")
    env["COLUMNS"] = "200"
    if entry == "module":
        command = [sys.executable, str(ROOT / "cli.py"), *args]
    else:
        hub = shutil.which("hub", path=str(Path(sys.executable).parent))
        assert hub is not None, "the `hub` entry point is not installed"
        command = [hub, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_entry_point_and_cli_py_are_the_same_program(tmp_path: Path) -> None:
    via_module = run("--help", cwd=tmp_path)
    via_entry = run("--help", cwd=tmp_path, entry="hub")
    assert via_module.returncode == via_entry.returncode == 0
    assert via_module.stdout == via_entry.stdout
    for command in ("up", "db", "schemas", "cases", "events"):
        assert command in via_module.stdout


def test_up_migrates_registers_the_network_and_prints_state(tmp_path: Path) -> None:
    result = run("up", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hub.db").exists()
    assert "up to date" in result.stdout
    assert "retailer" in result.stdout
    assert "repairer" in result.stdout
    assert "Events: 0" in result.stdout


def test_cases_open_refuses_a_case_its_partners_could_not_work(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    case = json.loads((ROOT / "fixtures/cases/ME-000123.json").read_text(encoding="utf-8"))
    case["product"].pop("category")  # no relay point: ColisExpress collects it from home
    case["customer"].pop("address")
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    refused = run("cases", "open", str(path), cwd=tmp_path)
    assert refused.returncode == 1
    assert (
        "customer.address.line1 is required: colis-express needs it for its pickup message "
        "(colis-express-pickups)" in refused.stderr
    )
    assert run("cases", "show", "ME-000123", cwd=tmp_path).returncode != 0, "nothing stored"


def test_open_a_case_append_events_and_read_the_timeline(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    opened = run("cases", "open", str(ROOT / "fixtures/cases/ME-000123.json"), cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    assert "opened" in opened.stdout
    again = run("cases", "open", str(ROOT / "fixtures/cases/ME-000123.json"), cwd=tmp_path)
    assert "already open, unchanged" in again.stdout

    received = {
        "id": "atelier-dupont:rec-1",
        "case_ref": "ME-000123",
        "type": "case_status",
        "status": "received",
        "occurred_at": "2026-11-03T09:12:00+01:00",
        "reported_by": "atelier-dupont",
        "raw_code": "REC",
        "raw_label": "Reçu atelier",
    }
    lines = [json.dumps(received), json.dumps({**received, "status": "teleported"}), ""]
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join(lines), encoding="utf-8")
    appended = run("events", "append", str(events_file), cwd=tmp_path)
    assert appended.returncode == 1, "a rejected line must make the command fail"
    assert "1 stored" in appended.stdout
    assert "1 rejected" in appended.stdout
    assert f"{events_file}:2" in appended.stderr
    assert "teleported" in appended.stderr

    shown = run("cases", "show", "ME-000123", "--json", cwd=tmp_path)
    timeline = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [e["status"] for e in timeline] == ["created", "received"]
    assert timeline[1]["occurred_at"] == "2026-11-03T09:12:00+01:00"
    table = run("cases", "show", "ME-000123", cwd=tmp_path)
    assert "Received at the workshop" in table.stdout


def test_an_unknown_case_is_a_clear_error(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    result = run("cases", "show", "ME-404", cwd=tmp_path)
    assert result.returncode == 1
    assert "no case ME-404" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_network_file_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "connectors.yaml"
    bad.write_text("version: 1\nparties:\n  - id: shop\n    role: plumber\n    name: Shop\n")
    result = run("up", "--network", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{bad}:4: parties.0.role" in result.stderr
    assert "Traceback" not in result.stderr


def test_schemas_check_passes_on_the_checked_in_schemas() -> None:
    result = run("schemas", "export", "--check", cwd=ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("args", [["db", "upgrade"]])
def test_database_url_comes_from_the_environment(tmp_path: Path, args: list[str]) -> None:
    target = tmp_path / "elsewhere.db"
    env_run = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        cwd=tmp_path,
        env={**os.environ, "HUB_DATABASE_URL": f"sqlite:///{target}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert env_run.returncode == 0, env_run.stderr
    assert target.exists()
    assert not (tmp_path / "hub.db").exists()
