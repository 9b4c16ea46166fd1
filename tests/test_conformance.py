"""Every partner's samples stay pinned by their golden files, and the checks catch drift."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.config.network import load_network
from hub.partners.conformance import run_conformance

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = sorted((ROOT / "mappings").glob("*.yaml"))
PARTIES = load_network(ROOT / "connectors.yaml").parties


@pytest.mark.parametrize("mapping", MAPPINGS, ids=[p.stem for p in MAPPINGS])
def test_every_partner_conforms(mapping: Path) -> None:
    """Every mapping the repository ships: the development install (scripts/venv.sh)
    has all their adapters, so none is skipped here; skipping a mapping whose plugin is
    missing is tested on its own below."""
    report = run_conformance(mapping, ROOT / "fixtures", PARTIES)
    assert report.skipped is None, f"{report.partner}: {report.skipped}"
    failures = [f"{c.name}: {c.detail}" for c in report.checks if not c.passed]
    assert failures == []
    names = [c.name for c in report.checks]
    assert any("reading again adds nothing" in n for n in names)
    assert any("broken configurations are refused" in n for n in names)


def test_a_changed_mapping_shows_a_diff(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    mapping = tmp_path / "atelier-dupont.yaml"
    text = (ROOT / "mappings" / "atelier-dupont.yaml").read_text(encoding="utf-8")
    mapping.write_text(text.replace("DIA: diagnosing", "DIA: received"), encoding="utf-8")
    report = run_conformance(mapping, fixtures, PARTIES)
    failed = {c.name: c.detail for c in report.checks if not c.passed}
    assert "status: STATUTS_20261103_1415.csv" in failed
    diff = failed["status: STATUTS_20261103_1415.csv"]
    assert '-{"event"' in diff
    assert '"status": "diagnosing"' in diff
    assert '"status": "received"' in diff


def test_a_changed_rendering_is_caught_byte_for_byte(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    mapping = tmp_path / "atelier-dupont.yaml"
    text = (ROOT / "mappings" / "atelier-dupont.yaml").read_text(encoding="utf-8")
    mapping.write_text(text.replace('format: "%d/%m/%Y"}', 'format: "%Y-%m-%d"}'), "utf-8")
    report = run_conformance(mapping, fixtures, PARTIES)
    failed = [c.name for c in report.checks if not c.passed]
    assert failed == ["repair_order: rendering"]


def test_update_writes_goldens_that_then_pass(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    for golden in (fixtures / "pieces-plus").glob("*.expected.jsonl"):
        golden.unlink()
    mapping = ROOT / "mappings" / "pieces-plus.yaml"
    missing = run_conformance(mapping, fixtures, PARTIES)
    assert not missing.passed
    assert run_conformance(mapping, fixtures, PARTIES, update=True).passed
    assert run_conformance(mapping, fixtures, PARTIES).passed


def test_a_mapping_whose_codec_is_not_installed_is_skipped(tmp_path: Path) -> None:
    """A copy of mappings/ with two partners whose codec no installed package provides,
    one saying which package would: each is skipped with what to install, and every other
    mapping runs and passes as before."""
    mappings = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", mappings)
    text = (ROOT / "mappings" / "pieces-plus.yaml").read_text(encoding="utf-8")
    plugin = text.replace("partner: pieces-plus", "partner: edi-parts")
    (mappings / "edi-parts.yaml").write_text(
        plugin.replace("type: csv", "type: x-not-installed"), encoding="utf-8"
    )
    (mappings / "edi-parts-pkg.yaml").write_text(
        plugin.replace("type: csv", "type: x-not-installed\n      package: hub-codec-x"), "utf-8"
    )
    reports = {
        path.stem: run_conformance(path, ROOT / "fixtures", PARTIES)
        for path in sorted(mappings.glob("*.yaml"))
    }
    assert reports["edi-parts"].skipped == "no installed package provides codec 'x-not-installed'"
    assert reports["edi-parts-pkg"].skipped == (
        "codec 'x-not-installed' is not installed: install hub-codec-x"
    )
    assert not reports["edi-parts"].checks
    ran = {stem: report for stem, report in reports.items() if not stem.startswith("edi-parts")}
    assert set(ran) == {path.stem for path in MAPPINGS}
    assert all(report.skipped is None and report.passed for report in ran.values())


def test_what_an_answer_keeps_is_pinned_and_a_missing_sample_fails(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    mapping = ROOT / "mappings" / "colis-express.yaml"
    sample = fixtures / "colis-express" / "pickup.answer.201.json"
    sample.write_text('{"tracking_number": "CE000000042FR"}', encoding="utf-8")
    changed = run_conformance(mapping, fixtures, PARTIES)
    failed = {c.name: c.detail for c in changed.checks if not c.passed}
    assert list(failed) == ["pickup: answer pickup.answer.201.json"]
    assert (
        '+  "tracking_number": "CE000000042FR"' in failed["pickup: answer pickup.answer.201.json"]
    )

    sample.write_text('{"label_url": "https://labels.example/1.pdf"}', encoding="utf-8")
    unreadable = run_conformance(mapping, fixtures, PARTIES)
    [detail] = [c.detail for c in unreadable.checks if not c.passed]
    assert "tracking_number is required but the answer has no tracking_number" in detail

    sample.unlink()
    missing = run_conformance(mapping, fixtures, PARTIES)
    [detail] = [c.detail for c in missing.checks if not c.passed]
    assert "holds no sample answer" in detail
    assert "pickup.answer.<label>.<ext>" in detail
