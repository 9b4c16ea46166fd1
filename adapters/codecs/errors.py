"""The errors every document codec raises, declared once: a document refused before it is
read, one that is not well-formed, and a record the hub cannot write in the partner's
format. A codec adds only what is its own (an XSD violation, a JSON record that is not an
object) as subclasses of these.
"""

from __future__ import annotations

from hub.errors import Location, ModelError, PartnerDataError

__all__ = [
    "DocumentError",
    "DocumentMalformed",
    "DocumentRefused",
    "DocumentTooDeep",
    "DocumentTooLarge",
    "EncodeError",
]


class DocumentError(PartnerDataError):
    """The whole document is unusable: raised (never yielded), no record of it is read."""


class DocumentRefused(DocumentError):
    """Refused for safety or size before its content is read: hostile or far off format."""


class DocumentTooLarge(DocumentRefused):
    """Larger than the mapping's ``max_bytes``: refused before parsing, so it costs nothing."""

    def __init__(self, *, size: int, limit: int, location: Location) -> None:
        super().__init__(
            f"document size {size} bytes exceeds the limit of {limit} bytes: refused unparsed",
            location=location,
        )
        self.size = size
        self.limit = limit


class DocumentTooDeep(DocumentRefused):
    """Nested deeper than allowed: a partner format never is, an attack may be.

    ``within`` says what the limit counts in, when not the whole document (" in a record").
    """

    def __init__(self, *, limit: int, location: Location, within: str = "") -> None:
        super().__init__(
            f"the document is nested more than {limit} levels deep{within}: refused",
            location=location,
        )
        self.limit = limit


class DocumentMalformed(DocumentError):
    """Not well-formed (often a document cut short): its records cannot be trusted.

    ``syntax`` names the format (XML, JSON) in the message.
    """

    def __init__(
        self, *, syntax: str, detail: str, line: int | None, column: int | None, source: str
    ) -> None:
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(
            f"malformed {syntax}{where}: {detail}", location=Location(source, line or None)
        )
        self.detail = detail
        self.line = line
        self.column = column


class EncodeError(ModelError):
    """A record cannot be written in the partner's format; nothing is sent."""
