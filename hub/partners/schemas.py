"""JSON Schemas generated from the code: the model and the config file formats.

The files in ``schemas/`` are outputs, never hand-edited: `hub schemas export` writes
them and a test fails when they drift from what the code generates. The config formats
name adapters generically (``type`` plus options); each built-in adapter's options have
their own schema under ``schemas/adapters/<kind>/<name>.schema.json``, exported from the
settings model it registers. Third-party adapters' schemas are shown by
`hub adapters list --json`, not written here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hub.config.network import NetworkConfig
from hub.config.registry import installed
from hub.mapping.spec import MappingSpec
from hub.model import Case, Event, PartsOrder, Party, Quote, Shipment, Visit
from hub.ports import AdapterKind

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


HUB_PACKAGE = "aftersales-hub"
"""The distribution whose adapters are built in (and exported to ``schemas/adapters``)."""


def adapter_schemas() -> dict[str, dict[str, Any]]:
    """Relative file name -> schema of every built-in adapter's settings."""
    schemas = {}
    for kind in AdapterKind:
        for name, found in sorted(installed(kind).items()):
            if found.package != HUB_PACKAGE:
                continue
            schema = found.info.settings.model_json_schema(mode="validation")
            schemas[f"adapters/{kind.value}/{name}.schema.json"] = {
                "$schema": DIALECT,
                "$id": f"urn:aftersales-hub:schema:adapters:{kind.value}:{name}",
                **schema,
            }
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """Relative file name -> exact text of every schema the code defines."""
    files = {f"{name}.schema.json": render(schema_for(name)) for name in SCHEMA_MODELS}
    files.update({name: render(schema) for name, schema in adapter_schemas().items()})
    return files


def export(directory: Path) -> list[Path]:
    """Write every schema; returns the files whose content changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for file_name, text in generated().items():
        path = directory / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def drift(directory: Path) -> list[str]:
    """Schema files that are missing, differ from the code's, or no longer generated."""
    expected = generated()
    present = [path.relative_to(directory).as_posix() for path in _schema_files(directory)]
    stale = sorted(name for name in present if name not in expected)
    differing = [
        file_name
        for file_name, text in expected.items()
        if not (directory / file_name).exists()
        or (directory / file_name).read_text(encoding="utf-8") != text
    ]
    return differing + stale


def _schema_files(directory: Path) -> list[Path]:
    return [*directory.glob("*.schema.json"), *directory.glob("adapters/*/*.schema.json")]
