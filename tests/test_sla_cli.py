"""`hub sla` as an operator runs it: a real process on a real database file.

The case is opened ten days before the command runs, so whatever today is, Gold's
one-business-day pickup has passed and the 15-day total and 30-day legal rule have not.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.factories import CUSTOMER_WITH_ADDRESS, make_case
from tests.test_cli import run


def _open_case(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    case = make_case(
        "ME-000777",
        opened_at=datetime.now(UTC) - timedelta(days=10),
        customer=CUSTOMER_WITH_ADDRESS,
    )
    file = tmp_path / "case.json"
    file.write_text(case.model_dump_json(), encoding="utf-8")
    opened = run("cases", "open", str(file), cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr


def test_hub_sla_lists_breaches_shows_a_case_and_publishes_once(tmp_path: Path) -> None:
    _open_case(tmp_path)

    listed = run("sla", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [breach] = [json.loads(line) for line in listed.stdout.splitlines()]  # JSON lines
    assert breach["case_reference"] == "ME-000777"
    assert breach["retailer"] == "maison-electro"
    assert (breach["step"], breach["basis"], breach["ended_at"]) == ("pickup", "gold", None)
    assert breach["late_by_seconds"] > 0

    table = run("sla", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "ME-000777" in table.stdout
    assert "pickup requested → picked up" in table.stdout
    assert "1 breach(es) in open cases" in table.stdout

    shown = run("sla", "--case", "ME-000777", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["level"] == "gold"
    states = {step["step"]: step["state"] for step in document["steps"]}
    assert states == {"pickup": "breached", "total": "running", "legal": "running"}

    first = run("sla", "--publish", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    [published] = [json.loads(line) for line in first.stdout.splitlines()]
    assert (published["case_reference"], published["published"]) == ("ME-000777", True)
    second = run("sla", "--publish", "--json", cwd=tmp_path)
    [again] = [json.loads(line) for line in second.stdout.splitlines()]
    assert again["published"] is False, "published once only"

    timeline = run("cases", "show", "ME-000777", "--json", cwd=tmp_path)
    events = [json.loads(line) for line in timeline.stdout.splitlines()]
    verdicts = [e for e in events if e["type"] == "service_level"]
    assert [(e["status"], e["subject"], e["reported_by"]) for e in verdicts] == [
        ("breached", "pickup", "hub")
    ]


def test_hub_sla_names_an_unknown_case(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    result = run("sla", "--case", "ME-404404", cwd=tmp_path)
    assert result.returncode != 0
    assert "no case ME-404404" in result.stdout + result.stderr
