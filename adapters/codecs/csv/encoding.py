"""The bytes under a CSV file: which encoding it is really in, undecodable bytes shown
without breaking storage, and where each physical line starts (asked only by errors)."""

from __future__ import annotations

import codecs
import re
from typing import Literal

from adapters.codecs.csv.dialect import CsvEncoding

__all__ = [
    "BOM",
    "EOL_TEXT",
    "ESCAPED_BYTE",
    "DetectedEncoding",
    "LineOffsets",
    "detect_encoding",
    "shown",
    "without_eol",
]

DetectedEncoding = Literal["latin-1", "utf-8"]

BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
_EOL_BYTES = re.compile(rb"\r\n|\r|\n")
EOL_TEXT = re.compile(r"\r\n|\r|\n")
# surrogateescape maps each undecodable byte 0xNN to the lone surrogate U+DCNN.
ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


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
    if content.startswith(BOM):
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


def shown(raw: str) -> str:
    """Raw text fit to store and show: undecodable bytes (lone surrogates) become U+FFFD."""
    if raw.isascii() or ESCAPED_BYTE.search(raw) is None:
        return raw
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def without_eol(text: str) -> str:
    """The line without its line break (CRLF, LF or CR)."""
    if text.endswith("\n"):
        return text[:-2] if text.endswith("\r\n") else text[:-1]
    if text.endswith("\r"):
        return text[:-1]
    return text


class LineOffsets:
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
