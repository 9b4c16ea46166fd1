"""The checked-in JSON Schemas are exactly what the code generates, and they work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from hub.model import Case
from hub.partners.schemas import SCHEMA_MODELS, drift, export, generated

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
CASES = sorted((ROOT / "fixtures" / "cases").glob("*.json"))


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_checked_in_schemas_match_the_code() -> None:
    assert drift(SCHEMAS) == [], "run `hub schemas export` and commit schemas/"


def test_export_reproduces_the_directory_exactly(tmp_path: Path) -> None:
    export(tmp_path)
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.schema.json")}
    for name in written:
        assert (tmp_path / name).read_bytes() == (SCHEMAS / name).read_bytes()
    assert written == {p.relative_to(SCHEMAS).as_posix() for p in SCHEMAS.rglob("*.schema.json")}
    assert {"adapters/transport/sftp.schema.json", "adapters/codec/csv.schema.json"} <= written


def test_drift_names_changed_missing_and_stale_files(tmp_path: Path) -> None:
    export(tmp_path)
    (tmp_path / "case.schema.json").write_text("{}", encoding="utf-8")
    (tmp_path / "event.schema.json").unlink()
    (tmp_path / "old.schema.json").write_text("{}", encoding="utf-8")
    assert sorted(drift(tmp_path)) == ["case.schema.json", "event.schema.json", "old.schema.json"]


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_every_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = json.loads(generated()[f"{name}.schema.json"])
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_cases_written_from_the_partner_samples_validate(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    errors = list(_validator("case").iter_errors(document))
    assert errors == []
    assert Case.model_validate(document).reference == path.stem


def test_fixture_cases_cover_both_repairers_samples() -> None:
    references = {
        ref["party"]
        for path in CASES
        for ref in json.loads(path.read_text(encoding="utf-8"))["references"]
    }
    assert {"atelier-dupont", "techniservice"} <= references


def _sample_case() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "fixtures/cases/ME-000123.json").read_text())
    return document


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.pop("retailer"), ""),  # "required" is reported at the root
        (lambda d: d.update(opened_at="2026-10-30T16:20:00"), "opened_at"),
        (lambda d: d.update(coverage="lifetime"), "coverage"),
        (lambda d: d["product"].update(purchase_date="30/10/2026"), "product.purchase_date"),
        (lambda d: d.update(colour="red"), ""),
    ],
    ids=["no-retailer", "naive-time", "unknown-coverage", "french-date", "unknown-field"],
)
def test_the_schema_refuses_what_the_model_refuses(change: Any, path: str) -> None:
    document = _sample_case()
    change(document)
    errors = list(_validator("case").iter_errors(document))
    assert errors, "the schema accepted an invalid case"
    assert any(".".join(str(p) for p in e.absolute_path) == path for e in errors)
    with pytest.raises(ValidationError):
        Case.model_validate(document)
