"""The CSV codec: partner CSV bytes <-> records, one bad row never stopping the others,
and the ``csv`` entry point that builds it from a mapping's settings.

It only composes its parts: :mod:`.reader` reads rows, :mod:`.writer` writes them, both
in the :mod:`.dialect` a mapping's :mod:`.spec` describes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from adapters.codecs.controls import FileControls
from adapters.codecs.csv.dialect import CsvDialect
from adapters.codecs.csv.reader import CsvReader, row_record
from adapters.codecs.csv.spec import CsvCodecSpec
from adapters.codecs.csv.trailer import CsvTrailer, controlled_rows
from adapters.codecs.csv.writer import CsvWriter
from hub.errors import ConfigurationError
from hub.ports import AdapterInfo, AdapterKind, Capability, Columns, DecodeResult, Record, Row

__all__ = ["CSV", "CsvCodec", "codec_from_spec"]


class CsvCodec:
    """The Codec for delimited text files; one instance per partner dialect."""

    def __init__(
        self,
        dialect: CsvDialect,
        *,
        trailer: CsvTrailer | None = None,
        controls: FileControls | None = None,
    ) -> None:
        self.dialect = dialect
        self._reader = CsvReader(dialect)
        self._writer = CsvWriter(dialect)
        self._trailer = trailer
        self._controls = controls if controls is not None and controls != FileControls() else None

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Each data row as a Record, or as a CsvRowError if it cannot be read.

        Lazy: a bad header raises CsvHeaderError on the first ``next``, a failed file
        control FileControlError. See :meth:`.CsvReader.decode`.
        """
        rows = self._reader.decode(content, source=source)
        if self._trailer is None and self._controls is None:
            return rows  # streamed: a million-row file is never held whole
        return controlled_rows(rows, self._trailer, self._controls or FileControls(), source=source)

    def decode_rows(
        self, content: bytes, *, source: str
    ) -> Iterator[Columns | Row | DecodeResult] | None:
        """What ``decode`` yields, each record as its row (hub.ports.RowCodec); None
        with a trailer or file controls, which count the records."""
        if self._trailer is not None or self._controls is not None:
            return None
        return self._reader.decode_rows(content, source=source)

    def row_record(self, columns: Columns, row: Row) -> Record:
        """The record ``decode`` gives for ``row``."""
        return row_record(columns, row)

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        """Header and rows in the partner's dialect; CsvEncodeError writes nothing.

        See :meth:`.CsvWriter.encode`.
        """
        return self._writer.encode(records)


def codec_from_spec(
    spec: CsvCodecSpec, columns: Sequence[str] | None, direction: str = "inbound"
) -> CsvCodec:
    """The codec a mapping message describes (registered as the ``csv`` codec).

    Writing, every column left unguarded must be one the message writes.
    """
    unknown = [column for column in spec.unguarded_columns if column not in (columns or ())]
    if direction == "outbound" and unknown:
        raise ConfigurationError(
            "unguarded_columns names columns this message does not have: "
            + ", ".join(map(repr, unknown))
        )
    return CsvCodec(
        CsvDialect(
            delimiter=spec.delimiter,
            quotechar=spec.quotechar,
            encoding=spec.encoding,
            line_terminator=spec.line_terminator,
            header=True,
            expected_columns=tuple(columns) if columns else None,
            formula_guard=spec.formula_guard,
            unguarded_columns=frozenset(spec.unguarded_columns),
            trailer_first_cell=spec.trailer.first_cell if spec.trailer else None,
            trailer_columns=tuple(spec.trailer.columns) if spec.trailer else (),
        ),
        trailer=spec.trailer,
        controls=spec.controls,
    )


CSV = AdapterInfo(
    kind=AdapterKind.CODEC,
    name="csv",
    summary="Delimited text files, one record a line, with a strict header check.",
    settings=CsvCodecSpec,
    factory=codec_from_spec,
    capabilities=frozenset({Capability.DECODE, Capability.ENCODE, Capability.MANY_RECORDS}),
)
"""The ``csv`` entry point of ``hub.codecs``."""
