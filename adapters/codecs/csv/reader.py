"""Reading a partner's CSV: each data row as a record with its line and exact raw text,
or as a row error while the rows around it go through; the header checked strictly, so
that a partner's format change rejects the file instead of silently shifting columns.

Partners send CSV that only roughly follows RFC 4180: Latin-1 or UTF-8 (sometimes both
over time from the same partner), `;` or `,`, CRLF or LF, comments with quoted line
breaks. Rows are parsed with the standard `csv` module (C speed); this module adds what
the hub needs on top.
"""

from __future__ import annotations

import csv
import io
import itertools
import unicodedata
from collections.abc import Iterator
from typing import NamedTuple

from adapters.codecs.csv.dialect import AUTO_LATIN1_UTF8, CsvDialect, duplicates
from adapters.codecs.csv.encoding import (
    BOM,
    EOL_TEXT,
    ESCAPED_BYTE,
    LineOffsets,
    detect_encoding,
    shown,
    transcoded,
    without_eol,
)
from adapters.codecs.csv.errors import (
    CsvFieldCountError,
    CsvHeaderError,
    CsvQuotingError,
    CsvUndecodableByteError,
    CsvUnterminatedQuoteError,
)
from adapters.codecs.csv.trailer import CsvTrailerRecord
from adapters.codecs.text import ascii_compatible
from hub.errors import Location
from hub.ports import Columns, DecodeResult, Record, Row

__all__ = ["CsvReader"]


class _FileAt(NamedTuple):
    """The file being read, for error messages: its name, line offsets and encoding."""

    source: str
    offsets: LineOffsets
    encoding: str


class CsvReader:
    """Reads files in one partner's dialect; holds nothing between files."""

    def __init__(self, dialect: CsvDialect) -> None:
        self.dialect = dialect

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Yield each data row as a Record, or as a CsvRowError if it cannot be read;
        see ``_read``."""
        return self._read(content, source, rows=False)  # type: ignore[return-value]

    def decode_rows(self, content: bytes, *, source: str) -> Iterator[Columns | Row | DecodeResult]:
        """What ``decode`` yields, each Record as its Row (line, cells, raw text) after
        the Columns they are read by (hub.ports.RowCodec): no record made for a row
        that a mapping's plan reads by its cells' places."""
        return self._read(content, source, rows=True)

    def _read(
        self, content: bytes, source: str, *, rows: bool
    ) -> Iterator[Columns | Row | DecodeResult]:
        """Yield each data row as a Record, or as a CsvRowError if it cannot be read.

        Raises CsvHeaderError (whole file unusable). Blank lines are skipped. Holds at
        most one record at a time besides the bytes: safe for million-row files. A quote
        left open mid-file swallows lines up to the csv module's field limit (128 KiB),
        is reported as one CsvQuotingError, and reading resumes on the next line.
        """
        dialect = self.dialect
        encoding = detect_encoding(content, dialect.encoding)
        if not ascii_compatible(encoding):
            # UTF-16 and UTF-32: lines are split on bytes below, so read them as UTF-8.
            content, encoding = transcoded(content, encoding, source), "utf-8"
        utf8 = encoding == "utf-8"
        # Latin-1 decodes every byte, and auto mode has already proven a UTF-8 file valid;
        # in any other encoding a byte may be undefined (0x81 in cp1252): such bytes
        # become lone surrogates, turned into row errors below, never into characters.
        check_bytes = encoding != "latin-1" and (
            dialect.encoding != AUTO_LATIN1_UTF8 or content.startswith(BOM)
        )
        offsets = LineOffsets(content, 3 if utf8 and content.startswith(BOM) else 0)
        where = _FileAt(source, offsets, encoding)

        stream = io.TextIOWrapper(
            io.BytesIO(content),
            encoding="utf-8-sig" if utf8 else encoding,
            errors="surrogateescape" if check_bytes else "strict",
            newline="",
        )
        # Two views of the same lines: the csv reader parses one, the other gives each
        # record's exact text back. tee keeps only the lines of the current record.
        parsed_lines, raw_lines = itertools.tee(stream)
        reader = csv.reader(
            parsed_lines,
            delimiter=dialect.delimiter,
            quotechar=dialect.quotechar,
            doublequote=True,
            skipinitialspace=False,
            strict=True,
        )

        marker, trailer_columns = dialect.trailer_first_cell, dialect.trailer_columns
        columns: tuple[str, ...] | None = None if dialect.header else dialect.expected_columns
        width = len(columns) if columns is not None else 0
        consumed = 0  # physical lines read so far
        if rows and columns is not None:
            yield Columns(columns)

        def take_raw() -> tuple[int, str]:
            nonlocal consumed
            count = reader.line_num - consumed
            start = consumed + 1
            consumed = reader.line_num
            if count == 1:
                return start, next(raw_lines)
            return start, "".join(itertools.islice(raw_lines, count))

        with stream:
            while True:
                try:
                    for row in reader:
                        # Hot path: kept inline, one pass per row.
                        start = consumed + 1
                        line = reader.line_num
                        if line == start:  # one line, the line number read once
                            consumed = line
                            # One line holds no line break but its own end ("\r\n",
                            # "\n" or "\r", newline=""): rstrip takes exactly that end,
                            # in one call where endswith took two and a slice (issue 17).
                            raw = next(raw_lines).rstrip("\r\n")
                        else:
                            raw = "".join(itertools.islice(raw_lines, line - consumed))
                            consumed = line
                            if raw.endswith("\n"):
                                raw = raw[:-2] if raw.endswith("\r\n") else raw[:-1]
                            elif raw.endswith("\r"):
                                raw = raw[:-1]

                        if marker is not None and row and row[0] == marker and columns:
                            named = dict(zip(trailer_columns, row, strict=False))
                            yield CsvTrailerRecord(start, named, raw, cells=len(row))
                            continue
                        if len(row) != width or columns is None:
                            if not row:
                                continue  # blank line: no data, not an error
                            if columns is None:
                                columns = self._check_header(row, raw, start, where)
                                width = len(columns)
                                if rows:
                                    yield Columns(columns)
                                continue
                            yield CsvFieldCountError(
                                expected=width,
                                got=len(row),
                                location=Location(source, start),
                                raw=shown(raw),
                            )
                            continue
                        if check_bytes and not raw.isascii() and ESCAPED_BYTE.search(raw):
                            yield self._undecodable(row, columns, raw, start, where)
                            continue
                        if rows:
                            yield (start, row, raw)
                            continue
                        # Positional arguments and a non-strict zip (the width is checked
                        # above) are measurably faster on million-row files. (row_record
                        # makes the same record of a row; written out here, a call less.)
                        fields = {c: (v or None) for c, v in zip(columns, row)}  # noqa: B905
                        yield Record(start, fields, raw)
                except csv.Error as exc:
                    start, raw = take_raw()
                    location = Location(source, start)
                    raw = without_eol(raw)
                    if columns is None:
                        raise CsvHeaderError(
                            f"header cannot be parsed ({exc}); the whole file is rejected",
                            location=location,
                            raw=shown(raw),
                        ) from exc
                    # strict csv says this only when the input ends inside a quoted field.
                    if str(exc) == "unexpected end of data":
                        yield CsvUnterminatedQuoteError(location=location, raw=shown(raw))
                        return
                    # Other errors drop the rest of the bad line; the reader goes on at the
                    # next line, and take_raw() kept raw_lines in step with it.
                    yield CsvQuotingError(str(exc), location=location, raw=shown(raw))
                else:
                    return

    def _check_header(
        self,
        row: list[str],
        raw: str,
        line: int,
        where: _FileAt,
    ) -> tuple[str, ...]:
        source, offsets, encoding = where
        location = Location(source, line)
        escaped = ESCAPED_BYTE.search(raw)
        if escaped is not None:
            byte = ord(escaped.group()) - 0xDC00
            offset = offsets.start_of(line) + len(
                raw[: escaped.start()].encode(encoding, "surrogateescape")
            )
            raise CsvHeaderError(
                f"header has byte 0x{byte:02X} at byte offset {offset}, not valid {encoding}",
                location=location,
                raw=shown(raw),
            )
        names = tuple(row)
        duplicated = duplicates(names)
        empty = "" in names
        expected = self.dialect.expected_columns
        if expected is None:
            if duplicated or empty:
                raise CsvHeaderError(
                    _header_reason((), (), duplicated, empty),
                    location=location,
                    raw=shown(raw),
                    duplicated=duplicated,
                )
            return names
        # Compare in NFC: a UTF-8 export may spell 'é' as 'e' + combining accent.
        wanted = {unicodedata.normalize("NFC", name): name for name in expected}
        present = [unicodedata.normalize("NFC", name) for name in names]
        missing = tuple(name for key, name in wanted.items() if key not in present)
        unexpected = tuple(
            dict.fromkeys(
                name for name, key in zip(names, present, strict=True) if key not in wanted
            )
        )
        duplicated = duplicates(present)
        if missing or unexpected or duplicated:
            raise CsvHeaderError(
                _header_reason(missing, unexpected, duplicated, empty=False),
                location=location,
                raw=shown(raw),
                missing=missing,
                unexpected=unexpected,
                duplicated=duplicated,
            )
        # Order may differ from the expected one: fields are read by name.
        return tuple(wanted[key] for key in present)

    def _undecodable(
        self,
        row: list[str],
        columns: tuple[str, ...],
        raw: str,
        line: int,
        where: _FileAt,
    ) -> CsvUndecodableByteError:
        source, offsets, encoding = where
        escaped = ESCAPED_BYTE.search(raw)
        assert escaped is not None
        before = raw[: escaped.start()]
        offset = offsets.start_of(line) + len(before.encode(encoding, "surrogateescape"))
        field = next((c for c, v in zip(columns, row, strict=True) if ESCAPED_BYTE.search(v)), None)
        return CsvUndecodableByteError(
            byte=ord(escaped.group()) - 0xDC00,
            byte_offset=offset,
            line=line + len(EOL_TEXT.findall(before)),
            encoding=encoding,
            location=Location(source, line, field),
            raw=shown(raw),
        )


def row_record(columns: Columns, row: Row) -> Record:
    """The record of a row read under ``columns``: an empty cell is None."""
    start, cells, raw = row
    return Record(start, {c: (v or None) for c, v in zip(columns, cells, strict=True)}, raw)


def _header_reason(
    missing: tuple[str, ...],
    unexpected: tuple[str, ...],
    duplicated: tuple[str, ...],
    empty: bool,
) -> str:
    parts = []
    if missing:
        parts.append("missing columns " + ", ".join(map(repr, missing)))
    if unexpected:
        parts.append("unexpected columns " + ", ".join(map(repr, unexpected)))
    if duplicated:
        parts.append("duplicated columns " + ", ".join(map(repr, duplicated)))
    if empty:
        parts.append("a column without a name")
    return (
        f"header does not match the partner's format: {'; '.join(parts)}; "
        "the whole file is rejected"
    )
