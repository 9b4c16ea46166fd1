"""The path language of the JSON codec: ``$.events[*]``, ``$.location.city``,
``$.lines[{n}].sku``, ``$.parcel.weight_kg:number``, parsed once when a mapping is loaded
and walked to the values a path reaches."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from adapters.codecs.json.values import kind

__all__ = [
    "Each",
    "Index",
    "JsonPath",
    "Key",
    "Repeat",
    "Step",
    "TypeHint",
    "WrongKind",
    "parse_path",
    "select",
    "select_records",
]

TypeHint = Literal["string", "number", "boolean", "json"]
_HINTS: tuple[TypeHint, ...] = ("string", "number", "boolean", "json")
_STEP = re.compile(
    r"""\.(?P<key>[A-Za-z_][\w-]*)"""
    r"""|\[(?:(?P<each>\*)|(?P<index>-?[0-9]+)|(?P<repeat>\{n\})"""
    r"""|"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>[^']*)')\]"""
)
_HINT = re.compile(r":(?P<hint>[a-z]+)")


@dataclass(frozen=True)
class Key:
    """``.name`` or ``["odd key"]``: a key of an object."""

    name: str


@dataclass(frozen=True)
class Index:
    """``[0]``: one element of a list (``[-1]`` the last, reading only)."""

    index: int


@dataclass(frozen=True)
class Each:
    """``[*]``: every element of a list (reading only)."""


@dataclass(frozen=True)
class Repeat:
    """``[{n}]``: a list read into, and written from, numbered keys."""


Step = Key | Index | Each | Repeat


@dataclass(frozen=True)
class JsonPath:
    """A parsed path: its steps and the type written at its end."""

    text: str
    steps: tuple[Step, ...]
    hint: TypeHint = "string"
    up: int = 0
    """``^.number``: read from the object enclosing the record (``^^`` the one above it)."""

    def split_repeat(self) -> tuple[tuple[Step, ...], tuple[Step, ...]] | None:
        """The steps before and after ``[{n}]``, or None when the path has none."""
        for position, step in enumerate(self.steps):
            if isinstance(step, Repeat):
                return self.steps[:position], self.steps[position + 1 :]
        return None


def parse_path(text: str) -> JsonPath:
    """Parse ``$.a.b[0]["c d"][*]:number``, or ``^.number`` from the object enclosing a
    record (``^^`` two up); ValueError says what is wrong."""
    up = len(text) - len(text.lstrip("^"))
    if not text.startswith("$") and not up:
        raise ValueError(
            "a path starts with $ (e.g. $.code, $.events[*]), or with ^ to read the object "
            "enclosing the record (^.number)"
        )
    position = up or 1
    steps: list[Step] = []
    while position < len(text):
        found = _STEP.match(text, position)
        if found is None:
            break
        if found["key"] is not None:
            steps.append(Key(found["key"]))
        elif found["each"]:
            steps.append(Each())
        elif found["index"] is not None:
            steps.append(Index(int(found["index"])))
        elif found["repeat"]:
            steps.append(Repeat())
        elif found["dq"] is not None:
            steps.append(Key(cast(str, json.loads(f'"{found["dq"]}"'))))
        else:
            steps.append(Key(found["sq"]))
        position = found.end()
    hint: TypeHint = "string"
    if position < len(text):
        suffix = _HINT.fullmatch(text, position)
        if suffix is None or suffix["hint"] not in _HINTS:
            raise ValueError(
                f'cannot read {text[position:]!r}: steps are .key, ["key"], [*], [0] or '
                f"[{{n}}], and a type suffix is one of :{', :'.join(_HINTS)}"
            )
        hint = cast(TypeHint, suffix["hint"])
    if sum(isinstance(step, Repeat) for step in steps) > 1:
        raise ValueError("only one step may be [{n}]")
    return JsonPath(text, tuple(steps), hint, up)


class WrongKind(Exception):
    """A step met the wrong kind of value: a key on a list, an index on an object."""

    def __init__(self, step: Step, value: Any) -> None:
        wanted = "an object" if isinstance(step, Key) else "a list"
        super().__init__(f"expected {wanted}, found {kind(value)}")


def select_records(start: Any, steps: Sequence[Step]) -> list[tuple[Any, tuple[Any, ...]]]:
    """Every value the record path reaches, each with the objects enclosing it, nearest
    first (lists skipped): what ``^`` paths read. Raises WrongKind like a strict select."""
    nodes: list[tuple[Any, tuple[Any, ...]]] = [(start, ())]
    for step in steps:
        reached: list[tuple[Any, tuple[Any, ...]]] = []
        for node, enclosing in nodes:
            inner = (node, *enclosing) if isinstance(node, dict) else enclosing
            for value in select(node, (step,), strict=True):
                reached.append((value, inner))
        nodes = reached
    return nodes


def select(start: Any, steps: Sequence[Step], *, strict: bool = False) -> list[Any]:
    """Every value a path reaches. Missing keys and nulls give nothing; the wrong kind of
    value gives nothing too, or raises WrongKind when ``strict``."""
    nodes = [start]
    for step in steps:
        reached: list[Any] = []
        for node in nodes:
            if isinstance(step, Key):
                if isinstance(node, dict):
                    if step.name in node:
                        reached.append(node[step.name])
                    continue
            elif isinstance(node, list):
                if isinstance(step, Index):
                    if -len(node) <= step.index < len(node):
                        reached.append(node[step.index])
                else:
                    reached.extend(node)
                continue
            if strict and node is not None:
                raise WrongKind(step, node)
        nodes = reached
    return nodes
