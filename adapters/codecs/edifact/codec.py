"""The EDIFACT codec: partner interchanges -> records, one per segment group, read by the
mapping's segment paths; and the ``edifact`` entry point.

An interchange with any syntax fault (a UNT or UNZ count that does not match, a missing
trailer, text cut short) is refused whole, with the reason: its messages cannot be
trusted, and the partner is told so by the CONTRL acknowledgement (:mod:`.contrl`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from pydifact.segments import Segment
from pydifact.serializer import Serializer

from adapters.codecs.edifact.contrl import contrl, encode_contrl
from adapters.codecs.edifact.interchange import Interchange, Message, read_interchange
from adapters.codecs.edifact.paths import SegmentPath, parse_path, values
from adapters.codecs.edifact.spec import EdifactCodecSpec
from adapters.codecs.errors import DocumentError
from hub.errors import ConfigurationError, Location
from hub.ports import (
    Acknowledgement,
    AdapterInfo,
    AdapterKind,
    Capability,
    DecodeResult,
    Record,
)

__all__ = ["EDIFACT", "EdifactCodec", "EdifactCodecSpec", "EdifactSyntaxError", "codec_from_spec"]


class EdifactSyntaxError(DocumentError):
    """The interchange breaks the syntax's envelope rules (counts, references, trailer):
    refused whole, nothing of it is stored."""


def _paths(paths: Mapping[str, str], what: str) -> dict[str, SegmentPath]:
    parsed = {}
    for name, text in paths.items():
        try:
            parsed[name] = parse_path(text)
        except ValueError as exc:
            raise ConfigurationError(f"{what} {name!r}: path {text!r}: {exc}") from exc
    return parsed


class EdifactCodec:
    """Reads one record per segment group (led by ``spec.record``) in every message."""

    def __init__(self, spec: EdifactCodecSpec) -> None:
        self.spec = spec
        clash = sorted(set(spec.fields) & set(spec.document_fields))
        if clash:
            raise ConfigurationError(
                f"names used both as fields and document fields: {', '.join(clash)}"
            )
        self._fields = _paths(spec.fields, "field")
        self._document = _paths(spec.document_fields, "document field")

    def _read(self, content: bytes, source: str) -> Interchange:
        interchange = read_interchange(
            content, source=source, max_bytes=self.spec.max_bytes, expected=self.spec.encoding
        )
        if interchange.faults:
            reasons = "; ".join(fault.reason for fault in interchange.faults)
            raise EdifactSyntaxError(
                f"interchange {interchange.control_reference} refused: {reasons}",
                location=Location(source),
            )
        return interchange

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Each group's fields, in order; a faulty interchange raises EdifactSyntaxError
        on the first ``next``, before any record."""
        interchange = self._read(content, source)
        shared = self._document_values(interchange)
        writer = Serializer(interchange.characters)
        records: list[DecodeResult] = []
        for message in interchange.messages:
            header, groups = self._groups(message)
            for group in groups:
                segments = [segment for _, segment in group]
                scopes = {
                    "group": segments,
                    "message_header": header,
                    "message": [message.segments[0][1], message.segments[-1][1]],
                    "interchange": interchange.envelope,
                }
                fields: dict[str, str | None] = {
                    name: values(path, scopes[path.scope]) for name, path in self._fields.items()
                }
                fields.update(shared)
                raw = writer.serialize(segments, with_una_header=False)
                records.append(Record(line=group[0][0], fields=fields, raw=raw))
        yield from records

    def _groups(self, message: Message) -> tuple[list[Segment], list[list[tuple[int, Segment]]]]:
        """The message's segments before its first group, and its groups: each from a
        ``record`` segment to the next one (or UNT)."""
        header: list[Segment] = []
        groups: list[list[tuple[int, Segment]]] = []
        for position, segment in message.segments[:-1]:
            if segment.tag == self.spec.record:
                groups.append([])
            if groups:
                groups[-1].append((position, segment))
            else:
                header.append(segment)
        return header, groups

    def _document_values(self, interchange: Interchange) -> dict[str, str | None]:
        everything = [
            interchange.header,
            *(segment for message in interchange.messages for _, segment in message.segments),
            *interchange.envelope[1:],
        ]
        return {name: values(path, everything) for name, path in self._document.items()}

    def document_fields(self, content: bytes, *, source: str) -> dict[str, str | None]:
        """The values read once per interchange (sender, control reference)."""
        return self._document_values(self._read(content, source))

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        """Not supported: the hub writes no EDIFACT messages from records, only CONTRL
        acknowledgements (:meth:`acknowledge`)."""
        raise ConfigurationError("the edifact codec reads interchanges; it writes only CONTRL")

    def acknowledge(
        self, content: bytes, *, control_reference: str, prepared_at: datetime, source: str
    ) -> bytes:
        """The CONTRL acknowledgement for a received interchange (see :func:`.contrl`)."""
        return contrl(
            content,
            control_reference=control_reference,
            prepared_at=prepared_at,
            source=source,
            max_bytes=self.spec.max_bytes,
            uci_parties=self.spec.contrl_uci_parties,
        )

    def acknowledgement(
        self, content: bytes, *, control_reference: str, prepared_at: datetime, source: str
    ) -> Acknowledgement:
        """The CONTRL as the core sends it (``Capability.ACKNOWLEDGE``), with what its file
        name may use: ``interchange`` (the acknowledged interchange's reference),
        ``sender`` and ``recipient`` (its UNB parties) and ``reference`` (ours)."""
        interchange = read_interchange(
            content, source=source, max_bytes=self.spec.max_bytes, expected=self.spec.encoding
        )
        encoded = encode_contrl(
            interchange,
            control_reference=control_reference,
            prepared_at=prepared_at,
            uci_parties=self.spec.contrl_uci_parties,
        )
        return Acknowledgement(
            content=encoded,
            accepted=not interchange.faults,
            values={
                "interchange": interchange.control_reference,
                "sender": interchange.party(2)[0],
                "recipient": interchange.party(3)[0],
                "reference": control_reference,
            },
        )


def codec_from_spec(
    spec: EdifactCodecSpec, columns: Sequence[str] | None, direction: str = "inbound"
) -> EdifactCodec:
    """The codec a mapping message describes (registered as the ``edifact`` codec)."""
    del columns, direction
    return EdifactCodec(spec)


EDIFACT = AdapterInfo(
    kind=AdapterKind.CODEC,
    name="edifact",
    summary="UN/EDIFACT interchanges, one record per segment group, with CONTRL answers.",
    settings=EdifactCodecSpec,
    factory=codec_from_spec,
    capabilities=frozenset({Capability.DECODE, Capability.DOCUMENT, Capability.ACKNOWLEDGE}),
)
"""The ``edifact`` entry point of ``hub.codecs``."""
