"""connectors.yaml and settings: problems are reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config.network import DEFAULT_DATABASE_URL, database_url, load_network
from hub.errors import ConfigurationError, NextAction

ROOT = Path(__file__).resolve().parent.parent


def test_the_repository_network_file_is_valid() -> None:
    network = load_network(ROOT / "connectors.yaml")
    roles = {party.id: party.role.value for party in network.parties}
    assert roles["atelier-dupont"] == "repairer"
    assert roles["colis-express"] == "carrier"
    assert roles["pieces-plus"] == "parts_supplier"
    assert roles["maison-electro"] == roles["bricomarket"] == "retailer"


def _load(tmp_path: Path, text: str) -> ConfigurationError:
    path = tmp_path / "connectors.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_network(path)
    assert caught.value.action is NextAction.FIX_CONFIGURATION
    return caught.value


def test_a_party_listed_twice_is_refused(tmp_path: Path) -> None:
    error = _load(
        tmp_path,
        "version: 1\nparties:\n"
        "  - {id: shop, role: retailer, name: A}\n"
        "  - {id: shop, role: retailer, name: B}\n",
    )
    assert "party id 'shop' is listed twice (items 0 and 1)" in error.message
    assert ":3: parties:" in error.message  # where the list starts


def test_each_problem_names_its_line(tmp_path: Path) -> None:
    error = _load(
        tmp_path,
        "version: 2\nparties:\n  - id: ok\n    role: carrier\n    name: Ok\n  - id: BAD ID\n",
    )
    lines = error.message.splitlines()
    assert any(line.endswith(":1: version: Input should be 1") for line in lines)
    assert any(":6: parties.1.id:" in line for line in lines)
    assert any(":6: parties.1.role: Field required" in line for line in lines)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    assert ":3: not valid YAML" in _load(tmp_path, "version: 1\nparties: [\n").message
    twice = _load(tmp_path, "version: 1\nversion: 1\nparties: []\n").message
    assert ":2: not valid YAML: 'version' is listed twice (first on line 1)" in twice
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_network(tmp_path / "absent.yaml")
    assert "expected a mapping" in _load(tmp_path, "- just\n- a list\n").message


def test_database_url_defaults_to_a_local_sqlite_file() -> None:
    assert database_url({}) == DEFAULT_DATABASE_URL == "sqlite:///hub.db"
    assert database_url({"HUB_DATABASE_URL": "postgresql://x@h/db"}) == "postgresql://x@h/db"
