"""CSV codec: partner CSV bytes <-> records, one bad row never stopping the others.

Partners send CSV that only roughly follows RFC 4180: Latin-1 or UTF-8 (sometimes both
over time from the same partner), `;` or `,`, CRLF or LF, comments with quoted line
breaks. This codec parses with the standard `csv` module (C speed) and adds what the
hub needs on top: the physical line each record starts on, its exact raw text for the
operator, typed errors per row, and a strict header check so that a partner's format
change rejects the whole file instead of silently shifting columns.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.codecs.errors import EncodeError
from hub.errors import ConfigurationError, Location, PartnerDataError
from hub.mapping.formula_guard import guarded
from hub.ports import AdapterInfo, AdapterKind, Capability, DecodeResult, Record

__all__ = [
    "CSV",
    "ColumnProfile",
    "CsvCodec",
    "CsvCodecSpec",
    "CsvColumnsMismatchError",
    "CsvDialect",
    "CsvEncodeError",
    "CsvEncoding",
    "CsvFieldCountError",
    "CsvHeaderError",
    "CsvQuotingError",
    "CsvRowError",
    "CsvUndecodableByteError",
    "CsvUnencodableCharacterError",
    "CsvUnterminatedQuoteError",
    "DetectedEncoding",
    "FormatMatch",
    "LineTerminator",
    "SniffedCsv",
    "ValueFormat",
    "detect_encoding",
    "sniff_dialect",
]

CsvEncoding = Literal["latin-1", "iso-8859-1", "utf-8", "utf-8-sig", "auto-latin1-utf8"]
"""Declared encodings. `auto-latin1-utf8` reads a Latin-1 partner that sometimes sends UTF-8."""

LineTerminator = Literal["\r\n", "\n"]
DetectedEncoding = Literal["latin-1", "utf-8"]

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
_EOL_BYTES = re.compile(rb"\r\n|\r|\n")
_EOL_TEXT = re.compile(r"\r\n|\r|\n")
# surrogateescape maps each undecodable byte 0xNN to the lone surrogate U+DCNN.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


# --------------------------------------------------------------------------- errors


class CsvRowError(PartnerDataError):
    """One row cannot be read; yielded by `decode`, the rows around it still go through."""


class CsvFieldCountError(CsvRowError):
    """The row does not have as many fields as the header: columns would shift."""

    def __init__(self, *, expected: int, got: int, location: Location, raw: str) -> None:
        super().__init__(f"expected {expected} fields, got {got}", location=location, raw=raw)
        self.expected = expected
        self.got = got


class CsvUndecodableByteError(CsvRowError):
    """A byte is not valid in the file's encoding: guessing a character would corrupt data."""

    def __init__(
        self,
        *,
        byte: int,
        byte_offset: int,
        line: int,
        encoding: str,
        location: Location,
        raw: str,
    ) -> None:
        super().__init__(
            f"byte 0x{byte:02X} at byte offset {byte_offset} (line {line}) is not valid {encoding}",
            location=location,
            raw=raw,
        )
        self.byte = byte
        self.byte_offset = byte_offset
        self.encoding = encoding


class CsvQuotingError(CsvRowError):
    """Quotes are malformed (e.g. text after a closing quote): the field limits are unknown."""

    def __init__(
        self, detail: str, *, location: Location, raw: str, reason: str | None = None
    ) -> None:
        super().__init__(reason or f"malformed quoting: {detail}", location=location, raw=raw)
        self.detail = detail


class CsvUnterminatedQuoteError(CsvQuotingError):
    """A quoted field is still open at end of file: the file was probably cut short."""

    def __init__(self, *, location: Location, raw: str) -> None:
        super().__init__(
            "unterminated quoted field at end of file",
            location=location,
            raw=raw,
            reason="quoted field opened here is not closed before the end of the file",
        )


class CsvHeaderError(PartnerDataError):
    """The header does not match the expected columns: the partner changed its format.

    Unlike row errors this one is raised, not yielded: no row of the file can be trusted,
    so the ingestion engine rejects the whole message (archived, shown to the operator)
    and goes on with the next message.
    """

    def __init__(
        self,
        reason: str,
        *,
        location: Location,
        raw: str | None = None,
        missing: tuple[str, ...] = (),
        unexpected: tuple[str, ...] = (),
        duplicated: tuple[str, ...] = (),
    ) -> None:
        super().__init__(reason, location=location, raw=raw)
        self.missing = missing
        self.unexpected = unexpected
        self.duplicated = duplicated


class CsvEncodeError(EncodeError):
    """A record cannot be written in the partner's CSV format; nothing is written."""

    def __init__(self, message: str, *, record_index: int, column: str | None) -> None:
        super().__init__(message)
        self.record_index = record_index
        self.column = column


class CsvColumnsMismatchError(CsvEncodeError):
    """A record's keys are not the file's columns: writing it would drop or invent data."""

    def __init__(
        self, *, record_index: int, missing: tuple[str, ...], unexpected: tuple[str, ...]
    ) -> None:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(map(repr, missing)))
        if unexpected:
            parts.append("unexpected " + ", ".join(map(repr, unexpected)))
        super().__init__(
            f"record {record_index}: columns do not match the file's columns ({'; '.join(parts)})",
            record_index=record_index,
            column=None,
        )
        self.missing = missing
        self.unexpected = unexpected


class CsvUnencodableCharacterError(CsvEncodeError):
    """A character has no code in the partner's encoding (e.g. 'Ł' or '€' in Latin-1)."""

    def __init__(
        self, *, record_index: int, column: str | None, character: str, encoding: str
    ) -> None:
        where = "header" if record_index == 0 else f"record {record_index}"
        what = f"column {column!r}" if column is not None else "a column name"
        super().__init__(
            f"{where}, {what}: character {character!r} (U+{ord(character):04X}) "
            f"cannot be written in {encoding}",
            record_index=record_index,
            column=column,
        )
        self.character = character
        self.encoding = encoding


# --------------------------------------------------------------------------- dialect


@dataclass(frozen=True)
class CsvDialect:
    """How one partner writes CSV. Quoting is always minimal, with doubled quote chars.

    `formula_guard` (on unless a mapping says otherwise) neutralises data cells a
    spreadsheet would run as formulas when the hub writes (hub.mapping.formula_guard), except in
    `unguarded_columns`; reading is never affected.
    """

    delimiter: str = ","
    quotechar: str = '"'
    encoding: CsvEncoding = "utf-8"
    line_terminator: LineTerminator = "\r\n"
    header: bool = True
    expected_columns: tuple[str, ...] | None = None
    formula_guard: bool = True
    unguarded_columns: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Checked here so that a bad mapping file fails when loaded, not on the first file.
        if len(self.delimiter) != 1 or self.delimiter in "\r\n":
            raise ConfigurationError(f"CSV delimiter must be one character, not {self.delimiter!r}")
        if len(self.quotechar) != 1 or self.quotechar in "\r\n" + self.delimiter:
            raise ConfigurationError(
                f"CSV quote char must be one character other than the delimiter, "
                f"not {self.quotechar!r}"
            )
        if self.encoding not in get_args(CsvEncoding):
            raise ConfigurationError(
                f"CSV encoding {self.encoding!r} is not one of {', '.join(get_args(CsvEncoding))}"
            )
        if self.line_terminator not in get_args(LineTerminator):
            raise ConfigurationError(
                f"CSV line terminator must be CRLF or LF, not {self.line_terminator!r}"
            )
        if self.expected_columns is not None:
            if not self.expected_columns:
                raise ConfigurationError("CSV expected_columns must not be empty")
            doubles = _duplicates(self.expected_columns)
            if doubles:
                raise ConfigurationError(
                    f"CSV expected_columns lists {', '.join(map(repr, doubles))} twice"
                )
        if not self.header and self.expected_columns is None:
            raise ConfigurationError("a CSV dialect without header needs expected_columns")
        if self.unguarded_columns and not self.formula_guard:
            raise ConfigurationError("CSV unguarded_columns needs formula_guard on")


def _duplicates(names: Sequence[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    doubles: list[str] = []
    for name in names:
        if name in seen and name not in doubles:
            doubles.append(name)
        seen.add(name)
    return tuple(doubles)


# --------------------------------------------------------------------------- encoding


def detect_encoding(content: bytes, declared: CsvEncoding = "auto-latin1-utf8") -> DetectedEncoding:
    """The encoding a file is actually read with, given what the partner declared.

    `auto-latin1-utf8`: a BOM means UTF-8; else bytes that are valid UTF-8 and not plain
    ASCII mean UTF-8 (Latin-1 accents almost never form valid UTF-8 sequences); else
    Latin-1, the partner's declared encoding.
    """
    if declared in ("latin-1", "iso-8859-1"):
        return "latin-1"
    if declared in ("utf-8", "utf-8-sig"):
        return "utf-8"
    if content.startswith(_BOM):
        return "utf-8"
    if content.isascii():
        return "latin-1"
    return "utf-8" if _is_utf8(content) else "latin-1"


def _is_utf8(content: bytes) -> bool:
    # In chunks: a whole-file trial decode would briefly double a large file's memory.
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    try:
        for start in range(0, len(view), _CHUNK):
            decoder.decode(view[start : start + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _shown(raw: str) -> str:
    """Raw text fit to store and show: undecodable bytes (lone surrogates) become U+FFFD."""
    if raw.isascii() or _ESCAPED_BYTE.search(raw) is None:
        return raw
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _without_eol(text: str) -> str:
    if text.endswith("\n"):
        return text[:-2] if text.endswith("\r\n") else text[:-1]
    if text.endswith("\r"):
        return text[:-1]
    return text


class _LineOffsets:
    """Byte offset where each physical line starts, computed only as far as errors ask."""

    def __init__(self, content: bytes, first: int) -> None:
        self._breaks = _EOL_BYTES.finditer(content, first)
        self._line = 1
        self._offset = first

    def start_of(self, line: int) -> int:
        while self._line < line:
            found = next(self._breaks, None)
            if found is None:
                break
            self._offset = found.end()
            self._line += 1
        return self._offset


# --------------------------------------------------------------------------- codec


class CsvCodec:
    """The Codec for delimited text files; one instance per partner dialect."""

    def __init__(self, dialect: CsvDialect) -> None:
        self.dialect = dialect

    # ------------------------------------------------------------------ decode

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Yield each data row as a Record, or as a CsvRowError if it cannot be read.

        Raises CsvHeaderError (whole file unusable). Blank lines are skipped. Holds at
        most one record at a time besides the bytes: safe for million-row files. A quote
        left open mid-file swallows lines up to the csv module's field limit (128 KiB),
        is reported as one CsvQuotingError, and reading resumes on the next line.
        """
        dialect = self.dialect
        encoding = detect_encoding(content, dialect.encoding)
        utf8 = encoding == "utf-8"
        # Only a UTF-8 file not already proven valid (auto mode without BOM tried it) can
        # hold undecodable bytes; Latin-1 decodes every byte. Such bytes become lone
        # surrogates, turned into row errors below.
        check_bytes = utf8 and (dialect.encoding != "auto-latin1-utf8" or content.startswith(_BOM))
        offsets = _LineOffsets(content, 3 if content.startswith(_BOM) else 0)

        stream = io.TextIOWrapper(
            io.BytesIO(content),
            encoding="utf-8-sig" if utf8 else "latin-1",
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

        columns: tuple[str, ...] | None = None if dialect.header else dialect.expected_columns
        width = len(columns) if columns is not None else 0
        consumed = 0  # physical lines read so far

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
                        count = reader.line_num - consumed
                        start = consumed + 1
                        consumed = reader.line_num
                        if count == 1:
                            raw = next(raw_lines)
                        else:
                            raw = "".join(itertools.islice(raw_lines, count))
                        if raw.endswith("\n"):
                            raw = raw[:-2] if raw.endswith("\r\n") else raw[:-1]
                        elif raw.endswith("\r"):
                            raw = raw[:-1]

                        if len(row) != width or columns is None:
                            if not row:
                                continue  # blank line: no data, not an error
                            if columns is None:
                                columns = self._check_header(row, raw, start, source, offsets)
                                width = len(columns)
                                continue
                            yield CsvFieldCountError(
                                expected=width,
                                got=len(row),
                                location=Location(source, start),
                                raw=_shown(raw),
                            )
                            continue
                        if check_bytes and not raw.isascii() and _ESCAPED_BYTE.search(raw):
                            yield self._undecodable(row, columns, raw, start, source, offsets)
                            continue
                        # Positional arguments and a non-strict zip (the width is checked
                        # above) are measurably faster on million-row files.
                        fields = {c: (v or None) for c, v in zip(columns, row)}  # noqa: B905
                        yield Record(start, fields, raw)
                except csv.Error as exc:
                    start, raw = take_raw()
                    location = Location(source, start)
                    raw = _without_eol(raw)
                    if columns is None:
                        raise CsvHeaderError(
                            f"header cannot be parsed ({exc}); the whole file is rejected",
                            location=location,
                            raw=_shown(raw),
                        ) from exc
                    # strict csv says this only when the input ends inside a quoted field.
                    if str(exc) == "unexpected end of data":
                        yield CsvUnterminatedQuoteError(location=location, raw=_shown(raw))
                        return
                    # Other errors drop the rest of the bad line; the reader goes on at the
                    # next line, and take_raw() kept raw_lines in step with it.
                    yield CsvQuotingError(str(exc), location=location, raw=_shown(raw))
                else:
                    return

    def _check_header(
        self, row: list[str], raw: str, line: int, source: str, offsets: _LineOffsets
    ) -> tuple[str, ...]:
        location = Location(source, line)
        escaped = _ESCAPED_BYTE.search(raw)
        if escaped is not None:
            byte = ord(escaped.group()) - 0xDC00
            offset = offsets.start_of(line) + len(
                raw[: escaped.start()].encode("utf-8", "surrogateescape")
            )
            raise CsvHeaderError(
                f"header has byte 0x{byte:02X} at byte offset {offset}, not valid utf-8",
                location=location,
                raw=_shown(raw),
            )
        names = tuple(row)
        duplicated = _duplicates(names)
        empty = "" in names
        expected = self.dialect.expected_columns
        if expected is None:
            if duplicated or empty:
                raise CsvHeaderError(
                    _header_reason((), (), duplicated, empty),
                    location=location,
                    raw=_shown(raw),
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
        duplicated = _duplicates(present)
        if missing or unexpected or duplicated:
            raise CsvHeaderError(
                _header_reason(missing, unexpected, duplicated, empty=False),
                location=location,
                raw=_shown(raw),
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
        source: str,
        offsets: _LineOffsets,
    ) -> CsvUndecodableByteError:
        escaped = _ESCAPED_BYTE.search(raw)
        assert escaped is not None
        before = raw[: escaped.start()]
        offset = offsets.start_of(line) + len(before.encode("utf-8", "surrogateescape"))
        field = next(
            (c for c, v in zip(columns, row, strict=True) if _ESCAPED_BYTE.search(v)), None
        )
        return CsvUndecodableByteError(
            byte=ord(escaped.group()) - 0xDC00,
            byte_offset=offset,
            line=line + len(_EOL_TEXT.findall(before)),
            encoding="utf-8",
            location=Location(source, line, field),
            raw=_shown(raw),
        )

    # ------------------------------------------------------------------ encode

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        """Write header and rows in the partner's dialect; raise CsvEncodeError, write nothing.

        Columns come from the dialect, else from the first record. Quoting is minimal
        but always covers CR and LF, whatever the line terminator. Data cells that a
        spreadsheet would run as formulas get a leading ' unless the dialect says not to:
        the partner's staff open these files in a spreadsheet.
        """
        dialect = self.dialect
        if dialect.expected_columns is not None:
            columns = dialect.expected_columns
        elif records:
            columns = tuple(records[0])
        else:
            return b""
        expected = set(columns)
        delimiter = dialect.delimiter
        terminator = dialect.line_terminator
        lone = len(columns) == 1
        guarded_columns = (
            frozenset(columns) - dialect.unguarded_columns if dialect.formula_guard else frozenset()
        )

        lines: list[str] = []
        if dialect.header:
            lines.append(delimiter.join(map(self._quote, columns)) + terminator)
        for index, record in enumerate(records, start=1):
            if record.keys() != expected:
                raise CsvColumnsMismatchError(
                    record_index=index,
                    missing=tuple(c for c in columns if c not in record),
                    unexpected=tuple(k for k in record if k not in expected),
                )
            values: list[str] = []
            for column in columns:
                value = record[column]
                if value is None:
                    values.append("")
                elif isinstance(value, str):
                    values.append(
                        self._quote(guarded(value) if column in guarded_columns else value)
                    )
                else:
                    raise CsvEncodeError(
                        f"record {index}, column {column!r}: expected text or None, "
                        f"got {type(value).__name__}",
                        record_index=index,
                        column=column,
                    )
            if lone and not values[0]:
                values[0] = dialect.quotechar * 2  # a bare empty line would read as blank
            lines.append(delimiter.join(values) + terminator)
        text = "".join(lines)

        codec = (
            "latin-1"
            if dialect.encoding in ("latin-1", "iso-8859-1", "auto-latin1-utf8")
            else "utf-8"
        )
        try:
            data = text.encode(codec)
        except UnicodeEncodeError:
            raise self._unencodable(columns, records, codec) from None
        return _BOM + data if dialect.encoding == "utf-8-sig" else data

    def _quote(self, value: str) -> str:
        quote = self.dialect.quotechar
        if self.dialect.delimiter in value or quote in value or "\n" in value or "\r" in value:
            return quote + value.replace(quote, quote + quote) + quote
        return value

    def _unencodable(
        self,
        columns: tuple[str, ...],
        records: Sequence[Mapping[str, str | None]],
        codec: str,
    ) -> CsvUnencodableCharacterError:
        def first_bad(text: str) -> str | None:
            try:
                text.encode(codec)
            except UnicodeEncodeError as exc:
                return text[exc.start]
            return None

        if self.dialect.header:
            for column in columns:
                bad = first_bad(column)
                if bad is not None:
                    return CsvUnencodableCharacterError(
                        record_index=0, column=None, character=bad, encoding=codec
                    )
        for index, record in enumerate(records, start=1):
            for column in columns:
                bad = first_bad(record[column] or "")
                if bad is not None:
                    return CsvUnencodableCharacterError(
                        record_index=index, column=column, character=bad, encoding=codec
                    )
        raise AssertionError("unencodable text not found again")  # pragma: no cover


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


# --------------------------------------------------------------------------- sniffing


class ValueFormat(StrEnum):
    """Shapes of values a mapping must know how to read; named as integrators write them."""

    DATE_DMY = "dd/mm/yyyy"
    DATE_MDY = "mm/dd/yyyy"
    DATE_ISO = "yyyy-mm-dd"
    DATETIME_ISO_OFFSET = "iso8601-offset"  # ends with Z or +hh:mm: an instant
    DATETIME_ISO_LOCAL = "iso8601-local"  # no offset: needs the partner's time zone
    TIME_HM = "HH:MM"
    TIME_HMS = "HH:MM:SS"
    INTEGER = "integer"
    DECIMAL_COMMA = "decimal-comma"
    DECIMAL_POINT = "decimal-point"


@dataclass(frozen=True)
class FormatMatch:
    """How many of a column's non-empty values fit one format (a sample may hold typos)."""

    format: ValueFormat
    matched: int
    total: int

    @property
    def exact(self) -> bool:
        return self.matched == self.total


@dataclass(frozen=True)
class ColumnProfile:
    """What a sample says about one column, to draft its line of a mapping file."""

    name: str
    position: int
    non_empty: int
    formats: tuple[FormatMatch, ...]
    decimal_separator: Literal[",", "."] | None
    example: str | None


@dataclass(frozen=True)
class SniffedCsv:
    """A sample file's dialect as far as it can be guessed; an integrator confirms it."""

    encoding: Literal["utf-8-sig", "utf-8", "latin-1"]
    ascii_only: bool
    delimiter: str
    quotechar: str
    line_terminator: Literal["\r\n", "\n", "\r"] | None
    header: tuple[str, ...]
    columns: tuple[ColumnProfile, ...]
    rows_sampled: int
    irregular_rows: int

    def to_dialect(self) -> CsvDialect:
        """The CsvDialect that reads files like the sample (expected columns = its header)."""
        terminator: LineTerminator = "\n" if self.line_terminator == "\n" else "\r\n"
        return CsvDialect(
            delimiter=self.delimiter,
            quotechar=self.quotechar,
            encoding=self.encoding,
            line_terminator=terminator,
            header=True,
            expected_columns=self.header,
        )


_DELIMITERS = (";", ",", "\t", "|")
_SNIFF_MAX_ROWS = 1000
_DELIMITER_ROWS = 50

_SHAPES: dict[ValueFormat, re.Pattern[str]] = {
    ValueFormat.DATE_DMY: re.compile(r"(\d{2})/(\d{2})/(\d{4})"),
    ValueFormat.DATE_MDY: re.compile(r"(\d{2})/(\d{2})/(\d{4})"),
    ValueFormat.DATE_ISO: re.compile(r"\d{4}-\d{2}-\d{2}"),
    ValueFormat.DATETIME_ISO_OFFSET: re.compile(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})"
    ),
    ValueFormat.DATETIME_ISO_LOCAL: re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?"),
    ValueFormat.TIME_HM: re.compile(r"(\d{2}):(\d{2})"),
    ValueFormat.TIME_HMS: re.compile(r"(\d{2}):(\d{2}):(\d{2})"),
    ValueFormat.INTEGER: re.compile(r"[+-]?\d+"),
    ValueFormat.DECIMAL_COMMA: re.compile(r"[+-]?\d+(,\d+)?"),
    ValueFormat.DECIMAL_POINT: re.compile(r"[+-]?\d+(\.\d+)?"),
}


def _fits(fmt: ValueFormat, value: str) -> bool:
    """Shape and calendar: 31/02/2026 or 25:00 look right but are not dates or times."""
    found = _SHAPES[fmt].fullmatch(value)
    if found is None:
        return False
    try:
        if fmt is ValueFormat.DATE_DMY:
            date(int(found[3]), int(found[2]), int(found[1]))
        elif fmt is ValueFormat.DATE_MDY:
            date(int(found[3]), int(found[1]), int(found[2]))
        elif fmt is ValueFormat.DATE_ISO:
            date.fromisoformat(value)
        elif fmt in (ValueFormat.DATETIME_ISO_OFFSET, ValueFormat.DATETIME_ISO_LOCAL):
            datetime.fromisoformat(value)
        elif fmt in (ValueFormat.TIME_HM, ValueFormat.TIME_HMS):
            hours, *rest = (int(part) for part in found.groups())
            return hours < 24 and all(part < 60 for part in rest)
        elif fmt is ValueFormat.DECIMAL_COMMA:
            return "," in value
        elif fmt is ValueFormat.DECIMAL_POINT:
            return "." in value
    except ValueError:
        return False
    return True


def _profile(name: str, position: int, values: list[str]) -> ColumnProfile:
    filled = [v for v in values if v]
    total = len(filled)
    matches: list[FormatMatch] = []
    for fmt in ValueFormat:
        if fmt in (ValueFormat.DECIMAL_COMMA, ValueFormat.DECIMAL_POINT):
            if not any(_fits(fmt, v) for v in filled):
                continue
            # Whole numbers belong to a decimal column too ("150" next to "149,90").
            matched = sum(1 for v in filled if _fits(fmt, v) or _fits(ValueFormat.INTEGER, v))
        else:
            matched = sum(1 for v in filled if _fits(fmt, v))
        if total and matched * 2 > total:
            matches.append(FormatMatch(fmt, matched, total))
    matches.sort(key=lambda m: -m.matched)  # stable: enum order breaks ties
    separator: Literal[",", "."] | None = None
    for match in matches:
        if match.format is ValueFormat.DECIMAL_COMMA:
            separator = ","
            break
        if match.format is ValueFormat.DECIMAL_POINT:
            separator = "."
            break
    return ColumnProfile(
        name=name,
        position=position,
        non_empty=total,
        formats=tuple(matches),
        decimal_separator=separator,
        example=filled[0] if filled else None,
    )


def _sample_text(sample: bytes) -> tuple[str, Literal["utf-8-sig", "utf-8", "latin-1"]]:
    if sample.startswith(_BOM):
        return sample[3:].decode("utf-8", "replace"), "utf-8-sig"
    if sample.isascii():
        return sample.decode("ascii"), "utf-8"
    try:
        return sample.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        # A sample cut inside a multi-byte character is still UTF-8.
        if exc.reason == "unexpected end of data" and exc.end == len(sample):
            return sample[: exc.start].decode("utf-8"), "utf-8"
        return sample.decode("latin-1"), "latin-1"


def _rows(text: str, delimiter: str, limit: int) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    rows: list[list[str]] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
                if len(rows) >= limit:
                    break
    except csv.Error:
        # A truncated sample may end inside a quoted field: the rows before it still count.
        return rows
    return rows


def sniff_dialect(sample: bytes) -> SniffedCsv:
    """Guess encoding, delimiter, line ends, header and value formats from a sample file.

    For `hub adapters new NAME --sample FILE`: the first line is taken as the header, and
    a format is listed for a column when it fits more than half of its non-empty values.
    """
    text, encoding = _sample_text(sample)

    best: tuple[tuple[bool, float, int], str] | None = None
    for candidate in _DELIMITERS:
        rows = _rows(text, candidate, _DELIMITER_ROWS)
        if not rows:
            continue
        width = len(rows[0])
        regular = sum(1 for row in rows if len(row) == width) / len(rows)
        score = (width > 1, regular, width)
        if best is None or score > best[0]:
            best = (score, candidate)
    delimiter = best[1] if best is not None and best[0][0] else ","

    breaks = _EOL_TEXT.search(text)
    terminator: Literal["\r\n", "\n", "\r"] | None = None
    if breaks is not None:
        found = breaks.group()
        terminator = "\r\n" if found == "\r\n" else "\n" if found == "\n" else "\r"

    rows = _rows(text, delimiter, _SNIFF_MAX_ROWS + 1)
    header = tuple(rows[0]) if rows else ()
    data = rows[1:]
    regular_rows = [row for row in data if len(row) == len(header)]
    columns = tuple(
        _profile(name, position, [row[position] for row in regular_rows])
        for position, name in enumerate(header)
    )
    return SniffedCsv(
        encoding=encoding,
        ascii_only=sample.isascii(),
        delimiter=delimiter,
        quotechar='"',
        line_terminator=terminator,
        header=header,
        columns=columns,
        rows_sampled=len(data),
        irregular_rows=len(data) - len(regular_rows),
    )


class CsvCodecSpec(BaseModel):
    """How the partner writes its CSV files."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="csv codec")

    encoding: Literal["latin-1", "iso-8859-1", "utf-8", "utf-8-sig", "auto-latin1-utf8"] = Field(
        description="auto-latin1-utf8: Latin-1, but a BOM or valid UTF-8 switches to UTF-8."
    )
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    quotechar: Annotated[str, Field(min_length=1, max_length=1)] = '"'
    line_terminator: Literal["\r\n", "\n"] = Field(
        default="\r\n", description="Used when the hub writes; both are accepted on read."
    )
    formula_guard: bool = Field(
        default=True,
        description="When the hub writes: a cell starting with =, +, -, @, tab or CR (a "
        "spreadsheet formula) gets a leading ' so that a spreadsheet shows it as text; plain "
        "numbers such as -12.50 are left alone. Off only for a partner whose software needs "
        "every value raw and never opens the file in a spreadsheet.",
    )
    unguarded_columns: list[str] = Field(
        default_factory=list,
        description="Columns the hub writes raw even with formula_guard on, for values the "
        "partner needs exactly as rendered (e.g. codes starting with -). Outbound only.",
    )

    @model_validator(mode="after")
    def _guard_coherent(self) -> CsvCodecSpec:
        if self.unguarded_columns and not self.formula_guard:
            raise ValueError("unguarded_columns needs formula_guard on (off writes all raw)")
        return self


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
        )
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
