"""Reading a fixed-width file: each line's record type by its prefix, its fields by
position; children attached to the record they follow; file controls checked before
any record leaves, so that a refused file yields nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from adapters.codecs.controls import TypedLine, check_controls
from adapters.codecs.fixed_width.errors import FixedWidthFileError, FixedWidthLineError
from adapters.codecs.fixed_width.fields import FieldValueError, read_field
from adapters.codecs.fixed_width.spec import FixedWidthCodecSpec, RecordSpec
from adapters.codecs.text import UndecodableByteError, ascii_compatible, decode_line
from hub.errors import Location, PartnerDataError
from hub.ports import DecodeResult, Record

__all__ = ["FixedWidthReader"]


@dataclass
class _Group:
    """An emitted record and the children attached to it so far."""

    kind: str
    line: int
    fields: dict[str, str | None]
    raw: list[str]
    children: dict[str, list[dict[str, str | None]]] = field(default_factory=dict)


class FixedWidthReader:
    """Reads files in one partner's layout."""

    def __init__(self, spec: FixedWidthCodecSpec) -> None:
        self.spec = spec
        self._by_prefix = sorted(spec.records.items(), key=lambda item: -len(item[1].prefix))
        self._emitted = set(spec.emitted())
        self._children = {
            name: [c for c, r in spec.records.items() if r.child_of == name]
            for name in spec.records
        }

    def _lines(self, content: bytes, source: str) -> list[tuple[int, str | UndecodableByteError]]:
        encoding = self.spec.encoding
        if ascii_compatible(encoding):
            pieces = content.split(b"\n")
            if pieces and not pieces[-1]:
                pieces.pop()
            return [
                (n, decode_line(piece.removesuffix(b"\r"), encoding, line=n, source=source))
                for n, piece in enumerate(pieces, start=1)
            ]
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError as exc:
            raise FixedWidthFileError(
                f"byte 0x{content[exc.start]:02X} at byte offset {exc.start} is not valid "
                f"{encoding}: lines cannot be told apart, the file is refused",
                location=Location(source),
            ) from None
        texts = text.split("\n")
        if texts and not texts[-1]:
            texts.pop()
        return [(n, t.removesuffix("\r")) for n, t in enumerate(texts, start=1)]

    def _kind(self, text: str) -> tuple[str, RecordSpec] | None:
        for name, record in self._by_prefix:
            if text.startswith(record.prefix):
                return name, record
        return None

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Each emitted record with its children, or a line's error, in file order.

        Raises FileControlError (or FixedWidthFileError) on the first ``next``: a file
        failing a control yields nothing.
        """
        typed: list[TypedLine] = []
        items: list[_Group | PartnerDataError] = []
        last: dict[str, _Group | None] = {}
        length = self.spec.line_length
        for number, decoded in self._lines(content, source):
            text = (decoded.raw or "") if isinstance(decoded, UndecodableByteError) else decoded
            found = self._kind(text)
            if found is None:
                if self.spec.unknown_records == "reject":
                    items.append(
                        FixedWidthLineError(
                            f"unknown record type: no record's prefix starts {text[:8]!r}",
                            location=Location(source, number),
                            raw=text,
                        )
                    )
                continue
            name, record = found
            problem: PartnerDataError | None = (
                decoded if isinstance(decoded, UndecodableByteError) else None
            )
            if length is not None and len(text) > length:
                problem = problem or FixedWidthLineError(
                    f"line is {len(text)} characters long, the layout's is {length}",
                    location=Location(source, number),
                    raw=text,
                )
            padded = text.ljust(max([length or 0, *(f.last for f in record.fields.values())]))
            fields: dict[str, str | None] = {}
            for field_name, field_spec in record.fields.items():
                try:
                    fields[field_name] = read_field(field_spec, padded)
                except FieldValueError as exc:
                    fields[field_name] = padded[field_spec.start - 1 : field_spec.last]
                    problem = problem or FixedWidthLineError(
                        str(exc), location=Location(source, number, field_name), raw=text
                    )
            typed.append(TypedLine(name, record.role, number, fields))
            if record.child_of is not None:
                parent = last.get(record.child_of)
                if problem is None and parent is None:
                    why = "was rejected" if record.child_of in last else "is missing"
                    problem = FixedWidthLineError(
                        f"the {record.child_of} record this {name} record follows {why}",
                        location=Location(source, number),
                        raw=text,
                    )
                if problem is not None or parent is None:
                    items.append(problem)  # type: ignore[arg-type]  # set just above
                    continue
                parent.children.setdefault(name, []).append(fields)
                parent.raw.append(text)
                continue
            if problem is not None:
                items.append(problem)
                last[name] = None
                continue
            if name in self._emitted:
                group = _Group(name, number, fields, [text])
                items.append(group)
                last[name] = group
        outcome = check_controls(self.spec.controls, typed, source=source)
        shared: dict[str, str | None] = {}
        for line in typed:
            if line.role in ("header", "trailer") and line.fields is not None:
                shared.update({f"{line.kind}.{k}": v for k, v in line.fields.items()})
        for item in items:
            yield self._record(item, shared) if isinstance(item, _Group) else item
        yield from outcome.flags

    def document_fields(self, content: bytes, *, source: str) -> dict[str, str | None]:
        """The header's and trailer's fields as ``type.field`` (a file's sequence number
        and date), read even when the file fails its controls: a refused file was still
        received. A value that cannot be read is None."""
        values: dict[str, str | None] = {}
        length = self.spec.line_length or 0
        for _, decoded in self._lines(content, source):
            if isinstance(decoded, UndecodableByteError):
                continue
            found = self._kind(decoded)
            if found is None or found[1].role not in ("header", "trailer"):
                continue
            name, record = found
            padded = decoded.ljust(max([length, *(f.last for f in record.fields.values())]))
            for field_name, field_spec in record.fields.items():
                try:
                    values[f"{name}.{field_name}"] = read_field(field_spec, padded)
                except FieldValueError:
                    values[f"{name}.{field_name}"] = None
        return values

    def _record(self, group: _Group, shared: dict[str, str | None]) -> Record:
        fields = dict(group.fields)
        fields.update(shared)
        for child in self._children[group.kind]:
            found = group.children.get(child, [])
            for field_name in self.spec.records[child].fields:
                values = [values.get(field_name) for values in found]
                if self.spec.children == "numbered":
                    for n, value in enumerate(values, start=1):
                        fields[f"{child}.{field_name}.{n}"] = value
                else:
                    joined = "\n".join(value or "" for value in values)
                    fields[f"{child}.{field_name}"] = joined if values else None
        return Record(line=group.line, fields=fields, raw="\n".join(group.raw))
