"""The bytes under a CSV file: which encoding it is really in, undecodable bytes shown
without breaking storage, and where each physical line starts (asked only by errors)."""

from __future__ import annotations

import codecs
import re

from adapters.codecs.csv.dialect import AUTO_LATIN1_UTF8, CsvEncoding
from adapters.codecs.csv.errors import CsvHeaderError
from hub.errors import Location

__all__ = [
    "BOM",
    "EOL_TEXT",
    "ESCAPED_BYTE",
    "DetectedEncoding",
    "LineOffsets",
    "detect_encoding",
    "shown",
    "transcoded",
    "without_eol",
]

DetectedEncoding = str
"""The codec a file is read with: "utf-8", "latin-1", or the canonical name of another
encoding Python knows (``codecs.lookup(name).name``, e.g. "cp1252", "iso8859-15")."""

BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
_EOL_BYTES = re.compile(rb"\r\n|\r|\n")
EOL_TEXT = re.compile(r"\r\n|\r|\n")
# surrogateescape maps each undecodable byte 0xNN to the lone surrogate U+DCNN.
ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def detect_encoding(content: bytes, declared: CsvEncoding = AUTO_LATIN1_UTF8) -> DetectedEncoding:
    """The encoding a file is actually read with, given what the partner declared.

    `auto-latin1-utf8`: a BOM means UTF-8; else bytes that are valid UTF-8 and not plain
    ASCII mean UTF-8 (Latin-1 accents almost never form valid UTF-8 sequences); else
    Latin-1, the partner's declared encoding. Any other name is read as declared.
    """
    if declared != AUTO_LATIN1_UTF8:
        name = codecs.lookup(declared).name
        return {"iso8859-1": "latin-1", "utf-8-sig": "utf-8"}.get(name, name)
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


def transcoded(content: bytes, encoding: str, source: str) -> bytes:
    """A file in an encoding whose line breaks are not single bytes (UTF-16, UTF-32), as
    UTF-8; a sequence the encoding does not define refuses the file, with its offset."""
    try:
        return content.decode(encoding).encode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise CsvHeaderError(
            f"bytes {content[exc.start : exc.end].hex(' ')} at byte offset {exc.start} are "
            f"not valid {encoding} ({exc.reason}); the whole file is rejected",
            location=Location(source),
            raw="",
        ) from None


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
