"""The segment paths of the EDIFACT codec: ``TAG[qualifier]/element/component``.

Parsed once when a mapping is loaded, then matched against segments. Positions are
1-based like the standard's numbering: element 1 is the first data element after the
tag, component 1 its first component. The qualifier is the first component of element
1 (``DTM+334:...``, ``RFF+CU:...``, ``STS+1+...``), the standard's place for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydifact.segments import Segment

__all__ = ["Scope", "SegmentPath", "parse_path", "values"]

_PATH = re.compile(
    r"(?P<up>\.\./)?(?P<tag>[A-Z][A-Z0-9]{2})"
    r"(?:\+(?P<plus>[^/\[\]]+)|\[(?:qualifier=)?(?P<qualifier>[^/\[\]]+)\])?"
    r"/(?P<element>[1-9][0-9]*)(?:/(?P<component>[1-9][0-9]*))?"
)
_INTERCHANGE = frozenset({"UNB", "UNZ"})
_MESSAGE = frozenset({"UNH", "UNT"})

Scope = str
"""Where a record field's path is read: "group", "message_header", "message" or
"interchange"."""


@dataclass(frozen=True)
class SegmentPath:
    """A parsed path: which segments (tag, qualifier) and which value in them."""

    text: str
    tag: str
    qualifier: str | None
    element: int
    component: int | None
    scope: Scope

    def matches(self, segment: Segment) -> bool:
        """Whether the segment has the path's tag and, when one is given, qualifier."""
        if segment.tag != self.tag:
            return False
        return self.qualifier is None or _component(segment, 1, 1) == self.qualifier

    def value(self, segment: Segment) -> str | None:
        """The addressed value, None when the segment is too short or it is empty."""
        found = _component(segment, self.element, self.component or 1)
        return found or None


def _component(segment: Segment, element: int, component: int) -> str | None:
    if element > len(segment.elements):
        return None
    data = segment.elements[element - 1]
    if isinstance(data, str):
        return data if component == 1 else None
    return str(data[component - 1]) if component <= len(data) else None


def parse_path(text: str) -> SegmentPath:
    """Parse ``DTM[334]/1/2``, ``STS+1/2``, ``../BGM/2``, ``UNB/2/1``; ValueError says why."""
    found = _PATH.fullmatch(text)
    if found is None:
        raise ValueError(
            "a path is TAG/element[/component], with an optional qualifier as TAG+Q, "
            "TAG[Q] or TAG[qualifier=Q] and an optional ../ (the message's header), "
            "e.g. DTM[334]/1/2"
        )
    tag = found["tag"]
    if found["up"]:
        if tag in _INTERCHANGE or tag in _MESSAGE:
            raise ValueError(f"{tag} is an envelope segment: drop the ../")
        scope = "message_header"
    elif tag in _INTERCHANGE:
        scope = "interchange"
    elif tag in _MESSAGE:
        scope = "message"
    else:
        scope = "group"
    component = found["component"]
    return SegmentPath(
        text=text,
        tag=tag,
        qualifier=found["plus"] or found["qualifier"],
        element=int(found["element"]),
        component=int(component) if component else None,
        scope=scope,
    )


def values(path: SegmentPath, segments: Iterable[Segment]) -> str | None:
    """Every value the path reaches in these segments, joined with a line feed
    (several FTX remarks read as one text); None when there is none."""
    found: Sequence[str] = [
        value
        for segment in segments
        if path.matches(segment) and (value := path.value(segment)) is not None
    ]
    return "\n".join(found) if found else None
