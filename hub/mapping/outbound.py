"""Applying an outbound mapping: canonical objects in, one partner record out.

Pure. The context is a mapping of names (``case``, ``retailer``, ``shipment``...) to
canonical objects; each column reads a dotted path in it and formats the value the way
the partner wants it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from hub.errors import Location, ModelError, PartnerDataError
from hub.mapping.inbound import field_text
from hub.mapping.spec import AnswerTarget, ColumnSpec, MappingSpec, OutboundSpec
from hub.mapping.values import format_amount
from hub.ports import Codec


class OutboundRenderError(ModelError):
    """A canonical object lacks what the partner's format needs; nothing is sent."""

    def __init__(self, message: str, *, column: str) -> None:
        super().__init__(f"column {column!r}: {message}")
        self.column = column


def resolve_path(context: Mapping[str, Any], path: str) -> Any:
    """Follow ``a.b.c`` through mappings and objects; a missing step gives None."""
    head, *rest = path.split(".")
    value: Any = context.get(head)
    for step in rest:
        if value is None:
            return None
        value = value.get(step) if isinstance(value, Mapping) else getattr(value, step, None)
    return value


class UnreadableAnswer(PartnerDataError):
    """The partner's answer lacks a value the mapping keeps, or cannot be read."""


def answer_values(
    codec: Codec, keep: Mapping[AnswerTarget, Any], body: bytes, *, source: str
) -> dict[AnswerTarget, str]:
    """The values ``keep`` names, read from the answer's first record; raises
    :class:`UnreadableAnswer` saying which is missing or why the answer cannot be read."""
    try:
        first = next(iter(codec.decode(body, source=source)), None)
    except PartnerDataError as problem:  # the whole answer refused (not JSON, too large)
        first = problem
    if first is None or isinstance(first, PartnerDataError):
        why = "it holds no record" if first is None else str(first)
        raise UnreadableAnswer(f"the answer cannot be read: {why}", location=Location(source))
    values: dict[AnswerTarget, str] = {}
    for target, field in keep.items():
        text = field_text(field)(first.fields)
        if text is None:
            if field.required:
                raise UnreadableAnswer(
                    f"{target.value} is required but the answer has no {field.column}",
                    location=Location(source, first.line, field.column),
                    raw=first.raw,
                )
            continue
        values[target] = text
    return values


class OutboundMapping:
    """A compiled outbound message spec of one partner."""

    def __init__(self, mapping: MappingSpec, message: str) -> None:
        self.partner = mapping.partner
        self.message = message
        self.spec: OutboundSpec = mapping.outbound(message)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.spec.columns)

    def render(self, context: Mapping[str, Any]) -> dict[str, str | None]:
        """One partner record from the canonical context."""
        record = {
            name: _render(name, column, context) for name, column in self.spec.columns.items()
        }
        repeat = self.spec.repeat
        if repeat is not None:
            items = resolve_path(context, repeat.over) or ()
            for number, item in enumerate(items, start=1):
                scope = {**context, repeat.item: item}
                for name, column in repeat.columns.items():
                    record[f"{name}.{number}"] = _render(name, column, scope)
        return record

    def file_name(self, *, now: datetime, identifier: str = "") -> str:
        template = self.spec.file_name or f"{self.message}_{{now:%Y%m%d_%H%M%S}}"
        return template.format(now=now, id=identifier)


def required_paths(spec: OutboundSpec) -> list[tuple[str, str]]:
    """Every ``(column, context path)`` a record cannot be written without: a required
    ``from:`` with no default, and each placeholder of a template. Repeated columns are
    left out: their items (parts order lines) exist only once an event asks for them."""
    needed: list[tuple[str, str]] = []
    for name, column in spec.columns.items():
        if column.template is not None:
            needed += [(name, match.group(1)) for match in _PLACEHOLDER.finditer(column.template)]
        elif column.source is not None and column.required and column.default is None:
            needed.append((name, column.source))
    return needed


_PLACEHOLDER = re.compile(r"{([a-z_]+(?:\.[a-z_0-9]+)*)}")


def _fill(template: str, name: str, context: Mapping[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found = resolve_path(context, match.group(1))
        if found is None:
            raise OutboundRenderError(f"{match.group(1)} is empty", column=name)
        return str(found.value if isinstance(found, Enum) else found)

    return _PLACEHOLDER.sub(value, template)


def _render(name: str, column: ColumnSpec, context: Mapping[str, Any]) -> str | None:
    if column.const is not None:
        return column.const
    if column.template is not None:
        return _fill(column.template, name, context)
    assert column.source is not None
    value = resolve_path(context, column.source)
    if value is None or value == "":
        if column.default is not None:
            return column.default
        if column.required:
            raise OutboundRenderError(f"{column.source} is empty", column=name)
        return None
    if isinstance(value, Enum):
        value = value.value
    if column.codes is not None:
        key = str(value)
        if key not in column.codes:
            known = ", ".join(sorted(column.codes))
            raise OutboundRenderError(f"no partner code for {key!r} (known: {known})", column=name)
        return column.codes[key]
    if isinstance(value, datetime) and column.format == "iso8601-utc":
        if value.utcoffset() is None:
            raise OutboundRenderError("a time without offset cannot be written in UTC", column=name)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime | date):
        return value.strftime(column.format) if column.format else value.isoformat()
    if isinstance(value, Decimal):
        return format_amount(value, column.decimal.value if column.decimal else ".")
    if isinstance(value, BaseModel):
        raise OutboundRenderError(f"{column.source} is an object, not a value", column=name)
    return str(value)
