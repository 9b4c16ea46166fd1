"""JSON codec: partner JSON documents <-> records, with one small path language both ways.

JSON partners (a carrier's REST API and its pushes) send objects, not lines, so records
and their fields are found by path. The language is deliberately tiny, enough to read
any partner document and to write the ones the hub sends:

- ``$`` is the root (of the document for ``record`` and ``document_fields``, of the
  record for ``fields``); ``.name`` a key (``["odd key"]`` for keys with dots or spaces);
  ``[*]`` every element of a list; ``[0]`` one element (``[-1]`` the last, reading only).
  ``$.events[*]`` makes each event a record; ``$.location.city`` is a field in it.
- Values are text: strings as they are, numbers as the partner wrote them (``212.00``
  stays ``"212.00"``, never ``212.0``), booleans ``"true"``/``"false"``, objects and lists
  as compact JSON text, null or missing as None. A path matching several values (through
  ``[*]``) joins them with a line feed.
- ``[{n}]`` on one step reads a list one element at a time into numbered keys: with
  ``"line_sku": "$.lines[{n}].sku"`` a record gets ``line_sku.1``, ``line_sku.2``... (the
  1-based position), and writing takes the same keys back.
- A type suffix says what to write, since record values are all text:
  ``$.parcel.weight_kg:number`` writes the JSON number ``3.2`` from ``"3.2"``;
  ``:boolean`` writes ``true``/``false``; ``:json`` inserts the value as parsed JSON;
  ``:string`` (the default) a string. Reading ignores the suffix.

``Record.line`` is the record's 1-based position among the records the document gives
(JSON has no useful lines); ``raw`` is the record as compact JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from adapters.codecs.errors import (
    DocumentError,
    DocumentMalformed,
    DocumentTooDeep,
    DocumentTooLarge,
    EncodeError,
)
from hub.errors import ConfigurationError, Location, PartnerDataError
from hub.ports import AdapterInfo, AdapterKind, Capability, DecodeResult, Record

__all__ = [
    "JSON",
    "MAX_DEPTH",
    "EncodeError",
    "JsonCodec",
    "JsonCodecSpec",
    "JsonPath",
    "JsonRecordError",
    "JsonShapeError",
    "TypeHint",
    "codec_from_spec",
    "parse_path",
]


class JsonCodecSpec(BaseModel):
    """Where records and their fields sit in the partner's JSON documents."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="json codec")

    record: str = Field(
        default="$",
        description="Path to the records: '$' (the document is one record) or e.g. '$.events[*]'.",
    )
    fields: dict[str, str] = Field(
        description="Field name -> path relative to the record, e.g. $.code, $.location.city."
    )
    document_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Field name -> path from the document root, copied to every record "
        "(e.g. $.tracking_number for the events of one parcel).",
    )
    max_bytes: int = Field(default=10_000_000, ge=1)


MAX_DEPTH = 100
"""Records and values nested deeper are refused (DocumentTooDeep): no partner format is."""

TypeHint = Literal["string", "number", "boolean", "json"]
_HINTS: tuple[TypeHint, ...] = ("string", "number", "boolean", "json")
_STEP = re.compile(
    r"""\.(?P<key>[A-Za-z_][\w-]*)"""
    r"""|\[(?:(?P<each>\*)|(?P<index>-?[0-9]+)|(?P<repeat>\{n\})"""
    r"""|"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>[^']*)')\]"""
)
_HINT = re.compile(r":(?P<hint>[a-z]+)")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_REPEATED_KEY = re.compile(r"(?P<name>.+)\.(?P<n>[1-9][0-9]*)")


# --------------------------------------------------------------------------- errors


class JsonShapeError(DocumentError):
    """The record path meets the wrong kind of value (a list expected, an object found):
    the partner changed its format, so no record can be found safely."""


class JsonRecordError(PartnerDataError):
    """One record is not a JSON object: rejected alone, the others go through."""


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class _Key:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Each:
    pass


@dataclass(frozen=True)
class _Repeat:
    pass


_Step = _Key | _Index | _Each | _Repeat


@dataclass(frozen=True)
class JsonPath:
    """A parsed path: its steps and the type written at its end."""

    text: str
    steps: tuple[_Step, ...]
    hint: TypeHint = "string"

    def split_repeat(self) -> tuple[tuple[_Step, ...], tuple[_Step, ...]] | None:
        """The steps before and after ``[{n}]``, or None when the path has none."""
        for position, step in enumerate(self.steps):
            if isinstance(step, _Repeat):
                return self.steps[:position], self.steps[position + 1 :]
        return None


def parse_path(text: str) -> JsonPath:
    """Parse ``$.a.b[0]["c d"][*]:number``; ValueError says what is wrong."""
    if not text.startswith("$"):
        raise ValueError("a path starts with $ (e.g. $.code, $.events[*])")
    position = 1
    steps: list[_Step] = []
    while position < len(text):
        found = _STEP.match(text, position)
        if found is None:
            break
        if found["key"] is not None:
            steps.append(_Key(found["key"]))
        elif found["each"]:
            steps.append(_Each())
        elif found["index"] is not None:
            steps.append(_Index(int(found["index"])))
        elif found["repeat"]:
            steps.append(_Repeat())
        elif found["dq"] is not None:
            steps.append(_Key(cast(str, json.loads(f'"{found["dq"]}"'))))
        else:
            steps.append(_Key(found["sq"]))
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
    if sum(isinstance(step, _Repeat) for step in steps) > 1:
        raise ValueError("only one step may be [{n}]")
    return JsonPath(text, tuple(steps), hint)


def _kind(value: Any) -> str:
    """What a JSON value is, for messages: "an object", "a list", "null"..."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, _Number):
        return "a number"
    return "a string" if isinstance(value, str) else "null"


class _WrongKind(Exception):
    def __init__(self, step: _Step, value: Any) -> None:
        wanted = "an object" if isinstance(step, _Key) else "a list"
        super().__init__(f"expected {wanted}, found {_kind(value)}")


def _select(start: Any, steps: Sequence[_Step], *, strict: bool = False) -> list[Any]:
    """Every value a path reaches. Missing keys and nulls give nothing; the wrong kind of
    value gives nothing too, or raises _WrongKind when ``strict``."""
    nodes = [start]
    for step in steps:
        reached: list[Any] = []
        for node in nodes:
            if isinstance(step, _Key):
                if isinstance(node, dict):
                    if step.name in node:
                        reached.append(node[step.name])
                    continue
            elif isinstance(node, list):
                if isinstance(step, _Index):
                    if -len(node) <= step.index < len(node):
                        reached.append(node[step.index])
                else:
                    reached.extend(node)
                continue
            if strict and node is not None:
                raise _WrongKind(step, node)
        nodes = reached
    return nodes


# --------------------------------------------------------------------------- values


class _Number(str):
    """A JSON number kept as the partner wrote it: no float rounding, no 212.00 -> 212.0."""

    __slots__ = ()


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def _loads(text: str) -> Any:
    return json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_refuse_constant)


def _dump(value: Any, depth: int = 0) -> str:
    """Compact JSON, numbers written back exactly as read; deeper than MAX_DEPTH refused."""
    if depth > MAX_DEPTH:
        raise RecursionError(f"nested more than {MAX_DEPTH} levels")
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_dump(item, depth + 1) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                json.dumps(key, ensure_ascii=False) + ":" + _dump(item, depth + 1)
                for key, item in value.items()
            )
            + "}"
        )
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return _dump(value)


def _joined(values: list[Any]) -> str | None:
    texts = [text for text in map(_text, values) if text is not None]
    return "\n".join(texts) if texts else None


@dataclass(frozen=True)
class _Reader:
    name: str
    path: JsonPath

    def read(self, node: Any, into: dict[str, str | None]) -> None:
        split = self.path.split_repeat()
        if split is None:
            into[self.name] = _joined(_select(node, self.path.steps))
            return
        head, tail = split
        items = [item for found in _select(node, head) if isinstance(found, list) for item in found]
        for position, item in enumerate(items, start=1):
            into[f"{self.name}.{position}"] = _joined(_select(item, tail))


def _readers(paths: Mapping[str, str], what: str) -> list[_Reader]:
    readers = []
    for name, text in paths.items():
        try:
            readers.append(_Reader(name, parse_path(text)))
        except ValueError as exc:
            raise ConfigurationError(f"{what} {name!r}: path {text!r}: {exc}") from exc
    return readers


# --------------------------------------------------------------------------- codec


def _too_deep(source: str) -> DocumentTooDeep:
    return DocumentTooDeep(limit=MAX_DEPTH, location=Location(source), within=" in a record")


class JsonCodec:
    """Reads records out of partner JSON by path and writes one document per call."""

    def __init__(self, spec: JsonCodecSpec) -> None:
        self.spec = spec
        clash = sorted(set(spec.fields) & set(spec.document_fields))
        if clash:
            raise ConfigurationError(
                f"names used both as fields and document fields: {', '.join(clash)}"
            )
        try:
            self._record = parse_path(spec.record)
        except ValueError as exc:
            raise ConfigurationError(f"record path {spec.record!r}: {exc}") from exc
        if self._record.split_repeat() is not None:
            raise ConfigurationError(f"record path {spec.record!r}: use [*], not [{{n}}]")
        self._fields = _readers(spec.fields, "field")
        self._document = _readers(spec.document_fields, "document field")

    # ------------------------------------------------------------------ decode

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Each record's fields; a record that is not an object is yielded as an error.

        Raises DocumentError (too large, malformed, record path on the wrong kind of
        value) on the first ``next``: nothing of such a document is read.
        """
        document = self._load(content, source)
        try:
            shared = self._read(document, self._document)
            try:
                nodes = _select(document, self._record.steps, strict=True)
            except _WrongKind as exc:
                raise JsonShapeError(
                    f"record path {self.spec.record}: {exc}", location=Location(source)
                ) from None
            results: list[DecodeResult] = []
            for ordinal, node in enumerate(nodes, start=1):
                raw = _dump(node)
                if not isinstance(node, dict):
                    results.append(
                        JsonRecordError(
                            f"record {ordinal} is {_kind(node)}, not an object",
                            location=Location(source, ordinal),
                            raw=raw,
                        )
                    )
                    continue
                fields = self._read(node, self._fields)
                fields.update(shared)
                results.append(Record(line=ordinal, fields=fields, raw=raw))
        except RecursionError:
            raise DocumentTooDeep(
                limit=MAX_DEPTH, location=Location(source), within=" in a record"
            ) from None
        yield from results

    def document_fields(self, content: bytes, *, source: str) -> dict[str, str | None]:
        """The values read once per document (the parcel's tracking number and reference)."""
        document = self._load(content, source)
        try:
            return self._read(document, self._document)
        except RecursionError:
            raise DocumentTooDeep(
                limit=MAX_DEPTH, location=Location(source), within=" in a record"
            ) from None

    def _load(self, content: bytes, source: str) -> Any:
        if len(content) > self.spec.max_bytes:
            raise DocumentTooLarge(
                size=len(content), limit=self.spec.max_bytes, location=Location(source)
            )
        encoding = json.detect_encoding(content)
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError as exc:
            raise DocumentMalformed(
                syntax="JSON",
                detail=f"byte {exc.start} is not valid {encoding}",
                line=None,
                column=None,
                source=source,
            ) from None
        try:
            return _loads(text)
        except json.JSONDecodeError as exc:
            raise DocumentMalformed(
                syntax="JSON", detail=exc.msg, line=exc.lineno, column=exc.colno, source=source
            ) from None
        except _NotJson as exc:
            raise DocumentMalformed(
                syntax="JSON", detail=str(exc), line=None, column=None, source=source
            ) from None
        except RecursionError:
            raise DocumentTooDeep(
                limit=MAX_DEPTH, location=Location(source), within=" in a record"
            ) from None

    @staticmethod
    def _read(node: Any, readers: Sequence[_Reader]) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for reader in readers:
            reader.read(node, values)
        return values

    # ------------------------------------------------------------------ encode

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        """One compact UTF-8 JSON document from one record (record path ``$``).

        Raises EncodeError for anything but one record, an unknown field, a value
        its type suffix refuses (``3,2`` for ``:number``) or two paths that collide.
        """
        if self._record.steps:
            raise ConfigurationError(
                f"record path {self.spec.record!r}: only '$' (one record per document) "
                "can be written"
            )
        if len(records) != 1:
            raise EncodeError(
                f"a JSON document holds one record, got {len(records)}: encode each alone"
            )
        record = records[0]
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
            return _dump(document).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EncodeError(f"a value holds {exc.object[exc.start]!r}, not UTF-8") from None

    def _check_record(self, record: Mapping[str, str | None]) -> None:
        """Every key a field of the mapping (``name.N`` for a ``[{n}]`` field), every value text."""
        paths = {reader.name: reader.path for reader in self._fields}
        bad = [
            f"{name!r} ({path.text})"
            for name, path in paths.items()
            if any(
                isinstance(s, _Each) or (isinstance(s, _Index) and s.index < 0) for s in path.steps
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
            if not _writes(paths, key) and key not in self.spec.document_fields:
                raise EncodeError(f"field {key!r} is not in the mapping")

    def _put(self, holder: list[Any], path: JsonPath, key: str, text: str, n: int | None) -> None:
        """Set one value, creating the objects and lists on its path."""
        value = _typed(key, path, text)
        container: Any = holder
        slot: str | int = 0
        for step in path.steps:
            current = container[slot]
            if isinstance(step, _Key):
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
                index = (n or 1) - 1 if isinstance(step, _Repeat) else cast(_Index, step).index
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
        return _Number(text)
    if path.hint == "boolean":
        if text not in ("true", "false"):
            raise EncodeError(f"field {key!r}: {text!r} is not true or false ({path.text})")
        return text == "true"
    if path.hint == "json":
        try:
            return _loads(text)
        except (ValueError, RecursionError) as exc:
            raise EncodeError(f"field {key!r}: not JSON ({path.text}): {exc}") from None
    return text


def codec_from_spec(
    spec: JsonCodecSpec, columns: Sequence[str] | None, direction: str = "inbound"
) -> JsonCodec:
    """The codec a mapping message describes (registered as the ``json`` codec).

    ``columns`` is for delimited formats; JSON fields are named by the spec's paths, the
    same both ways.
    """
    del columns, direction
    return JsonCodec(spec)


JSON = AdapterInfo(
    kind=AdapterKind.CODEC,
    name="json",
    summary="JSON documents, records and fields found by paths.",
    settings=JsonCodecSpec,
    factory=codec_from_spec,
    capabilities=frozenset({Capability.DECODE, Capability.ENCODE, Capability.DOCUMENT}),
)
"""The ``json`` entry point of ``hub.codecs``."""
