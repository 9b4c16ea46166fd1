"""Writing records in a partner's CSV dialect, all or nothing: a record that does not fit
(wrong columns, a character the encoding lacks) raises and no byte is written. Data cells
a spreadsheet would run as formulas go through the formula guard
(hub.mapping.formula_guard), since the partner's staff open these files in one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.codecs.csv.dialect import AUTO_LATIN1_UTF8, CsvDialect
from adapters.codecs.csv.encoding import BOM
from adapters.codecs.csv.errors import (
    CsvColumnsMismatchError,
    CsvEncodeError,
    CsvUnencodableCharacterError,
)
from hub.mapping.formula_guard import guarded

__all__ = ["CsvWriter"]


class CsvWriter:
    """Writes files in one partner's dialect."""

    def __init__(self, dialect: CsvDialect) -> None:
        self.dialect = dialect

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

        # auto-latin1-utf8 names a Latin-1 partner: the hub writes Latin-1 to it.
        codec = "latin-1" if dialect.encoding == AUTO_LATIN1_UTF8 else dialect.encoding
        if codec == "utf-8-sig":
            codec = "utf-8"  # the BOM is added below, once
        try:
            data = text.encode(codec)
        except UnicodeEncodeError:
            raise self._unencodable(columns, records, codec) from None
        return BOM + data if dialect.encoding == "utf-8-sig" else data

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
