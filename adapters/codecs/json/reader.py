"""Reading fields by the mapping's paths: a record's fields from the record, document
fields from the document's root. ``[{n}]`` reads a list into numbered keys
(``line_sku.1``, ``line_sku.2``...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.codecs.json.paths import JsonPath, parse_path, select
from adapters.codecs.json.values import joined
from hub.errors import ConfigurationError

__all__ = ["FieldReader", "field_readers", "read_fields"]


@dataclass(frozen=True)
class FieldReader:
    """One field of the mapping: its name and its parsed path."""

    name: str
    path: JsonPath

    def read(self, node: Any, into: dict[str, str | None], enclosing: Sequence[Any] = ()) -> None:
        """Put the field's value (or its numbered values) found under ``node`` into ``into``;
        a ``^`` path reads from the object ``enclosing`` the record instead."""
        if self.path.up:
            node = enclosing[self.path.up - 1] if len(enclosing) >= self.path.up else None
        split = self.path.split_repeat()
        if split is None:
            into[self.name] = joined(select(node, self.path.steps))
            return
        head, tail = split
        items = [item for found in select(node, head) if isinstance(found, list) for item in found]
        for position, item in enumerate(items, start=1):
            into[f"{self.name}.{position}"] = joined(select(item, tail))


def field_readers(paths: Mapping[str, str], what: str) -> list[FieldReader]:
    """The mapping's paths parsed; a bad one is a ConfigurationError naming its field."""
    readers = []
    for name, text in paths.items():
        try:
            path = parse_path(text)
        except ValueError as exc:
            raise ConfigurationError(
                f"{what} {name!r}: path {text!r}: {exc}", setting=(_key(what), name)
            ) from exc
        if path.up and what != "field":
            raise ConfigurationError(
                f"{what} {name!r}: path {text!r}: only a record's fields have an enclosing "
                "object (^); a document field starts with $",
                setting=(_key(what), name),
            )
        readers.append(FieldReader(name, path))
    return readers


def _key(what: str) -> str:
    """The mapping key a kind of field is written under."""
    return "fields" if what == "field" else "document_fields"


def read_fields(
    node: Any, readers: Sequence[FieldReader], enclosing: Sequence[Any] = ()
) -> dict[str, str | None]:
    """Every field the readers find under ``node``, in the mapping's order."""
    values: dict[str, str | None] = {}
    for reader in readers:
        reader.read(node, values, enclosing)
    return values
