"""The JSON codec: partner JSON documents <-> records by the mapping's paths, the errors
that are its own, and the ``json`` entry point.

It only composes its parts: :mod:`.document` loads (or refuses) a document,
:mod:`.paths` finds the records, :mod:`.reader` reads their fields, :mod:`.writer`
builds the documents the hub sends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from adapters.codecs.errors import DocumentError, EncodeError
from adapters.codecs.json.document import load, too_deep
from adapters.codecs.json.paths import Each, WrongKind, parse_path, select, select_records
from adapters.codecs.json.reader import field_readers, read_fields
from adapters.codecs.json.spec import JsonCodecSpec
from adapters.codecs.json.values import dump, kind
from adapters.codecs.json.writer import DocumentWriter
from hub.errors import ConfigurationError, Location, PartnerDataError
from hub.ports import AdapterInfo, AdapterKind, Capability, DecodeResult, Record

__all__ = [
    "JSON",
    "JsonCodec",
    "JsonCodecSpec",
    "JsonRecordError",
    "JsonShapeError",
    "codec_from_spec",
]


class JsonShapeError(DocumentError):
    """The record path meets the wrong kind of value (a list expected, an object found):
    the partner changed its format, so no record can be found safely."""


class JsonRecordError(PartnerDataError):
    """One record is not a JSON object: rejected alone, the others go through."""


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
        self._fields = field_readers(spec.fields, "field")
        self._document = field_readers(spec.document_fields, "document field")
        self._writer = DocumentWriter(self._fields, spec.document_fields)

    # ------------------------------------------------------------------ decode

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Each record's fields; a record that is not an object is yielded as an error.

        Raises DocumentError (too large, malformed, record path on the wrong kind of
        value) on the first ``next``: nothing of such a document is read.
        """
        document = load(content, source=source, max_bytes=self.spec.max_bytes)
        try:
            shared = read_fields(document, self._document)
            try:
                nodes = select_records(document, self._record.steps)
            except WrongKind as exc:
                raise JsonShapeError(
                    f"record path {self.spec.record}: {exc}", location=Location(source)
                ) from None
            if not nodes:
                self._check_reachable(document, source)
            results: list[DecodeResult] = []
            for ordinal, (node, enclosing) in enumerate(nodes, start=1):
                raw = dump(node)
                if not isinstance(node, dict):
                    results.append(
                        JsonRecordError(
                            f"record {ordinal} is {kind(node)}, not an object",
                            location=Location(source, ordinal),
                            raw=raw,
                        )
                    )
                    continue
                fields = read_fields(node, self._fields, enclosing)
                fields.update(shared)
                results.append(Record(line=ordinal, fields=fields, raw=raw))
        except RecursionError:
            raise too_deep(source) from None
        yield from results

    def _check_reachable(self, document: Any, source: str) -> None:
        """No record: fine when the path stops at an empty list (a parcel without events
        yet, an answer with no parcel at all); a path that reaches nothing at all is a
        format change, never silence. Each list of the path is looked at in turn: a
        level whose lists are all empty (or null) ends the path there, fine; a level
        that is missing, or keys after the last list that are, refuse the document."""
        if not document:
            return  # an empty document
        steps = self._record.steps
        for end in [i for i, step in enumerate(steps) if isinstance(step, Each)] or [len(steps)]:
            containers = select(document, steps[:end])
            if not containers:
                break
            if not any(isinstance(found, list) and found for found in containers):
                return  # lists (or nulls) with nothing in them yet
        top = ", ".join(sorted(document)) if isinstance(document, dict) else kind(document)
        raise JsonShapeError(
            f"record path {self.spec.record} reaches nothing in this document (it holds: "
            f"{top or 'nothing'}): the partner's format changed, or this is not the message "
            "the mapping reads",
            location=Location(source),
        )

    def document_fields(self, content: bytes, *, source: str) -> dict[str, str | None]:
        """The values read once per document (the parcel's tracking number and reference)."""
        document = load(content, source=source, max_bytes=self.spec.max_bytes)
        try:
            return read_fields(document, self._document)
        except RecursionError:
            raise too_deep(source) from None

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
        return self._writer.document(records[0])


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
