"""The OpenAPI document as checked in at schemas/openapi.json (compared by a test)."""

from __future__ import annotations

import json
from pathlib import Path

from hub.api.app import create_app
from hub.store.db import Database

FILE_NAME = "openapi.json"


def generated_openapi() -> str:
    """The exact text of the document the code defines (building it touches no database)."""
    app = create_app(Database("sqlite://"))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def export_openapi(directory: Path) -> bool:
    """Write ``directory/openapi.json``; True when its content changed."""
    path = directory / FILE_NAME
    text = generated_openapi()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
