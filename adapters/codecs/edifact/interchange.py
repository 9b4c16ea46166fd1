"""A partner's interchange read into its envelope, messages and segments, with every
syntax fault found on the way (wrong UNT or UNZ count, missing trailer, cut-off text).

The faults are collected, not raised: the codec refuses an interchange that has any,
and the CONTRL acknowledgement lists them to the partner. pydifact does the syntax
(UNA separators, release character); this module only checks the envelope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydifact.constants import Element
from pydifact.control.characters import Characters
from pydifact.exceptions import EDISyntaxError
from pydifact.parser import Parser
from pydifact.segments import Segment, SegmentFactory

from adapters.codecs.errors import DocumentMalformed, DocumentRefused, DocumentTooLarge
from hub.errors import Location

__all__ = [
    "CODECS",
    "STANDARD",
    "Fault",
    "Interchange",
    "Message",
    "read_interchange",
]

CODECS: dict[str, str] = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "iso8859_1",
    "UNOD": "iso8859_2",
    "UNOE": "iso8859_5",
    "UNOF": "iso8859_7",
    "UNOG": "iso8859_3",
    "UNOH": "iso8859_4",
    "UNOI": "iso8859_6",
    "UNOJ": "iso8859_8",
    "UNOK": "iso8859_9",
    "UNOW": "utf_8",
}
"""Syntax identifiers (UNB 1/1) and the Python codecs that decode them strictly."""

STANDARD = ":+.? '"
"""The ISO 9735 default separators (component, element, decimal, release, reserved,
segment terminator), used without a UNA and for what the hub writes."""

# Syntax error codes (UN/EDIFACT data element 0085) the checks report.
COUNT_MISMATCH = "29"
REFERENCE_MISMATCH = "28"
MISSING = "13"
UNSUPPORTED = "2"


@dataclass(frozen=True)
class Fault:
    """One syntax fault: what is wrong, its 0085 code, and where (message reference,
    the segment's position in its message counted from UNH = 1, the element)."""

    reason: str
    code: str
    message: str | None = None
    position: int | None = None
    element: int | None = None


@dataclass
class Message:
    """One UNH..UNT message: its segments with their positions in the interchange."""

    reference: str
    identifier: list[str]
    segments: list[tuple[int, Segment]] = field(default_factory=list)


@dataclass
class Interchange:
    """One UNB..UNZ interchange as read, faults included."""

    characters: Characters
    header: Segment
    trailer: Segment | None
    messages: list[Message]
    faults: list[Fault]

    @property
    def envelope(self) -> list[Segment]:
        """UNB and UNZ, where ``UNB/...`` and ``UNZ/...`` paths read."""
        return [self.header] if self.trailer is None else [self.header, self.trailer]

    @property
    def control_reference(self) -> str:
        return _text(self.header, 5)

    def party(self, element: int) -> list[str]:
        """A UNB party (2 sender, 3 recipient) as its components."""
        data = self.header.elements[element - 1] if len(self.header.elements) >= element else ""
        return [data] if isinstance(data, str) else [str(part) for part in data]


class _Unvalidated(SegmentFactory):
    """Segments as read: the hub checks the envelope itself, and pydifact's validation
    only warns that its service directories are not installed."""

    @staticmethod
    def create_segment(name: str, *elements: Element, **_: object) -> Segment:
        return SegmentFactory.create_segment(name, *elements, validate=False)


def _text(segment: Segment, element: int) -> str:
    if len(segment.elements) < element:
        return ""
    data = segment.elements[element - 1]
    return data if isinstance(data, str) else str(data[0]) if data else ""


def decode_text(content: bytes, *, source: str, expected: str | None) -> str:
    """The interchange as text, decoded strictly with the syntax identifier its UNB
    declares (or the mapping expects)."""
    head = content[:200].decode("latin-1")
    start = head.find("UNB")
    declared = head[start + 4 : start + 8] if start >= 0 else ""
    if expected is not None and declared != expected:
        raise DocumentRefused(
            f"the UNB declares syntax {declared or 'nothing'}, the mapping expects {expected}",
            location=Location(source),
        )
    codec = CODECS.get(declared)
    if codec is None:
        raise DocumentRefused(
            f"unknown EDIFACT syntax identifier {declared or '(no UNB)'}",
            location=Location(source),
        )
    try:
        return content.decode(codec)
    except UnicodeDecodeError as exc:
        raise DocumentMalformed(
            syntax="EDIFACT",
            detail=f"byte {exc.start} is not valid {declared} ({codec})",
            line=None,
            column=None,
            source=source,
        ) from None


def _characters(text: str) -> tuple[Characters, str]:
    """The separators the UNA declares (ISO 9735 defaults without one), and the text
    after it."""
    if text.startswith("UNA"):
        if len(text) < 9:
            raise EDISyntaxError("UNA is cut short")
        return Characters.from_str(text[:9]), text[9:].lstrip("\r\n")
    return Characters.from_str(STANDARD), text


def read_interchange(
    content: bytes, *, source: str, max_bytes: int, expected: str | None = None
) -> Interchange:
    """Read and check one interchange. Raises DocumentError when even its UNB cannot be
    read; any other fault is listed in ``faults``."""
    if len(content) > max_bytes:
        raise DocumentTooLarge(size=len(content), limit=max_bytes, location=Location(source))
    text = decode_text(content, source=source, expected=expected)
    faults: list[Fault] = []
    segments: list[Segment] = []
    try:
        characters, body = _characters(text)
        for segment in Parser(factory=_Unvalidated(), directory="").parse(body, characters):
            segments.append(segment)
    except (EDISyntaxError, ValueError) as exc:
        if not segments:
            raise DocumentMalformed(
                syntax="EDIFACT", detail=str(exc), line=None, column=None, source=source
            ) from None
        faults.append(Fault(f"unreadable after segment {len(segments)}: {exc}", MISSING))
    if not segments or segments[0].tag != "UNB":
        raise DocumentMalformed(
            syntax="EDIFACT",
            detail="an interchange starts with UNB (after an optional UNA)",
            line=None,
            column=None,
            source=source,
        )
    return _check(characters, segments, faults)


def _check(characters: Characters, segments: Sequence[Segment], faults: list[Fault]) -> Interchange:
    header, trailer = segments[0], None
    messages: list[Message] = []
    current: Message | None = None
    for position, segment in enumerate(segments[1:], start=2):
        tag = segment.tag
        if trailer is not None:
            faults.append(Fault(f"segment {tag} after UNZ", UNSUPPORTED))
            break
        if tag == "UNH":
            if current is not None:
                faults.append(Fault("UNT missing", MISSING, current.reference))
                messages.append(current)
            identifier = segment.elements[1] if len(segment.elements) > 1 else []
            current = Message(
                _text(segment, 1),
                [identifier] if isinstance(identifier, str) else [str(p) for p in identifier],
            )
            current.segments.append((position, segment))
        elif tag == "UNZ":
            if current is not None:
                faults.append(Fault("UNT missing", MISSING, current.reference))
                messages.append(current)
                current = None
            trailer = segment
        elif current is None:
            faults.append(Fault(f"segment {tag} outside a UNH..UNT message", UNSUPPORTED))
        else:
            current.segments.append((position, segment))
            if tag == "UNT":
                _check_message(current, segment, faults)
                messages.append(current)
                current = None
    if current is not None:
        faults.append(Fault("UNT missing", MISSING, current.reference))
        messages.append(current)
    interchange = Interchange(characters, header, trailer, messages, faults)
    if trailer is None:
        faults.append(Fault("UNZ missing: the interchange is cut short", MISSING))
    else:
        _check_trailer(interchange, trailer, faults)
    return interchange


def _check_message(message: Message, trailer: Segment, faults: list[Fault]) -> None:
    declared, counted = _text(trailer, 1), len(message.segments)
    at = len(message.segments)
    if declared != str(counted):
        faults.append(
            Fault(
                f"message {message.reference}: UNT counts {declared or 'nothing'} segments, "
                f"the message has {counted}",
                COUNT_MISMATCH,
                message.reference,
                at,
                1,
            )
        )
    if _text(trailer, 2) != message.reference:
        faults.append(
            Fault(
                f"message {message.reference}: UNT names message {_text(trailer, 2)!r}",
                REFERENCE_MISMATCH,
                message.reference,
                at,
                2,
            )
        )


def _check_trailer(interchange: Interchange, trailer: Segment, faults: list[Fault]) -> None:
    declared, counted = _text(trailer, 1), len(interchange.messages)
    if declared != str(counted):
        faults.append(
            Fault(
                f"UNZ counts {declared or 'nothing'} messages, the interchange has {counted}",
                COUNT_MISMATCH,
            )
        )
    if _text(trailer, 2) != interchange.control_reference:
        faults.append(
            Fault(
                f"UNZ names interchange {_text(trailer, 2)!r}, the UNB "
                f"{interchange.control_reference!r}",
                REFERENCE_MISMATCH,
            )
        )
