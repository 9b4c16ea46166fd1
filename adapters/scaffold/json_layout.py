"""A JSON sample: the records are the list of objects with the most items (an answer's
``events``, or every parcel's ``events``), their fields the scalar values found in them,
and ``^`` fields the enclosing object's scalar values (the parcel's number)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from adapters.codecs.json.codec import JsonCodec
from adapters.codecs.json.spec import JsonCodecSpec
from adapters.scaffold.layout import Layout, named_fields, records_of, settings_of
from hub.errors import ConfigurationError

__all__ = ["json_layout"]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class _List:
    """Every list of objects reached by one path, and the objects that hold them."""

    path: str
    items: list[dict[str, Any]]
    parents: list[dict[str, Any]]


def _step(key: str) -> str:
    return f".{key}" if _PLAIN_KEY.match(key) else f"[{json.dumps(key, ensure_ascii=False)}]"


def _lists(value: Any, path: str, parent: dict[str, Any] | None, found: dict[str, _List]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _lists(child, path + _step(key), value, found)
    elif isinstance(value, list):
        objects = [item for item in value if isinstance(item, dict)]
        if objects:
            entry = found.setdefault(path + "[*]", _List(path + "[*]", [], []))
            entry.items.extend(objects)
            if parent is not None:
                entry.parents.append(parent)
        for item in value:
            _lists(item, path + "[*]", parent if not isinstance(item, dict) else item, found)


def _scalars(obj: dict[str, Any], prefix: str, out: dict[str, str]) -> None:
    """Scalar values of an object, nested objects included (lists are other records)."""
    for key, value in obj.items():
        path = prefix + _step(key)
        if isinstance(value, dict):
            _scalars(value, path, out)
        elif not isinstance(value, list):
            out.setdefault(path, key if prefix == "$" else f"{prefix[2:]}{_step(key)}")


def json_layout(sample: bytes, sample_name: str) -> Layout:
    """The json codec block for answers like ``sample``, and the records it reads."""
    document = json.loads(sample.decode("utf-8-sig"))
    found: dict[str, _List] = {}
    _lists(document, "$", None, found)
    about: list[str] = []
    if found:
        chosen = max(found.values(), key=lambda f: (len(f.items), f.path.count("[*]")))
        record = chosen.path
        items, parents = chosen.items, chosen.parents
        about.append(f"Records: {record}, the list of objects with the most items ({len(items)}).")
    else:
        record, items, parents = "$", [document] if isinstance(document, dict) else [], []
        about.append("Records: the whole document ($): it holds no list of objects.")
    own: dict[str, str] = {}
    for item in items:
        _scalars(item, "$", own)
    # The enclosing object's scalar values: a parcel's number for each of its events.
    above: dict[str, str] = {}
    for parent in parents:
        for key, value in parent.items():
            if not isinstance(value, dict | list):
                above.setdefault(f"^{_step(key)}", key)
    fields, inherited = named_fields(own, above)
    if above:
        about.append(
            "Fields read with ^ come from the object enclosing each record "
            f"({', '.join(above)}): each record reads its own parent's, never the first's."
        )
    codec = {"type": "json", "record": record, "fields": fields}
    try:
        codec_instance = JsonCodec(JsonCodecSpec.model_validate(settings_of(codec)))
    except (ConfigurationError, ValueError) as exc:
        raise ConfigurationError(
            f"{sample_name}: the drafted json codec is refused: {exc}"
        ) from exc
    records, rejects = records_of(codec_instance.decode(sample, source=sample_name))
    return Layout(
        codec=codec,
        records=records,
        order=list(fields),
        rejects=rejects,
        about=about,
        inherited=inherited,
    )
