"""The checked-in OpenAPI document (schemas/openapi.json) is exactly what the code serves."""

from __future__ import annotations

import json
from pathlib import Path

from hub.api.openapi_export import FILE_NAME, export_openapi, generated_openapi

ROOT = Path(__file__).resolve().parent.parent
CHECKED_IN = ROOT / "schemas" / FILE_NAME


def test_checked_in_openapi_document_matches_the_code() -> None:
    assert CHECKED_IN.exists(), "run `hub schemas export` and commit schemas/openapi.json"
    assert CHECKED_IN.read_text(encoding="utf-8") == generated_openapi(), (
        "the API changed: run `hub schemas export` and commit schemas/openapi.json"
    )


def test_export_writes_only_when_the_document_changed(tmp_path: Path) -> None:
    assert export_openapi(tmp_path) is True
    assert (tmp_path / FILE_NAME).read_bytes() == CHECKED_IN.read_bytes()
    assert export_openapi(tmp_path) is False
    (tmp_path / FILE_NAME).write_text("{}", encoding="utf-8")
    assert export_openapi(tmp_path) is True


def test_the_document_describes_the_versioned_api_and_its_errors() -> None:
    document = json.loads(generated_openapi())
    assert document["info"]["version"] == "1.0.0"
    assert all(path.startswith("/v1/") for path in document["paths"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
    feed = document["paths"]["/v1/feed"]["get"]
    limit = next(p for p in feed["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500
