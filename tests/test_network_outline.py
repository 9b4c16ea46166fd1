"""The network's outline kept beside the checked network (issue 17, twelfth pass): made
from the validated network only, read back the same, made again whenever the network or
a mapping changed, ignored when it cannot be trusted; the reading commands show the same
from it as from the network checked (what they import once it is kept:
tests/test_status.py)."""

from __future__ import annotations

import dataclasses
import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import hub.operators.status as status_module
import hub.partners.network as network_module
from cli import app
from hub.config.home import CLOCK_FILE_VARIABLE
from hub.partners.network import Network, open_network
from hub.partners.network_cache import CACHE_DIR_VARIABLE, read_network, read_outline
from hub.partners.network_outline import NetworkOutline, ScheduleOutline
from hub.partners.runs import RunCounts, finish_run, start_run
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.runs import record_rejects
from tests.factories import make_case, register_network
from tests.test_demo import with_a_partner_added

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(folder))
    return folder


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each outline made from a network (not read back from what was kept), and each
    network read and checked: "outline" and "check", in order."""
    done: list[str] = []
    outline = Network.outline
    opened = network_module.open_network

    def counted_outline(self: Network) -> NetworkOutline:
        done.append("outline")
        return outline(self)

    def counted_open(path: Path) -> Network:
        done.append("check")
        return opened(path)

    monkeypatch.setattr(Network, "outline", counted_outline)
    monkeypatch.setattr(network_module, "open_network", counted_open)
    return done


def _network(folder: Path) -> Path:
    """The repository's network with a partner added (a drop folder of its own, a
    contract level) and one connector disabled; its cron drop folder and pushes kept."""
    path = with_a_partner_added(folder)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    for connector in document["connectors"]:
        if connector["name"] == "alpes-fret-status":
            connector["enabled"] = False
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    return path


def _outline_file(cache: Path) -> Path:
    (kept,) = cache.glob("outline-*.pickle")
    return kept


def test_the_kept_outline_is_the_checked_network_s(
    tmp_path: Path, cache: Path, made: list[str]
) -> None:
    path = _network(tmp_path)
    first = read_outline(path)
    assert made == ["check", "outline"]
    again = read_outline(path)
    assert made == ["check", "outline"], "the second is read back from what was kept"
    assert again == first == open_network(path).outline()
    connectors = {spec.name: spec for spec in again.connectors}
    assert connectors["atelier-dupont-status"].direction == "inbound"
    assert connectors["atelier-dupont-orders"].direction == "outbound"
    assert connectors["colis-express-push"].pushed
    assert connectors["colis-express-push"].adapter_type == "http-push"
    assert connectors["colis-express-push"].direction is None  # a push's mapping: not read
    assert not connectors["alpes-fret-status"].enabled
    assert connectors["atelier-martin-status"].schedule == ScheduleOutline("15m", None, None)
    drops = {drop.name: drop for drop in again.case_imports}
    assert drops["bricomarket-nightly"].schedule == ScheduleOutline(None, "30 2 * * *", None)
    assert drops["electro-depot-nightly"].retailer == "electro-depot"
    assert again.contract_level("maison-electro") == "gold"
    assert again.contract_level("electro-depot") == "gold"
    assert again.contract_level("nobody") is None
    assert again.alerting.pause_after_failures == 5


def test_an_edited_network_file_makes_the_outline_again(
    tmp_path: Path, cache: Path, made: list[str]
) -> None:
    path = _network(tmp_path)
    read_outline(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("maison-electro: gold", "maison-electro: platinum"))
    edited = read_outline(path)
    assert made == ["check", "outline", "check", "outline"]
    assert edited.contract_level("maison-electro") == "platinum"
    assert read_outline(path) == edited
    assert len(made) == 4


def test_an_edited_mapping_makes_the_outline_again_without_checking_the_network(
    tmp_path: Path, cache: Path, made: list[str]
) -> None:
    path = _network(tmp_path)
    mapping = tmp_path / "atelier-martin.yaml"
    assert read_outline(path).connectors[-2].direction == "inbound"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("partner: atelier-martin", "partner: atelier-nobody-else"))
    broken = {spec.name: spec for spec in read_outline(path).connectors}
    assert made == ["check", "outline", "outline"], "the kept network, its direction read again"
    assert broken["atelier-martin-status"].direction is None
    problem = broken["atelier-martin-status"].problem
    assert problem is not None
    assert "is for 'atelier-nobody-else'" in problem
    mapping.write_text(text)
    assert read_outline(path) == open_network(path).outline()
    assert made.count("outline") == 4  # the mapping mended: made again (and once above)


@pytest.mark.parametrize("spoil", ["file writable by others", "folder writable by others"])
def test_an_outline_others_may_write_is_not_read(
    tmp_path: Path, cache: Path, made: list[str], spoil: str
) -> None:
    path = _network(tmp_path)
    read_outline(path)
    kept = _outline_file(cache)
    if spoil.startswith("file"):
        kept.chmod(0o666)
    else:
        cache.chmod(0o777)
    try:
        assert read_outline(path) == open_network(path).outline()
        assert made[-1] == "outline", "made again from the network, not unpickled"
    finally:
        cache.chmod(0o700)


@pytest.mark.parametrize("spoil", ["corrupt", "older format", "another shape"])
def test_an_outline_that_cannot_be_read_is_made_again(
    tmp_path: Path, cache: Path, made: list[str], spoil: str
) -> None:
    path = _network(tmp_path)
    read_outline(path)
    kept_at = _outline_file(cache)
    if spoil == "corrupt":
        kept_at.write_bytes(b"not a pickle at all")
    elif spoil == "older format":
        kept = pickle.loads(kept_at.read_bytes())
        older = dataclasses.replace(kept, format=0)
        kept_at.write_bytes(pickle.dumps(older))
    else:
        kept_at.write_bytes(pickle.dumps({"outline": "of another release"}))
    kept_at.chmod(0o600)
    made.clear()
    assert read_outline(path) == open_network(path).outline()
    assert made == ["outline", "outline"], "made from the kept network (and the check above)"
    made.clear()
    read_outline(path)
    assert made == [], "kept again, read back next time"


def test_a_network_that_does_not_load_keeps_no_outline(tmp_path: Path, cache: Path) -> None:
    path = _network(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("version: 1", "version: 2"))
    for _ in range(2):
        with pytest.raises(Exception, match="version"):
            read_outline(path)
    assert not list(cache.glob("outline-*"))


# --- the commands: the same output from the outline made now and from the kept one -----


@pytest.fixture
def hub_at_work(tmp_path: Path, database: Database) -> dict[str, str]:
    """A store with runs, rejects, a pause, a failing connector and an open case late
    on its steps, at NOW on the hub's clock; the commands' environment."""
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123", opened_at=NOW - timedelta(days=40)))
    for minutes, error in ((90, None), (30, "timeout")):
        run_id = start_run(database, "atelier-dupont-status", now=NOW - timedelta(minutes=minutes))
        counts = RunCounts(messages_read=1, records_read=4, rejected=1)
        finish_run(
            database,
            run_id,
            counts,
            error=None if error is None else _transient(error),
            now=NOW - timedelta(minutes=minutes - 1),
        )
    with database.transaction() as connection:
        record_rejects(
            connection,
            "atelier-dupont-status",
            [_reject()],
            run_id=run_id,
            message_id=None,
            now=NOW,
        )
    clock = tmp_path / "clock.txt"
    clock.write_text(NOW.isoformat())
    folder = tmp_path / "network"
    folder.mkdir()
    return {
        "HUB_DATABASE_URL": database.engine.url.render_as_string(hide_password=False),
        "HUB_CONNECTORS": str(_network(folder)),
        CLOCK_FILE_VARIABLE: str(clock),
        "COLUMNS": "200",
    }


def _transient(text: str) -> Exception:
    from hub.errors import TransientError

    return TransientError(text)


def _reject() -> Any:
    from hub.errors import Location, PartnerDataError

    return PartnerDataError("no such status", location=Location("F.csv", 3), raw="X;Y")


_COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["runs", "atelier-dupont-status"],
    ["runs", "atelier-dupont-status", "--json"],
    ["rejects", "atelier-dupont-status", "--json"],
    ["warnings", "atelier-dupont-status"],
    ["sla"],
    ["sla", "--json"],
    ["sla", "--case", "me-000123"],
    ["sla", "--case", "ME-000123", "--json"],
    ["connectors", "list"],
    ["runs", "no-such-connector"],
]


def test_each_reading_command_shows_the_same_from_the_kept_outline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hub_at_work: dict[str, str],
    made: list[str],
) -> None:
    """Run once with nothing kept (the network checked, its outline made from it) and
    once from what was kept: the same tables and JSON, at the same instant."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:
            return cls.fromtimestamp(NOW.timestamp(), tz)

    monkeypatch.setattr(status_module, "datetime", Frozen)
    runner = CliRunner()
    shown: dict[str, list[tuple[int, str]]] = {}
    for turn in ("checked", "kept"):
        monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / f"cache-{turn}"))
        outputs = []
        for arguments in _COMMANDS:
            if turn == "kept":
                read_outline(Path(hub_at_work["HUB_CONNECTORS"]))  # kept before each
                made.clear()
            result = runner.invoke(app, arguments, env=hub_at_work)
            if turn == "kept":
                assert made == [], f"hub {' '.join(arguments)} made an outline"
            outputs.append((result.exit_code, result.stdout + str(result.exception or "")))
        shown[turn] = outputs
    assert shown["kept"] == shown["checked"]
    by_command = dict(zip((" ".join(a) for a in _COMMANDS), shown["kept"], strict=True))
    status = json.loads(by_command["status --json"][1])
    states = {one["name"]: one for one in status["connectors"]}
    assert states["alpes-fret-status"]["state"] == "disabled"
    assert states["atelier-dupont-status"]["state"] == "failing"
    assert states["bricomarket-nightly"]["schedule"] == "cron 30 2 * * *"
    assert states["bricomarket-nightly"]["next_run_at"] == "2026-11-25T02:30:00+00:00"
    assert states["electro-depot-nightly"]["direction"] == "import"
    case = json.loads(by_command["sla --case ME-000123 --json"][1])
    assert case["level"] == "gold"
    assert "legal" in by_command["sla"][1]
    assert "paused" in by_command["connectors list"][1]  # alpes-fret-status, disabled
    assert "atelier-martin-status" in by_command["connectors list"][1]
    assert by_command["runs no-such-connector"][0] != 0
    assert "no connector named 'no-such-connector'" in by_command["runs no-such-connector"][1]


def test_read_network_still_gives_the_whole_network(tmp_path: Path, cache: Path) -> None:
    """The outline is beside the kept network, not instead of it: the commands that
    need the models (`sla --publish`, `retention`) read them as before."""
    path = _network(tmp_path)
    outline = read_outline(path)
    network = read_network(path)
    assert network.outline() == outline
    assert network.config.model_dump() == open_network(path).config.model_dump()
