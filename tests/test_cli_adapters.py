"""The integrator's commands, run as processes: check, preview, ingest, scaffold, conform."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_cli import ROOT, run

WORKSHOP = ROOT / "fixtures" / "atelier-dupont"


def test_connectors_check_passes_on_the_repository_network(tmp_path: Path) -> None:
    result = run("connectors", "check", "--network", str(ROOT / "connectors.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "every connector and mapping is valid" in result.stdout
    assert "ATELIER_DUPONT_SFTP_KEY" in result.stderr, "an unset secret is a warning"


def test_connectors_check_names_file_line_and_problem(tmp_path: Path) -> None:
    mapping = tmp_path / "broken.yaml"
    text = (ROOT / "mappings" / "atelier-dupont.yaml").read_text(encoding="utf-8")
    mapping.write_text(text.replace("DIA: diagnosing", "DIA: diagnosing\n      DIA: received"))
    network = tmp_path / "connectors.yaml"
    network.write_text(
        "version: 1\n"
        "parties:\n"
        "  - {id: atelier-dupont, role: repairer, name: AD}\n"
        "connectors:\n"
        "  - name: status\n"
        "    partner: atelier-dupont\n"
        "    mapping: broken.yaml\n"
        "    message: status\n"
        "    transport: {type: sftp, host: h, username: u, host_key: 'SHA256:x',\n"
        "                password: hunter2, remote_dir: /out}\n",
        encoding="utf-8",
    )
    result = run("connectors", "check", "--network", str(network), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{network}:10: connectors.0.transport.password: Extra inputs" in result.stderr
    assert "hunter2" not in result.stderr.replace("password: hunter2", "")
    network.write_text(network.read_text().replace("password: hunter2", "password_env: X"))
    again = run("connectors", "check", "--network", str(network), cwd=tmp_path)
    assert again.returncode == 1
    assert "'DIA' is listed twice" in again.stderr
    assert str(mapping) in again.stderr


def test_dry_run_prints_events_and_rejects_and_stores_nothing(tmp_path: Path) -> None:
    result = run(
        "ingest",
        "--connector",
        "atelier-dupont-status",
        "--file",
        str(WORKSHOP / "STATUTS_20261104_0900_bad.csv"),
        "--dry-run",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 6
    assert events[0]["status"] == "repaired"
    assert "recorded_at" not in events[0]
    assert "rejected STATUTS_20261104_0900_bad.csv, line 3: expected 10 fields" in result.stderr
    assert "raw: 'AD-2026-" in result.stderr
    assert "6 event(s), 7 reject(s); nothing stored" in result.stderr
    assert not (tmp_path / "hub.db").exists()


def test_a_message_rejected_whole_fails_the_dry_run(tmp_path: Path) -> None:
    """A document the record path reaches nothing in (the carrier renamed its list) is
    not "0 events": it is rejected, and the command says so with exit 1."""
    renamed = tmp_path / "parcel_events_CE1.json"
    renamed.write_text('{"tracking_number": "CE1", "evts": [{"id": "e1"}]}', encoding="utf-8")
    result = run(
        "ingest", "--connector", "colis-express-parcels", "--file", str(renamed), "--dry-run",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "record path $.events[*] reaches nothing in this document" in result.stderr
    assert "parcel_events_CE1.json was rejected whole" in result.stderr


def test_ingest_stores_once_and_recognises_the_file(tmp_path: Path) -> None:
    assert run("up", cwd=tmp_path).returncode == 0
    assert (
        run("cases", "open", str(ROOT / "fixtures/cases/ME-000123.json"), cwd=tmp_path).returncode
        == 0
    )
    sample = str(WORKSHOP / "STATUTS_20261103_1415.csv")
    first = run("ingest", "--connector", "atelier-dupont-status", "--file", sample, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "14 record(s), 14 event(s) stored" in first.stdout
    assert "11 without a known case" in first.stdout
    second = run("ingest", "--connector", "atelier-dupont-status", "--file", sample, cwd=tmp_path)
    assert "was ingested before" in second.stdout
    timeline = run("cases", "show", "ME-000123", "--json", cwd=tmp_path)
    statuses = [json.loads(line)["status"] for line in timeline.stdout.splitlines()]
    assert statuses == ["created", "received", "diagnosing", "quote_pending"]


def test_a_new_partner_from_a_sample_to_a_green_conformance_run(tmp_path: Path) -> None:
    sample = tmp_path / "STATUTS_20261103_1415.csv"
    shutil.copy(WORKSHOP / "STATUTS_20261103_1415.csv", sample)
    mappings, fixtures = tmp_path / "mappings", tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures" / "cases", fixtures / "cases")
    folders = ["--mappings", str(mappings), "--fixtures", str(fixtures)]
    created = run(
        "adapters", "new", "atelier-martin", "--sample", str(sample), *folders, cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    draft = (mappings / "atelier-martin.yaml").read_text(encoding="utf-8")
    assert 'delimiter: ";"' in draft
    assert "encoding: latin-1" in draft
    assert '"DEV": null' in draft
    assert "map the 11 code(s)" in created.stdout
    assert (fixtures / "atelier-martin" / sample.name).exists()

    test = ["adapters", "test", "atelier-martin", *folders]
    assert run(*test, cwd=tmp_path).returncode == 1, "no golden file yet"
    assert run(*test, "--update", cwd=tmp_path).returncode == 0
    passed = run(*test, cwd=tmp_path)
    assert passed.returncode == 0, passed.stderr
    golden = (fixtures / "atelier-martin" / f"{sample.name}.expected.jsonl").read_text("utf-8")
    assert '"raw_code": "DEV"' in golden
    assert '"status": null' in golden, "codes not mapped yet stay visible as unmapped"

    again = run(
        "adapters", "new", "atelier-martin", "--sample", str(sample), *folders, cwd=tmp_path
    )
    assert again.returncode == 2
    assert "use --force" in again.stderr


def test_adapters_test_skips_a_partner_whose_codec_is_not_installed(tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    text = (ROOT / "mappings" / "pieces-plus.yaml").read_text(encoding="utf-8")
    plugin = text.replace("type: csv", "type: x-not-installed\n      package: hub-codec-x")
    (mappings / "pieces-plus.yaml").write_text(plugin, encoding="utf-8")
    result = run(
        *("adapters", "test", "pieces-plus", "--mappings", str(mappings)),
        *("--fixtures", str(ROOT / "fixtures"), "--network", str(ROOT / "connectors.yaml")),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "pieces-plus: skipped" in result.stdout
    assert "codec 'x-not-installed' is not installed: install hub-codec-x" in result.stdout
