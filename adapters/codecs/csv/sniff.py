"""Guessing a partner's CSV dialect and value formats from a sample file, for
`hub adapters new NAME --sample FILE`: a draft an integrator confirms, never used to
read a partner's files."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from adapters.codecs.csv.dialect import CsvDialect, LineTerminator
from adapters.codecs.csv.encoding import BOM, EOL_TEXT

__all__ = ["ColumnProfile", "FormatMatch", "SniffedCsv", "ValueFormat", "sniff_dialect"]


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
    if sample.startswith(BOM):
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

    breaks = EOL_TEXT.search(text)
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
