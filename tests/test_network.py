"""The network builds each connector once, and again only when its mapping file changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hub.partners.connectors import open_network

ROOT = Path(__file__).resolve().parent.parent


def copy_of_the_network(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    network = tmp_path / "connectors.yaml"
    shutil.copy(ROOT / "connectors.yaml", network)
    return network


def test_a_connector_is_built_once_while_its_mapping_is_unchanged(tmp_path: Path) -> None:
    network = open_network(copy_of_the_network(tmp_path))
    first = network.connector("atelier-dupont-orders")
    assert network.connector("atelier-dupont-orders") is first
    assert network.connector("atelier-dupont-status") is not first, "one per connector"
    assert first.on_stored is not None, "it still carries the network's sync rules"


def test_an_edited_mapping_applies_from_the_next_use(tmp_path: Path) -> None:
    network = open_network(copy_of_the_network(tmp_path))
    before = network.connector("atelier-dupont-orders")
    assert before.mapping.messages["repair_order"].file_name == "ORDRES_{now:%Y%m%d_%H%M%S}.csv"

    mapping = tmp_path / "mappings" / "atelier-dupont.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("ORDRES_{now:", "ORDRES_V2_{now:"), encoding="utf-8")
    stat = mapping.stat()
    os.utime(mapping, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    after = network.connector("atelier-dupont-orders")
    assert after is not before
    assert after.mapping.messages["repair_order"].file_name == "ORDRES_V2_{now:%Y%m%d_%H%M%S}.csv"


def test_an_edited_xsd_applies_from_the_next_use(tmp_path: Path) -> None:
    """The codec gets the XSD's bytes when the connector is built, so the XSD is one of
    the files whose change rebuilds it."""
    network = open_network(copy_of_the_network(tmp_path))
    before = network.connector("techniservice-changes")
    xsd = tmp_path / "mappings" / "techniservice" / "repairs-v2.xsd"
    assert network.connector("techniservice-changes") is before
    xsd.write_bytes(xsd.read_bytes() + b"\n")
    stat = xsd.stat()
    os.utime(xsd, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    after = network.connector("techniservice-changes")
    assert after is not before
    assert str(xsd.resolve()) in {str(path) for path in after.source_files()}
