"""What `hub connectors check` found, kept while nothing it read changed (issue 17,
thirteenth pass): shown again byte for byte as a fresh check says it, its secrets read
each time, checked again when connectors.yaml, a mapping, a file a mapping names, a time
zone's file, a module or the import path changed, never kept when it finds an error."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import hub.partners.connectors as connectors
import hub.partners.network_cache as network_cache
from hub.partners.connectors import network_check as checked_afresh
from hub.partners.network import open_network
from hub.partners.network_cache import CACHE_DIR_VARIABLE, read_check
from hub.partners.network_check import NetworkCheck, Problem
from tests.test_cli import ROOT

DUPONT_SECRET = "ATELIER_DUPONT_SFTP_KEY"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(folder))
    return folder


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every network checked afresh (not shown from what was kept), by its path."""
    done: list[Path] = []
    fresh = connectors.network_check

    def counted(path: Path) -> NetworkCheck:
        done.append(path)
        return fresh(path)

    monkeypatch.setattr(connectors, "network_check", counted)
    return done


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the repository network's secrets set: each is a warning."""
    for spec in open_network(ROOT / "connectors.yaml").config.connectors:
        for variable in spec.secret_names().values():
            monkeypatch.delenv(variable, raising=False)


def _network(folder: Path) -> Path:
    """The repository's network and its mappings (an XSD among them) copied to ``folder``."""
    shutil.copytree(ROOT / "mappings", folder / "mappings")
    path = folder / "connectors.yaml"
    shutil.copyfile(ROOT / "connectors.yaml", path)
    return path


def _said(check: NetworkCheck) -> list[Problem]:
    return check.problems()


def _kept_file(cache: Path) -> Path:
    (kept,) = cache.glob("check-*.pickle")
    return kept


def _rewrite(path: Path, old: str, new: str) -> str:
    """Replaces ``old`` (which must be there) in the file; gives the text it had."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text


def test_a_passing_check_is_kept_and_said_again_as_checked(
    tmp_path: Path, cache: Path, checks: list[Path], no_secrets: None
) -> None:
    path = _network(tmp_path)
    first = _said(read_check(path))
    again = _said(read_check(path))
    assert checks == [path], "checked once, then shown from what was kept"
    assert again == first == _said(checked_afresh(path))
    assert first != []
    assert all(problem.warning for problem in first)
    assert any(DUPONT_SECRET in problem.text for problem in first)
    assert _kept_file(cache).stat().st_mode & 0o077 == 0


def test_secrets_are_read_each_time_the_kept_check_is_shown(
    tmp_path: Path,
    cache: Path,
    checks: list[Path],
    no_secrets: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _network(tmp_path)
    unset = _said(read_check(path))
    monkeypatch.setenv(DUPONT_SECRET, "-----BEGIN OPENSSH PRIVATE KEY----- kept-nowhere-7c1")
    set_now = _said(read_check(path))
    assert [p for p in unset if DUPONT_SECRET not in p.text] == set_now
    assert len(set_now) == len(unset) - 2, "both of Atelier Dupont's connectors"
    assert set_now == _said(checked_afresh(path))
    kept = _kept_file(cache).read_bytes()
    assert DUPONT_SECRET.encode() in kept
    assert b"kept-nowhere-7c1" not in kept
    monkeypatch.delenv(DUPONT_SECRET)
    assert _said(read_check(path)) == unset
    assert checks == [path], "the secrets alone changed: nothing checked again"


def test_a_mapping_s_byte_changed_checks_again(
    tmp_path: Path, cache: Path, checks: list[Path], no_secrets: None
) -> None:
    path = _network(tmp_path)
    mapping = tmp_path / "mappings" / "atelier-dupont.yaml"
    passing = _said(read_check(path))
    text = _rewrite(mapping, "DIA: diagnosing", "DIA: diagnosinG")  # one byte, same size
    broken = _said(read_check(path))
    assert len(checks) == 2
    assert broken == _said(checked_afresh(path))
    assert [p.text for p in broken if not p.warning] != []
    assert any(str(mapping) in p.text and "diagnosinG" in p.text for p in broken)
    assert _said(read_check(path)) == broken
    assert len(checks) == 3, "a check that found an error is not kept"
    mapping.write_text(text, encoding="utf-8")
    assert _said(read_check(path)) == passing
    assert _said(read_check(path)) == passing
    assert len(checks) == 4


def test_an_edited_network_file_checks_again(
    tmp_path: Path, cache: Path, checks: list[Path], no_secrets: None
) -> None:
    path = _network(tmp_path)
    read_check(path)
    _rewrite(path, f"private_key_env: {DUPONT_SECRET}", f"private_key_env: {DUPONT_SECRET}_NEW")
    edited = _said(read_check(path))
    assert len(checks) == 2
    assert edited == _said(checked_afresh(path))
    assert any(f"{DUPONT_SECRET}_NEW" in p.text for p in edited)
    assert _said(read_check(path)) == edited
    assert len(checks) == 2


def test_a_file_a_mapping_names_changed_checks_again(
    tmp_path: Path, cache: Path, checks: list[Path], no_secrets: None
) -> None:
    path = _network(tmp_path)
    xsd = tmp_path / "mappings" / "techniservice" / "repairs-v2.xsd"
    passing = _said(read_check(path))
    text = _rewrite(xsd, "</xs:schema>", "</xs:schemaa>")
    broken = _said(read_check(path))
    assert len(checks) == 2
    assert any("XSD" in p.text and not p.warning for p in broken)
    assert broken == _said(checked_afresh(path))
    xsd.unlink()  # a file only looked at when missing: never kept with the error
    missing = _said(read_check(path))
    assert any("does not exist" in p.text for p in missing)
    xsd.write_text(text, encoding="utf-8")
    assert _said(read_check(path)) == passing
    assert len(checks) == 4


@pytest.fixture
def own_zones(tmp_path: Path) -> Iterator[Path]:
    """A time zone database of the test's own (the system's copied), found first."""
    zones = tmp_path / "zones"
    (zones / "Europe").mkdir(parents=True)
    system = next(Path(where) for where in zoneinfo.TZPATH if (Path(where) / "UTC").is_file())
    for key in ("Europe/Paris", "UTC"):
        shutil.copyfile(system / key, zones / key)
    zoneinfo.reset_tzpath([str(zones)])
    zoneinfo.ZoneInfo.clear_cache()
    yield zones
    zoneinfo.reset_tzpath()
    zoneinfo.ZoneInfo.clear_cache()


def test_a_time_zone_s_file_is_followed(
    tmp_path: Path, cache: Path, checks: list[Path], no_secrets: None, own_zones: Path
) -> None:
    """The mappings' zones are read from the system's files, outside connectors.yaml and
    the code: what the check opened is stamped, so a zone gone is said."""
    path = _network(tmp_path)
    passing = _said(read_check(path))
    kept = pickle.loads(_kept_file(cache).read_bytes())
    assert str(own_zones / "Europe" / "Paris") in dict(kept.files)
    assert _said(read_check(path)) == passing
    assert len(checks) == 1
    (own_zones / "Europe" / "Paris").unlink()
    zoneinfo.ZoneInfo.clear_cache()
    gone = _said(read_check(path))
    assert len(checks) == 2
    assert any("Europe/Paris" in p.text and not p.warning for p in gone)


def test_another_import_path_or_python_checks_again(
    tmp_path: Path,
    cache: Path,
    checks: list[Path],
    no_secrets: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another sys.path may import other files than those stamped (a venv elsewhere,
    another PYTHONPATH); the kept network and outline are held to it as well."""
    path = _network(tmp_path)
    read_check(path)
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    read_check(path)
    assert len(checks) == 2
    read_check(path)
    assert len(checks) == 2
    monkeypatch.setattr(sys, "version", sys.version + " (another build)")
    read_check(path)
    assert len(checks) == 3


def test_a_file_edited_while_it_is_checked_is_not_kept(
    tmp_path: Path, cache: Path, no_secrets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _network(tmp_path)
    fresh = connectors.network_check

    def edited_meanwhile(checked: Path) -> NetworkCheck:
        found = fresh(checked)
        _rewrite(path, "name: After-sales hub", "name: After-sales hub (edited)")
        return found

    monkeypatch.setattr(connectors, "network_check", edited_meanwhile)
    read_check(path)
    assert list(cache.glob("check-*.pickle")) == []


def test_a_kept_check_that_cannot_be_trusted_or_read_is_not_used(
    tmp_path: Path, cache: Path, checks: list[Path], no_secrets: None
) -> None:
    path = _network(tmp_path)
    passing = _said(read_check(path))
    _kept_file(cache).chmod(0o666)
    assert _said(read_check(path)) == passing
    assert len(checks) == 2, "a file others may write is not unpickled"
    _kept_file(cache).write_bytes(b"not a pickle")
    assert _said(read_check(path)) == passing
    assert len(checks) == 3
    older = object.__new__(network_cache._Beside)
    older.__dict__["format"] = 0  # another release's
    network_cache._store(_kept_file(cache), older)
    assert _said(read_check(path)) == passing
    assert len(checks) == 4


# ---------------------------------------------------------------- the command, whole


def _command(network: Path, cache: Path, **variables: str) -> tuple[int, str, str]:
    """`hub connectors check --network NETWORK` in a process of its own: exit code,
    stdout, stderr."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environ.update({"COLUMNS": "200", CACHE_DIR_VARIABLE: str(cache), **variables})
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "connectors", "check", "--network", str(network)],
        cwd=network.parent,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


_DUPONT_ADDRESS = (
    '    address: {line1: ZA des Prés, postcode: "38300", city: Bourgoin-Jallieu, country: FR}\n'
)


def _profile_lacking(path: Path) -> None:
    """A party's address that a carrier's messages need: an error, once all else passes."""
    _rewrite(path, _DUPONT_ADDRESS, "")


def _broken_and_warned(path: Path) -> None:
    """Errors (a code listed twice in a mapping, an unknown transport) among warnings
    (secrets not set)."""
    mapping = path.parent / "mappings" / "atelier-dupont.yaml"
    _rewrite(mapping, "DIA: diagnosing", "DIA: diagnosing\n      DIA: received")
    _rewrite(path, "type: sftp", "type: sftpx")


@pytest.mark.parametrize(
    ("change", "variables", "kept"),
    [
        (None, {}, True),
        (None, {DUPONT_SECRET: "x", "COLIS_EXPRESS_TOKEN": "y"}, True),
        (_profile_lacking, {}, False),
        (_broken_and_warned, {}, False),
    ],
    ids=["shipped", "some secrets set", "a profile lacking", "errors and warnings"],
)
def test_the_command_says_the_same_bytes_kept_or_fresh(
    tmp_path: Path, change: Callable[[Path], None] | None, variables: dict[str, str], kept: bool
) -> None:
    path = _network(tmp_path / "network")
    if change is not None:
        change(path)
    first = _command(path, tmp_path / "kept", **variables)
    kept_files = list((tmp_path / "kept").glob("check-*.pickle"))
    assert len(kept_files) == (1 if kept else 0)
    stamp = [file.stat().st_mtime_ns for file in kept_files]
    second = _command(path, tmp_path / "kept", **variables)
    assert [file.stat().st_mtime_ns for file in kept_files] == stamp, "shown as kept"
    fresh = _command(path, tmp_path / "another", **variables)
    assert first == second == fresh
    assert first[0] == (0 if kept else 1)
    assert "warning" in first[2]
    without = _command(path, tmp_path / "kept")  # the secrets unset now: said so
    assert without == _command(path, tmp_path / "yet-another")


_PROBE_MODULE = '''"""A transport installed for the test only."""
from pydantic import BaseModel, ConfigDict

from hub.ports import AdapterInfo, AdapterKind, Capability


class ProbeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: str
{more}

def build(settings, secrets, default_pattern):
    raise AssertionError("a check validates a transport's settings; it never builds one")


PROBE = AdapterInfo(
    kind=AdapterKind.TRANSPORT,
    name="probe-folder",
    summary="A folder (a test's).",
    settings=ProbeSettings,
    factory=build,
    capabilities=frozenset({{Capability.LIST}}),
)
'''


def test_a_changed_module_checks_again(tmp_path: Path) -> None:
    """An adapter's module is part of what checked: edited, the check says what the new
    code says (here, an option its settings now require)."""
    site = tmp_path / "site"
    (site / "hub_probe-0.1.dist-info").mkdir(parents=True)
    (site / "hub_probe-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hub-probe\nVersion: 0.1\n", encoding="utf-8"
    )
    (site / "hub_probe-0.1.dist-info" / "entry_points.txt").write_text(
        "[hub.transports]\nprobe-folder = hub_probe_transport:PROBE\n", encoding="utf-8"
    )
    module = site / "hub_probe_transport.py"
    module.write_text(_PROBE_MODULE.format(more=""), encoding="utf-8")
    (tmp_path / "network").mkdir()
    shutil.copytree(ROOT / "mappings", tmp_path / "network" / "mappings")
    path = tmp_path / "network" / "connectors.yaml"
    path.write_text(
        "version: 1\n"
        "parties: [{id: atelier-dupont, role: repairer, name: AD}]\n"
        "connectors:\n"
        "  - {name: ad-status, partner: atelier-dupont, mapping: mappings/atelier-dupont.yaml,\n"
        "     message: status, transport: {type: probe-folder, folder: in}}\n",
        encoding="utf-8",
    )
    environ = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    passing = _command(path, tmp_path / "kept", **environ)
    assert passing[0] == 0, passing[2]
    assert _command(path, tmp_path / "kept", **environ) == passing
    module.write_text(_PROBE_MODULE.format(more="    interval: int\n"), encoding="utf-8")
    changed = _command(path, tmp_path / "kept", **environ)
    assert changed[0] == 1
    assert "connectors.0.transport.interval: Field required" in changed[2]
    assert changed == _command(path, tmp_path / "another", **environ)
