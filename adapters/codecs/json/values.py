"""JSON values as the hub holds them: numbers kept exactly as the partner wrote them
(``212.00`` stays ``212.00``), read and written back, and turned into record text."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "NotJson", "Number", "as_text", "dump", "joined", "kind", "loads"]

MAX_DEPTH = 100
"""Records and values nested deeper are refused (DocumentTooDeep): no partner format is."""


class Number(str):
    """A JSON number kept as the partner wrote it: no float rounding, no 212.00 -> 212.0."""

    __slots__ = ()


class NotJson(ValueError):
    """A constant (NaN, Infinity) Python would read but JSON does not have."""


def _refuse_constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON value")


def loads(text: str) -> Any:
    """Parse JSON text, numbers kept as written; NotJson for NaN and Infinity."""
    return json.loads(text, parse_int=Number, parse_float=Number, parse_constant=_refuse_constant)


def dump(value: Any, depth: int = 0) -> str:
    """Compact JSON, numbers written back exactly as read; deeper than MAX_DEPTH refused."""
    if depth > MAX_DEPTH:
        raise RecursionError(f"nested more than {MAX_DEPTH} levels")
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Number):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(dump(item, depth + 1) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                json.dumps(key, ensure_ascii=False) + ":" + dump(item, depth + 1)
                for key, item in value.items()
            )
            + "}"
        )
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def as_text(value: Any) -> str | None:
    """A value as record text: objects and lists as compact JSON, null as None."""
    if value is None:
        return None
    if isinstance(value, Number):
        return str.__str__(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return dump(value)


def joined(values: list[Any]) -> str | None:
    """Several values as one field: their texts joined with a line feed."""
    texts = [found for found in map(as_text, values) if found is not None]
    return "\n".join(texts) if texts else None


def kind(value: Any) -> str:
    """What a JSON value is, for messages: "an object", "a list", "null"..."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Number):
        return "a number"
    return "a string" if isinstance(value, str) else "null"
