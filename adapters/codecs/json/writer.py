"""Writing one partner JSON document from one record: each field, in the mapping's order,
creates the objects and lists on its path and sets its value, typed by the path's suffix
(``:number``, ``:boolean``, ``:json``; a string otherwise). None writes nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from adapters.codecs.errors import EncodeError
from adapters.codecs.json.paths import Each, Index, JsonPath, Key, Repeat
from adapters.codecs.json.reader import FieldReader
from adapters.codecs.json.values import Number, dump, loads
from hub.errors import ConfigurationError

__all__ = ["DocumentWriter"]

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_REPEATED_KEY = re.compile(r"(?P<name>.+)\.(?P<n>[1-9][0-9]*)")


class DocumentWriter:
    """Builds the document of one record from the mapping's fields."""

    def __init__(self, fields: Sequence[FieldReader], document_fields: Mapping[str, str]) -> None:
        self._fields = fields
        self._document_fields = document_fields

    def document(self, record: Mapping[str, str | None]) -> bytes:
        """The record as one compact UTF-8 JSON document.

        Raises EncodeError for an unknown field, a value its type suffix refuses (``3,2``
        for ``:number``) or two paths that collide.
        """
        self._check_record(record)
        holder: list[Any] = [None]
        for reader in self._fields:  # the mapping's order is the document's key order
            name, path = reader.name, reader.path
            if path.split_repeat() is None:
                value = record.get(name)
                if value is not None:
                    self._put(holder, path, name, value, None)
                continue
            numbered = []
            for key, value in record.items():
                found = _REPEATED_KEY.fullmatch(key)
                if found and found["name"] == name and value is not None:
                    numbered.append((int(found["n"]), key, value))
            for n, key, value in sorted(numbered):
                self._put(holder, path, key, value, n)
        document = holder[0] if holder[0] is not None else {}
        try:
            return dump(document).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EncodeError(f"a value holds {exc.object[exc.start]!r}, not UTF-8") from None

    def _check_record(self, record: Mapping[str, str | None]) -> None:
        """Every key a field of the mapping (``name.N`` for a ``[{n}]`` field), every value text."""
        paths = {reader.name: reader.path for reader in self._fields}
        bad = [
            f"{name!r} ({path.text})"
            for name, path in paths.items()
            if any(
                isinstance(s, Each) or (isinstance(s, Index) and s.index < 0) for s in path.steps
            )
        ]
        if bad:
            raise ConfigurationError(
                f"these field paths cannot be written ([*] and negative indexes only read): "
                f"{', '.join(bad)}"
            )
        for key, value in record.items():
            if value is not None and not isinstance(value, str):
                raise EncodeError(
                    f"field {key!r}: expected text or None, got {type(value).__name__}"
                )
            if not _writes(paths, key) and key not in self._document_fields:
                raise EncodeError(f"field {key!r} is not in the mapping")

    def _put(self, holder: list[Any], path: JsonPath, key: str, text: str, n: int | None) -> None:
        """Set one value, creating the objects and lists on its path."""
        value = _typed(key, path, text)
        container: Any = holder
        slot: str | int = 0
        for step in path.steps:
            current = container[slot]
            if isinstance(step, Key):
                if current is None:
                    current = container[slot] = {}
                elif not isinstance(current, dict):
                    raise _crossing(key, path)
                current.setdefault(step.name, None)
                slot = step.name
            else:
                if current is None:
                    current = container[slot] = []
                elif not isinstance(current, list):
                    raise _crossing(key, path)
                index = (n or 1) - 1 if isinstance(step, Repeat) else cast(Index, step).index
                current.extend([None] * (index + 1 - len(current)))
                slot = index
            container = current
        if container[slot] is not None:
            raise EncodeError(f"field {key!r}: path {path.text} is written twice")
        container[slot] = value


def _crossing(key: str, path: JsonPath) -> EncodeError:
    return EncodeError(f"field {key!r}: path {path.text} goes through a value another field wrote")


def _writes(paths: Mapping[str, JsonPath], key: str) -> bool:
    """Whether a record key names a field: ``name``, or ``name.N`` for a ``[{n}]`` field.

    Document fields are read from documents and copied to records, never written: a key
    naming one is accepted and ignored, so that a decoded record encodes again.
    """
    if key in paths:
        return paths[key].split_repeat() is None
    found = _REPEATED_KEY.fullmatch(key)
    return (
        found is not None
        and found["name"] in paths
        and paths[found["name"]].split_repeat() is not None
    )


def _typed(key: str, path: JsonPath, text: str) -> Any:
    """The JSON value a field's text stands for, as its path's type suffix says."""
    if path.hint == "number":
        if not _NUMBER.fullmatch(text):
            raise EncodeError(f"field {key!r}: {text!r} is not a JSON number ({path.text})")
        return Number(text)
    if path.hint == "boolean":
        if text not in ("true", "false"):
            raise EncodeError(f"field {key!r}: {text!r} is not true or false ({path.text})")
        return text == "true"
    if path.hint == "json":
        try:
            return loads(text)
        except (ValueError, RecursionError) as exc:
            raise EncodeError(f"field {key!r}: not JSON ({path.text}): {exc}") from None
    return text
