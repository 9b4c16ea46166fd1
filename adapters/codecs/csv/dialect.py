"""How one partner writes CSV (delimiter, quoting, encoding, line ends, header), checked
when a mapping is loaded so that a bad one fails then, not on the first file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from adapters.codecs.text import checked_encoding
from hub.errors import ConfigurationError

__all__ = ["AUTO_LATIN1_UTF8", "CsvDialect", "CsvEncoding", "LineTerminator", "duplicates"]

CsvEncoding = str
"""A declared encoding: any text encoding Python knows (`cp1252`, `iso-8859-15`, ...), or
`auto-latin1-utf8` for a Latin-1 partner that sometimes sends UTF-8."""
AUTO_LATIN1_UTF8 = "auto-latin1-utf8"

LineTerminator = Literal["\r\n", "\n"]


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
    trailer_first_cell: str | None = None
    """A line whose first cell is this is the file's trailer, not a data row."""
    trailer_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Checked here so that a bad mapping file fails when loaded, not on the first file.
        if len(self.delimiter) != 1 or self.delimiter in "\r\n":
            raise ConfigurationError(f"CSV delimiter must be one character, not {self.delimiter!r}")
        if len(self.quotechar) != 1 or self.quotechar in "\r\n" + self.delimiter:
            raise ConfigurationError(
                f"CSV quote char must be one character other than the delimiter, "
                f"not {self.quotechar!r}"
            )
        if self.encoding != AUTO_LATIN1_UTF8:
            try:
                checked_encoding(self.encoding)
            except ValueError as exc:
                raise ConfigurationError(f"CSV encoding: {exc}") from None
        if self.line_terminator not in get_args(LineTerminator):
            raise ConfigurationError(
                f"CSV line terminator must be CRLF or LF, not {self.line_terminator!r}"
            )
        if self.expected_columns is not None:
            if not self.expected_columns:
                raise ConfigurationError("CSV expected_columns must not be empty")
            doubles = duplicates(self.expected_columns)
            if doubles:
                raise ConfigurationError(
                    f"CSV expected_columns lists {', '.join(map(repr, doubles))} twice"
                )
        if not self.header and self.expected_columns is None:
            raise ConfigurationError("a CSV dialect without header needs expected_columns")
        if self.unguarded_columns and not self.formula_guard:
            raise ConfigurationError("CSV unguarded_columns needs formula_guard on")


def duplicates(names: Sequence[str]) -> tuple[str, ...]:
    """Each name given more than once, once, in the order it repeats."""
    seen: set[str] = set()
    doubles: list[str] = []
    for name in names:
        if name in seen and name not in doubles:
            doubles.append(name)
        seen.add(name)
    return tuple(doubles)
