"""The checked network kept for the commands that only read it (issue 17): the same
network as one read and checked, read again whenever anything it was checked with
changed, never holding a secret's value."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import hub.partners.network as network_module
import hub.partners.network_cache as network_cache
from hub.errors import ConfigurationError
from hub.partners.network import Network, open_network
from hub.partners.network_cache import CACHE_DIR_VARIABLE, cache_directory, read_network
from hub.store.db import Database
from hub.store.migrate import upgrade
from tests.test_demo import EXTRA_SECRET, with_a_partner_added
from tests.test_status import modules_loaded_by


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(folder))
    return folder


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every network read and checked (not taken from the cache), by its path."""
    done: list[Path] = []

    def counted(path: Path) -> Network:
        done.append(path)
        return open_network(path)

    monkeypatch.setattr(network_module, "open_network", counted)
    return done


def _copy_of_the_network(folder: Path) -> Path:
    """The repository's network in a folder of its own (its mappings where they are)."""
    return with_a_partner_added(folder)


def test_a_kept_network_is_the_network_read_and_checked(
    tmp_path: Path, cache: Path, checks: list[Path]
) -> None:
    path = _copy_of_the_network(tmp_path)
    first = read_network(path)
    again = read_network(path)
    assert checks == [path], "checked once, then taken from what was kept"
    checked = open_network(path).config.model_dump()
    assert again.config.model_dump() == checked == first.config.model_dump()
    assert again.path == path
    assert [file.name for file in cache.iterdir()] != []
    directions = {spec.name: again.direction(spec.name) for spec in again.config.connectors}
    assert directions == {
        spec.name: open_network(path).direction(spec.name) for spec in again.config.connectors
    }
    # a transport's settings, dropped from the file, are validated again on first use
    spec = again.config.connector("atelier-martin-status")
    assert spec.transport is not None
    assert (
        spec.transport.settings == open_network(path).config.connector(spec.name).adapter.settings
    )
    assert spec.secret_names() == {"private_key": EXTRA_SECRET}


def test_an_edited_network_file_is_read_and_checked_again(
    tmp_path: Path, cache: Path, checks: list[Path]
) -> None:
    path = _copy_of_the_network(tmp_path)
    read_network(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Atelier Martin", "Atelier Martin et fils"), encoding="utf-8")
    edited = read_network(path)
    assert len(checks) == 2
    assert any(party.name == "Atelier Martin et fils" for party in edited.config.parties)
    path.write_text(text.replace("version: 1", "version: 2"), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="version"):
        read_network(path)
    with pytest.raises(ConfigurationError, match="version"):
        read_network(path)  # a network that does not load is never kept
    assert len(checks) == 4


def test_an_edited_mapping_gives_its_direction_again(
    tmp_path: Path, cache: Path, checks: list[Path]
) -> None:
    path = _copy_of_the_network(tmp_path)
    mapping = tmp_path / "atelier-martin.yaml"
    read_network(path)
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("partner: atelier-martin", "partner: atelier-nobody-else"))
    with pytest.raises(ConfigurationError, match="is for 'atelier-nobody-else'"):
        read_network(path).direction("atelier-martin-status")
    assert len(checks) == 1, "the direction is checked against its mapping's stamp"


def test_a_changed_module_or_installed_package_reads_the_network_again(
    tmp_path: Path, cache: Path, checks: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What checked the network is part of what was kept: a module's file (the hub's,
    an adapter's, a library's) edited or replaced, a package installed or removed in a
    directory of the import path, or another Python."""
    path = _copy_of_the_network(tmp_path)
    packages = tmp_path / "site"
    packages.mkdir()
    (packages / "hub_cache_probe.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(packages))
    monkeypatch.delitem(sys.modules, "hub_cache_probe", raising=False)
    __import__("hub_cache_probe")

    read_network(path)
    read_network(path)
    assert len(checks) == 1

    (packages / "hub_cache_probe.py").write_text("VALUE = 22\n", encoding="utf-8")
    read_network(path)
    read_network(path)
    assert len(checks) == 2, "an imported module's file changed"

    (packages / "another_adapter.py").write_text("", encoding="utf-8")
    read_network(path)
    assert len(checks) == 3, "a package installed where modules are imported from"

    monkeypatch.setattr(sys, "version", sys.version + " (another build)")
    read_network(path)
    assert len(checks) == 4, "another Python"


def test_no_secret_value_is_kept(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connectors.yaml names the variables; their values, even once read, are not kept."""
    value = "-----BEGIN OPENSSH PRIVATE KEY----- kept-nowhere-0f9e8d"
    monkeypatch.setenv(EXTRA_SECRET, value)
    path = _copy_of_the_network(tmp_path)
    network = open_network(path)
    assert network.config.connector("atelier-martin-status").secret_names()
    read_network(path)
    kept = b"".join(file.read_bytes() for file in cache.iterdir())
    assert EXTRA_SECRET.encode() in kept
    assert value.encode() not in kept


def test_a_kept_file_that_cannot_be_trusted_is_not_read(
    tmp_path: Path, cache: Path, checks: list[Path]
) -> None:
    path = _copy_of_the_network(tmp_path)
    read_network(path)
    (kept,) = cache.iterdir()
    kept.chmod(0o666)
    read_network(path)
    assert len(checks) == 2, "a file others may write is not unpickled"
    (kept,) = cache.iterdir()
    assert kept.stat().st_mode & 0o077 == 0
    kept.write_bytes(b"not a pickle")
    again = read_network(path)
    assert len(checks) == 3
    assert again.config.model_dump() == open_network(path).config.model_dump()


def test_the_cache_directory_is_the_user_s_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, "/somewhere/kept")
    assert cache_directory() == Path("/somewhere/kept")
    monkeypatch.delenv(CACHE_DIR_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache_directory() == Path("/xdg/aftersales-hub")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_directory() == Path(os.path.expanduser("~")) / ".cache" / "aftersales-hub"


_PORTS = ("hub.ports",)
"""The adapters' ports: the network's models do not need them (the retention's store
does, for the archive's message type)."""


@pytest.mark.parametrize(
    ("arguments", "also"),
    [
        (["status"], _PORTS),
        (["runs", "atelier-dupont-status"], _PORTS),
        (["sla"], _PORTS),
        (["retention", "--dry-run"], ()),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_a_reading_command_with_a_kept_network_parses_no_yaml_and_loads_no_adapter(
    tmp_path: Path, cache: Path, arguments: list[str], also: tuple[str, ...]
) -> None:
    """Issue 17: once the network was checked, the next reading command takes it as kept:
    no PyYAML, no adapter's settings module, no lxml (what checking it loads), no ports
    where the command's store does not need them."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(Database(url))
    environ = {**os.environ, "HUB_DATABASE_URL": url, "COLUMNS": "200"}
    environ.pop("HUB_HOME", None)
    loaded = []
    for turn in ("first", "second"):
        modules = tmp_path / f"{turn}.txt"
        loaded.append(modules_loaded_by(arguments, environ, modules))
    checking = ("yaml", "adapters.transports", "adapters.receivers", "lxml", *also)
    assert {"yaml", "adapters.transports.sftp"} <= loaded[0], "the first one checks it"
    found = sorted(
        name
        for name in loaded[1]
        for prefix in checking
        if name == prefix or name.startswith(f"{prefix}.")
    )
    assert found == [], f"hub {' '.join(arguments)} imported {found}"


def test_a_kept_file_of_another_shape_is_read_as_none(
    tmp_path: Path, cache: Path, checks: list[Path]
) -> None:
    """Another release may keep other fields under the same name: never an error."""
    path = _copy_of_the_network(tmp_path)
    older = object.__new__(network_cache._Kept)
    older.__dict__["format"] = 1  # a release that kept less
    kept_at = cache / f"network-{network_cache._digest(str(path.resolve()))}.pickle"
    network_cache._store(kept_at, older)
    assert kept_at.exists()
    assert read_network(path).config.model_dump() == open_network(path).config.model_dump()
    assert checks == [path]
