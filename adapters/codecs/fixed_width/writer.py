"""Writing records in a partner's fixed-width layout, all or nothing: the header from the
records' ``header.*`` fields, each record followed by its children, then the trailer,
each line padded to the layout's length. A value too wide or a character the encoding
lacks raises FixedWidthEncodeError and nothing is written."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from adapters.codecs.fixed_width.errors import FixedWidthEncodeError
from adapters.codecs.fixed_width.fields import FieldValueError, write_field
from adapters.codecs.fixed_width.spec import FixedWidthCodecSpec

__all__ = ["FixedWidthWriter"]

_NUMBERED = re.compile(r"(?P<name>.+)\.(?P<n>[1-9][0-9]*)")


class FixedWidthWriter:
    """Writes files in one partner's layout."""

    def __init__(self, spec: FixedWidthCodecSpec) -> None:
        self.spec = spec
        emitted = spec.emitted()
        if len(emitted) != 1:
            self._kind = None
        else:
            self._kind = emitted[0]

    def _line(self, kind: str, values: Mapping[str, str | None], index: int) -> str:
        record = self.spec.records[kind]
        width = max([self.spec.line_length or 0, *(f.last for f in record.fields.values())])
        chars = list(record.prefix.ljust(width))
        for name, spec in record.fields.items():
            try:
                text, sign = write_field(spec, values.get(name))
            except FieldValueError as exc:
                raise FixedWidthEncodeError(
                    f"record {index}, {kind} field {name!r}: {exc}"
                ) from None
            chars[spec.start - 1 : spec.last] = text
            if sign is not None and isinstance(spec.sign, int):
                chars[spec.sign - 1] = sign
        return "".join(chars).rstrip(" ") if self.spec.line_length is None else "".join(chars)

    def _children(
        self, kind: str, record: Mapping[str, str | None]
    ) -> list[tuple[str, dict[str, str | None]]]:
        lines: list[tuple[str, dict[str, str | None]]] = []
        for child, spec in self.spec.records.items():
            if spec.child_of != kind:
                continue
            rows: dict[int, dict[str, str | None]] = {}
            for name in spec.fields:
                key = f"{child}.{name}"
                if self.spec.children == "joined":
                    joined = record.get(key)
                    for n, part in enumerate(joined.split("\n") if joined else [], 1):
                        rows.setdefault(n, {})[name] = part
                else:
                    for other, value in record.items():
                        found = _NUMBERED.fullmatch(other)
                        if found and found["name"] == key:
                            rows.setdefault(int(found["n"]), {})[name] = value
            lines.extend((child, rows[n]) for n in sorted(rows))
        return lines

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        """The file for these records; FixedWidthEncodeError writes nothing.

        Each record's type is its ``record`` key, else the one type the layout emits.
        """
        lines: list[str] = []
        ends: list[str] = []
        first = records[0] if records else {}
        for kind, spec in self.spec.records.items():
            if spec.role in ("header", "trailer"):
                prefix = f"{kind}."
                values = {k[len(prefix) :]: v for k, v in first.items() if k.startswith(prefix)}
                if values:
                    (lines if spec.role == "header" else ends).append(self._line(kind, values, 1))
        for index, record in enumerate(records, start=1):
            record_type = record.get("record") or self._kind
            if record_type is None or record_type not in self.spec.records:
                raise FixedWidthEncodeError(
                    f"record {index}: record type {record_type!r} is not known"
                )
            lines.append(self._line(record_type, record, index))
            lines.extend(
                self._line(child, values, index)
                for child, values in self._children(record_type, record)
            )
        terminator = self.spec.line_terminator
        text = "".join(line + terminator for line in lines + ends)
        try:
            return text.encode(self.spec.encoding)
        except UnicodeEncodeError as exc:
            character = text[exc.start]
            line = text.count(terminator, 0, exc.start) + 1
            raise FixedWidthEncodeError(
                f"line {line}: character {character!r} (U+{ord(character):04X}) cannot be "
                f"written in {self.spec.encoding}"
            ) from None
