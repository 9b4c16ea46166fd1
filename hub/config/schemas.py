"""JSON Schemas generated from the code: the model and the config file formats.

The files in ``schemas/`` are outputs, never hand-edited: `hub schemas export` writes
them and a test fails when they drift from what the code generates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hub.config.network import NetworkConfig
from hub.mapping.spec import MappingSpec
from hub.model import Case, Event, PartsOrder, Party, Quote, Shipment, Visit

DIALECT = "https://json-schema.org/draft/2020-12/schema"

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "case": Case,
    "event": Event,
    "party": Party,
    "shipment": Shipment,
    "quote": Quote,
    "parts-order": PartsOrder,
    "visit": Visit,
    "connectors": NetworkConfig,
    "mapping": MappingSpec,
}


def schema_for(name: str) -> dict[str, Any]:
    model = SCHEMA_MODELS[name]
    schema = model.model_json_schema(mode="validation")
    return {"$schema": DIALECT, "$id": f"urn:aftersales-hub:schema:{name}", **schema}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """File name -> exact text of every schema the code defines."""
    return {f"{name}.schema.json": render(schema_for(name)) for name in SCHEMA_MODELS}


def export(directory: Path) -> list[Path]:
    """Write every schema; returns the files whose content changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for file_name, text in generated().items():
        path = directory / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def drift(directory: Path) -> list[str]:
    """Schema files that are missing, differ from the code's, or no longer generated."""
    expected = generated()
    stale = sorted(
        path.name for path in directory.glob("*.schema.json") if path.name not in expected
    )
    differing = [
        file_name
        for file_name, text in expected.items()
        if not (directory / file_name).exists()
        or (directory / file_name).read_text(encoding="utf-8") != text
    ]
    return differing + stale
