"""Strict text decoding for line-based file codecs, in any encoding Python knows.

A byte the encoding does not define must never turn silently into another character (an
amount or a serial would change): it rejects its line, saying which byte and where.
"""

from __future__ import annotations

import codecs

from hub.errors import Location, PartnerDataError

__all__ = ["UndecodableByteError", "ascii_compatible", "checked_encoding", "decode_line"]


def checked_encoding(name: str) -> str:
    """The canonical name of a text encoding Python knows; ValueError otherwise.

    Checked when a mapping is loaded, so that a typo fails then, not on the first file.
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"{name!r} is not an encoding Python knows") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"{name!r} is not a text encoding")
    return info.name


def ascii_compatible(encoding: str) -> bool:
    """Whether lines can be split on the LF byte before decoding (not UTF-16, UTF-32)."""
    try:
        return "\n0A".encode(encoding) == b"\n0A"
    except UnicodeEncodeError:  # pragma: no cover - every text encoding has these
        return False


class UndecodableByteError(PartnerDataError):
    """A byte the file's encoding does not define: its record is rejected alone."""

    def __init__(self, *, byte: int, line: int, column: int, encoding: str, source: str, raw: str):
        super().__init__(
            f"byte 0x{byte:02X} at line {line}, column {column} is not defined in {encoding}",
            location=Location(source, line),
            raw=raw,
        )
        self.byte = byte
        self.column = column
        self.encoding = encoding


def decode_line(raw: bytes, encoding: str, *, line: int, source: str) -> str | UndecodableByteError:
    """One line's text, or the error naming its first undefined byte (column 1-based, in
    bytes: for the single-byte encodings of fixed-width files, the character position)."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        return UndecodableByteError(
            byte=raw[exc.start],
            line=line,
            column=exc.start + 1,
            encoding=encoding,
            source=source,
            raw=raw.decode(encoding, "replace"),
        )
