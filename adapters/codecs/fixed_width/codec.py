"""The fixed-width codec: partner fixed-width files <-> records, and the ``fixed_width``
entry point that builds it from a mapping's settings.

It only composes its parts: :mod:`.reader` reads lines by the :mod:`.spec` layout and
runs the file controls, :mod:`.writer` writes them back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from adapters.codecs.fixed_width.reader import FixedWidthReader
from adapters.codecs.fixed_width.spec import FixedWidthCodecSpec
from adapters.codecs.fixed_width.writer import FixedWidthWriter
from hub.ports import AdapterInfo, AdapterKind, Capability, DecodeResult

__all__ = ["FIXED_WIDTH", "FixedWidthCodec", "codec_from_spec"]


class FixedWidthCodec:
    """The Codec for fixed-width files; one instance per partner layout."""

    def __init__(self, spec: FixedWidthCodecSpec) -> None:
        self.spec = spec
        self._reader = FixedWidthReader(spec)
        self._writer = FixedWidthWriter(spec)

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Each emitted record (children attached), or a line's error; a file failing a
        control raises on the first ``next``. See :meth:`.FixedWidthReader.decode`."""
        return self._reader.decode(content, source=source)

    def document_fields(self, content: bytes, *, source: str) -> dict[str, str | None]:
        """Header and trailer fields as ``type.field``, e.g. ``header.seq`` for a
        mapping's ``sequence``. See :meth:`.FixedWidthReader.document_fields`."""
        return self._reader.document_fields(content, source=source)

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        """The file in the partner's layout. See :meth:`.FixedWidthWriter.encode`."""
        return self._writer.encode(records)


def codec_from_spec(
    spec: FixedWidthCodecSpec, columns: Sequence[str] | None, direction: str = "inbound"
) -> FixedWidthCodec:
    """The codec a mapping message describes (registered as the ``fixed_width`` codec).

    ``columns`` is for delimited formats: fixed-width fields are named by the layout.
    """
    del columns, direction
    return FixedWidthCodec(spec)


FIXED_WIDTH = AdapterInfo(
    kind=AdapterKind.CODEC,
    name="fixed_width",
    summary="Fixed-width text files: record types by prefix, fields by position, file controls.",
    settings=FixedWidthCodecSpec,
    factory=codec_from_spec,
    capabilities=frozenset(
        {Capability.DECODE, Capability.ENCODE, Capability.MANY_RECORDS, Capability.DOCUMENT}
    ),
)
"""The ``fixed_width`` entry point of ``hub.codecs``."""
