"""What can go wrong with a partner's CSV: a row that cannot be read (yielded, the others
go on), a header that is not the partner's format (raised, the file is rejected), and a
record the hub cannot write (raised, nothing is written)."""

from __future__ import annotations

from adapters.codecs.errors import EncodeError
from hub.errors import Location, PartnerDataError

__all__ = [
    "CsvColumnsMismatchError",
    "CsvEncodeError",
    "CsvFieldCountError",
    "CsvHeaderError",
    "CsvQuotingError",
    "CsvRowError",
    "CsvUndecodableByteError",
    "CsvUnencodableCharacterError",
    "CsvUnterminatedQuoteError",
]


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
