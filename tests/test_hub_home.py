"""The hub home (``--home``, ``$HUB_HOME``, ./hub.yaml): every command reads one hub's
settings from it, its clock and its operators' time zone included. Real `hub` processes
on real SQLite files, run from another folder than the home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.clock import FileClock, SharedClock
from hub.config.home import time_zone
from hub.config.home_file import HomeSettings, load_home, write_home
from hub.errors import ConfigurationError
from hub.operators.times import shown
from tests.factories import CUSTOMER_WITH_ADDRESS, make_case

ROOT = Path(__file__).resolve().parent.parent
NETWORK = ROOT / "connectors.yaml"


def hub(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`hub` in its own process, in ``cwd``, with no HUB_ variable but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    clean.update(env or {}, COLUMNS="200")
    command = [sys.executable, str(ROOT / "cli.py"), *args]
    return subprocess.run(command, cwd=cwd, env=clean, capture_output=True, text=True, check=False)


def make_home(folder: Path, **settings: object) -> Path:
    folder.mkdir(parents=True)
    values = {"database_url": "sqlite:///hub.db", "connectors": NETWORK} | settings
    write_home(folder, HomeSettings.model_validate(values))
    return folder


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """Where the operator's shell is: not the home."""
    folder = tmp_path / "shell"
    folder.mkdir()
    return folder


def test_every_command_reads_the_home_from_the_flag_the_variable_or_the_folder(
    tmp_path: Path, elsewhere: Path
) -> None:
    home = make_home(tmp_path / "home")

    up = hub("--home", str(home), "up", cwd=elsewhere)
    assert up.returncode == 0, up.stderr
    assert (home / "hub.db").exists(), "the home's relative SQLite file is in the home"
    assert not (elsewhere / "hub.db").exists(), "nothing created where the shell is"

    status = hub("status", "--json", cwd=elsewhere, env={"HUB_HOME": str(home)})
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert {c["name"] for c in document["connectors"]} >= {"atelier-dupont-status"}

    runs = hub("runs", "atelier-dupont-status", cwd=home)  # ./hub.yaml: the home itself
    assert runs.returncode == 0, runs.stderr
    assert "No run of atelier-dupont-status yet" in runs.stdout or "Runs of" in runs.stdout

    without = hub("status", cwd=elsewhere)
    assert without.returncode != 0, "no home, no hub.db here: refused"
    assert "run `hub up`" in without.stderr
    assert not (elsewhere / "hub.db").exists()


def test_the_flag_beats_the_variable_and_the_home_beats_the_separate_variables(
    tmp_path: Path, elsewhere: Path
) -> None:
    first = make_home(tmp_path / "first")
    second = make_home(tmp_path / "second")
    stray = f"sqlite:///{tmp_path / 'stray.db'}"

    up = hub(
        "--home",
        str(second),
        "up",
        cwd=elsewhere,
        env={"HUB_HOME": str(first), "HUB_DATABASE_URL": stray},
    )
    assert up.returncode == 0, up.stderr
    assert (second / "hub.db").exists()
    assert not (first / "hub.db").exists()
    assert not (tmp_path / "stray.db").exists()

    own = tmp_path / "own.db"
    explicit = hub("--home", str(second), "up", "--database", f"sqlite:///{own}", cwd=elsewhere)
    assert explicit.returncode == 0, explicit.stderr
    assert own.exists(), "a command's own option wins over the home"


def test_a_wrong_home_is_one_clear_line(tmp_path: Path, elsewhere: Path) -> None:
    missing = hub("--home", str(tmp_path / "nowhere"), "status", cwd=elsewhere)
    assert missing.returncode == 2
    assert "is not a hub home: no such folder" in missing.stderr
    assert "Traceback" not in missing.stderr

    home = tmp_path / "typo"
    home.mkdir()
    (home / "hub.yaml").write_text("database_url: sqlite:///hub.db\ntime_zone: Mars/Olympus\n")
    wrong = hub("--home", str(home), "status", cwd=elsewhere)
    assert wrong.returncode == 2
    assert f"{home / 'hub.yaml'}:2: time_zone: 'Mars/Olympus' is not a time zone name" in (
        " ".join(wrong.stderr.split())
    )


def test_the_cli_measures_service_levels_by_the_homes_clock(
    tmp_path: Path, elsewhere: Path
) -> None:
    story_now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    home = make_home(tmp_path / "demo", clock_file="clock", time_zone="UTC")
    SharedClock(home / "clock", story_now)
    assert hub("--home", str(home), "up", cwd=elsewhere).returncode == 0
    case = make_case(
        "ME-000777", opened_at=story_now - timedelta(days=10), customer=CUSTOMER_WITH_ADDRESS
    )
    file = tmp_path / "case.json"
    file.write_text(case.model_dump_json(), encoding="utf-8")
    opened = hub("--home", str(home), "cases", "open", str(file), cwd=elsewhere)
    assert opened.returncode == 0, opened.stderr

    listed = hub("--home", str(home), "sla", "--json", cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    [breach] = [json.loads(line) for line in listed.stdout.splitlines()]
    deadline = datetime.fromisoformat(breach["deadline"])
    assert deadline + timedelta(seconds=breach["late_by_seconds"]) == story_now, (
        "late by the story's clock, not the machine's"
    )

    table = hub("--home", str(home), "sla", cwd=elsewhere)
    assert shown(deadline, UTC, seconds=False) in table.stdout, "the home's zone: UTC"


def test_cli_tables_show_every_time_in_the_operators_zone_with_the_zone(
    tmp_path: Path, elsewhere: Path
) -> None:
    home = make_home(tmp_path / "home", time_zone="America/New_York")
    assert hub("--home", str(home), "up", cwd=elsewhere).returncode == 0
    opened_at = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    file = tmp_path / "case.json"
    case = make_case("ME-000778", opened_at=opened_at, customer=CUSTOMER_WITH_ADDRESS)
    file.write_text(case.model_dump_json())
    assert hub("--home", str(home), "cases", "open", str(file), cwd=elsewhere).returncode == 0

    shown_case = hub("--home", str(home), "cases", "show", "ME-000778", cwd=elsewhere)
    assert shown_case.returncode == 0, shown_case.stderr
    assert "since 2026-11-03 04:00:00 EST" in shown_case.stdout
    assert "2026-11-03 04:00:00 EST" in shown_case.stdout.split("since", 1)[1]
    assert "+00:00" not in shown_case.stdout
    assert "+01:00" not in shown_case.stdout


def test_one_formatter_names_the_zone_and_follows_summer_time() -> None:
    paris = time_zone({})
    assert str(paris) == "Europe/Paris", "the default operators' zone"
    winter = datetime(2026, 11, 3, 15, 5, 12, tzinfo=UTC)
    summer = datetime(2026, 7, 3, 15, 5, 12, tzinfo=UTC)
    assert shown(winter, paris) == "2026-11-03 16:05:12 CET"
    assert shown(summer, paris) == "2026-07-03 17:05:12 CEST"
    assert shown(winter, paris, seconds=False) == "2026-11-03 16:05 CET"
    assert shown(None, paris) == "—"
    assert shown(winter, time_zone({"HUB_TIME_ZONE": "UTC"})) == "2026-11-03 15:05:12 UTC"
    with pytest.raises(ConfigurationError, match=r"\$HUB_TIME_ZONE: 'Paris' is not a time zone"):
        time_zone({"HUB_TIME_ZONE": "Paris"})


def test_a_shared_clock_is_read_by_another_process_through_its_file(tmp_path: Path) -> None:
    story = SharedClock(tmp_path / "clock", datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    reader = FileClock(tmp_path / "clock")
    assert reader() == story()
    story.set(datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    assert reader() == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    (tmp_path / "clock").write_text("next tuesday\n")
    with pytest.raises(ConfigurationError, match="clock:1: the hub's clock is not an ISO"):
        reader()
    gone = FileClock(tmp_path / "gone")
    with pytest.raises(ConfigurationError, match="cannot read the hub's clock"):
        gone()


def test_relative_paths_of_a_home_are_read_from_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "hub.yaml").write_text(
        "database_url: sqlite:///data/hub.db\nconnectors: net.yaml\nclock_file: clock\n"
    )
    settings = load_home(home)
    assert settings.database_url == f"sqlite:///{home.resolve() / 'data' / 'hub.db'}"
    assert settings.connectors == home.resolve() / "net.yaml"
    assert settings.clock_file == home.resolve() / "clock"
