"""The open adapter kit: adapters describe themselves, configurations are checked against
their own settings, and a package that is not the hub's plugs in like a built-in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from hub.config.connector_spec import ConnectorSpec, TransportRef
from hub.config.network import load_network
from hub.config.registry import (
    AdapterNotInstalled,
    adapter,
    attached_files,
    installed,
    secret_names,
)
from hub.errors import ConfigurationError
from hub.mapping.loader import load_mapping
from hub.partners.connectors import check_network, open_network
from hub.partners.schemas import adapter_schemas
from hub.ports import AdapterInfo, AdapterKind, Capability
from hub.store.db import Database
from tests.test_cli import ROOT, run

EXAMPLE = ROOT / "examples" / "hub-example-adapters"
SAMPLE = EXAMPLE / "fixtures" / "atelier-exemple" / "statuts_20261104.kv"


# ---------------------------------------------------------------------------- registry


def test_built_ins_and_the_example_register_alike() -> None:
    transports = installed(AdapterKind.TRANSPORT)
    codecs = installed(AdapterKind.CODEC)
    assert {"sftp", "local-dir", "http-pull", "http-post"} <= set(transports)
    assert {"csv", "xml", "json"} <= set(codecs)
    for found in [*transports.values(), *codecs.values()]:
        assert isinstance(found.info, AdapterInfo)
    assert transports["sftp"].package == "aftersales-hub"
    assert transports["jsonl-spool"].package == "hub-example-adapters"
    assert codecs["keyvalue"].package == "hub-example-adapters"
    assert codecs["csv"].info.can(Capability.MANY_RECORDS)
    assert not codecs["xml"].info.can(Capability.MANY_RECORDS)


def test_a_pull_pages_only_with_a_page_path() -> None:
    pull = adapter(AdapterKind.TRANSPORT, "http-pull").info
    paged = pull.settings.model_validate({"base_url": "https://x.example", "page_path": "/c"})
    items = pull.settings.model_validate({"base_url": "https://x.example", "item_path": "/{key}"})
    assert Capability.PAGED in pull.enabled(paged)
    assert pull.enabled(items) == {Capability.PER_ITEM}


def test_secrets_are_found_by_the_env_suffix_of_any_settings() -> None:
    sftp = TransportRef.model_validate(
        {"type": "sftp", "host": "h", "username": "u", "host_key": "SHA256:x",
         "private_key_env": "KEY", "remote_dir": "/out"}
    )  # fmt: skip
    assert secret_names(sftp.settings) == {"private_key": "KEY"}
    http = TransportRef.model_validate(
        {"type": "http-pull", "base_url": "https://x.example",
         "header_env": {"X-Api-Key": "K"}, "bearer_token_env": "T"}
    )  # fmt: skip
    assert secret_names(http.settings) == {"header:X-Api-Key": "K", "bearer_token": "T"}


def test_a_file_next_to_the_mapping_is_a_settings_marker() -> None:
    xml = adapter(AdapterKind.CODEC, "xml").info.settings
    settings = xml.model_validate({"record": "/a", "fields": {}, "xsd": "a.xsd"})
    assert {name: marker.content_field for name, marker in attached_files(settings).items()} == {
        "xsd": "xsd_document"
    }


def test_an_adapter_not_installed_says_which_package_to_install() -> None:
    named_ref = TransportRef.model_validate({"type": "ftp", "package": "hub-ftp-adapters"})
    with pytest.raises(AdapterNotInstalled, match="needs the package hub-ftp-adapters") as named:
        _ = named_ref.settings
    assert named.value.package == "hub-ftp-adapters"
    with pytest.raises(AdapterNotInstalled, match="no installed package provides") as unnamed:
        _ = TransportRef.model_validate({"type": "ftp"}).settings
    assert "jsonl-spool" in unnamed.value.message
    assert "sftp" in unnamed.value.message


def test_options_are_checked_against_the_adapter_as_the_file_is_read() -> None:
    base = {"name": "c", "partner": "p", "mapping": "m.yaml", "message": "m"}
    with pytest.raises(ValueError, match=r"transport\.folderr"):
        ConnectorSpec.model_validate({**base, "transport": {"type": "jsonl-spool", "folderr": "x"}})
    spec = ConnectorSpec.model_validate({**base, "transport": {"type": "x-later", "a": 1}})
    assert spec.transport.type == "x-later", "a missing adapter is said where it is used"


def test_every_built_in_schema_is_valid_and_the_example_is_not_exported() -> None:
    schemas = adapter_schemas()
    assert "adapters/transport/jsonl-spool.schema.json" not in schemas
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)


# ----------------------------------------------------------------- hub connectors check


def _network(tmp_path: Path, transport: str, codec: str = "") -> Path:
    """The example network in tmp_path, with its transport lines (and codec) replaced."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    mapping = (EXAMPLE / "mappings" / "atelier-exemple.yaml").read_text(encoding="utf-8")
    if codec:
        mapping = mapping.replace('      separator: "="\n', codec)
    (mappings / "atelier-exemple.yaml").write_text(mapping, encoding="utf-8")
    text = (EXAMPLE / "connectors.yaml").read_text(encoding="utf-8")
    start = text.index("    transport:\n")
    end = text.index("    schedule:")
    network = tmp_path / "connectors.yaml"
    network.write_text(text[:start] + transport + text[end:], encoding="utf-8")
    return network


SPOOL = "    transport:\n      type: jsonl-spool\n      folder: spool\n"


def _check(network: Path) -> str:
    result = run("connectors", "check", "--network", str(network), cwd=network.parent)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    return result.stderr


def test_check_names_file_line_and_field_of_a_plugin_option_typo(tmp_path: Path) -> None:
    network = _network(tmp_path, SPOOL + "      patern: '*.jsonl'\n")
    stderr = _check(network)
    line = network.read_text().splitlines().index("      patern: '*.jsonl'") + 1
    assert f"{network}:{line}: connectors.0.transport.patern: Extra inputs" in stderr


def test_check_names_file_line_and_field_of_a_built_in_option_typo(tmp_path: Path) -> None:
    network = _network(
        tmp_path,
        "    transport:\n      type: local-dir\n      path: drop\n      archve_dir: done\n",
    )
    stderr = _check(network)
    line = network.read_text().splitlines().index("      archve_dir: done") + 1
    assert f"{network}:{line}: connectors.0.transport.archve_dir: Extra inputs" in stderr


def test_check_names_the_line_of_a_codec_option_typo_in_the_mapping(tmp_path: Path) -> None:
    network = _network(tmp_path, SPOOL, codec='      separater: "="\n')
    stderr = _check(network)
    mapping = tmp_path / "mappings" / "atelier-exemple.yaml"
    line = mapping.read_text().splitlines().index('      separater: "="') + 1
    assert f"{mapping}:{line}: messages.status.inbound.codec.separater: Extra" in stderr


def test_check_names_an_unknown_adapter_and_the_known_ones(tmp_path: Path) -> None:
    network = _network(tmp_path, "    transport:\n      type: carrier-pigeon\n")
    stderr = _check(network)
    line = network.read_text().splitlines().index("      type: carrier-pigeon") + 1
    assert f"{network}:{line}: connector 'atelier-exemple-status'" in stderr
    assert "no installed package provides a transport named 'carrier-pigeon'" in stderr
    assert "local-dir" in stderr


def test_check_names_the_missing_package_of_a_transport_and_of_a_codec(tmp_path: Path) -> None:
    network = _network(
        tmp_path,
        "    transport:\n      type: as2\n      package: hub-as2-adapters\n      peer: x\n",
    )
    assert "needs the package hub-as2-adapters" in _check(network)
    again = tmp_path / "again"
    again.mkdir()
    network = _network(again, SPOOL)
    mapping = again / "mappings" / "atelier-exemple.yaml"
    text = mapping.read_text().replace("type: keyvalue", "type: x12")
    mapping.write_text(text.replace("hub-example-adapters", "hub-x12-adapters"))
    stderr = _check(network)
    # one line, however long the path: never folded (an editor jumps to file:line)
    [line] = [line for line in stderr.splitlines() if line.startswith(f"error {mapping}:")]
    assert "needs the package hub-x12-adapters" in line


def test_check_network_returns_problems_not_exceptions(tmp_path: Path) -> None:
    network = _network(tmp_path, SPOOL + "      outbox: a/b\n")
    problems = check_network(network)
    assert [p.text for p in problems if "outbox" in p.text]
    with pytest.raises(ConfigurationError, match=r"connectors\.0\.transport\.outbox"):
        load_network(network)


# ------------------------------------------------------------------- hub adapters list


def test_adapters_list_json_shows_kind_package_capabilities_and_schema(tmp_path: Path) -> None:
    result = run("adapters", "list", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]  # JSON lines
    listed = {(a["kind"], a["name"]): a for a in lines if a["loaded"]}
    spool = listed[("transport", "jsonl-spool")]
    assert spool["package"] == "hub-example-adapters"
    assert spool["capabilities"] == ["list", "put"]
    assert "folder" in spool["settings"]["properties"]
    assert listed[("codec", "csv")]["package"] == "aftersales-hub"
    table = run("adapters", "list", cwd=tmp_path)
    assert table.returncode == 0
    assert "keyvalue" in table.stdout


# ------------------------------------------------------------- the example, end to end


def test_the_example_network_checks_previews_and_conforms(tmp_path: Path) -> None:
    network = EXAMPLE / "connectors.yaml"
    checked = run("connectors", "check", "--network", str(network), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    preview = run(
        "ingest", "--connector", "atelier-exemple-status", "--file", str(SAMPLE),
        "--dry-run", "--network", str(network), cwd=tmp_path,
    )  # fmt: skip
    assert preview.returncode == 0, preview.stderr
    events = [json.loads(line) for line in preview.stdout.splitlines()]
    assert [e["status"] for e in events] == ["received", "diagnosing"]
    assert "line 14: line is not key=value" in preview.stderr
    conformance = run(
        "adapters", "test", "atelier-exemple", "--mappings", str(EXAMPLE / "mappings"),
        "--fixtures", str(EXAMPLE / "fixtures"), "--network", str(network), cwd=tmp_path,
    )  # fmt: skip
    assert conformance.returncode == 0, conformance.stdout + conformance.stderr
    assert "FAIL" not in conformance.stdout


def test_the_example_connector_runs_its_spool_once(tmp_path: Path, database: Database) -> None:
    shutil.copytree(EXAMPLE / "mappings", tmp_path / "mappings")
    shutil.copytree(EXAMPLE / "spool", tmp_path / "spool")
    network = tmp_path / "connectors.yaml"
    text = (EXAMPLE / "connectors.yaml").read_text(encoding="utf-8")
    network.write_text(text.replace("folder: spool", f"folder: {tmp_path / 'spool'}"))
    connector = open_network(network).connector("atelier-exemple-status")
    assert load_mapping(connector.mapping_path).messages["status"].codec.type == "keyvalue"
    first = connector.run(database)
    assert first.error is None
    assert first.counts.messages_read == 2
    assert first.counts.events_stored == 2
    again = connector.run(database)
    assert again.counts.messages_seen == 0, "acknowledged messages are not listed again"
