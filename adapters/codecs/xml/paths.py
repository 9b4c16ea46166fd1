"""The subset of XPath the XML codec can walk directly and write: element steps (one of
them maybe repeated with ``[{n}]`` or fixed with ``[2]``), then maybe one attribute.

Shared by the reader (which walks such paths without XPath, for speed) and the writer
(which builds the elements they name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

__all__ = [
    "REPEAT",
    "WRITE_STEP",
    "Step",
    "WritePlan",
    "ancestor_paths",
    "outline",
    "qualified",
    "write_plan",
]

REPEAT = "[{n}]"
"""The placeholder of a repeated step in a field path, e.g. ``pp:Line[{n}]/@sku``."""

_NAME = r"[A-Za-z_][\w.-]*"
WRITE_STEP = re.compile(
    rf"(?:(?P<prefix>{_NAME}):)?(?P<local>{_NAME})(?:\[(?P<index>\{{n\}}|[1-9][0-9]*)\])?"
)
_WRITE_ATTRIBUTE = re.compile(rf"@(?:(?P<prefix>{_NAME}):)?(?P<local>{_NAME})")


@dataclass(frozen=True)
class Step:
    """One element step of a path: its tag, and which of its kind it is."""

    tag: str  # Clark notation: {uri}local
    index: int | None  # a fixed 1-based position
    repeat: bool  # the [{n}] step


@dataclass(frozen=True)
class WritePlan:
    """A field path as steps and an optional final attribute."""

    name: str
    steps: tuple[Step, ...]
    attribute: str | None

    @property
    def repeated(self) -> bool:
        return any(step.repeat for step in self.steps)


def qualified(prefix: str | None, local: str, namespaces: Mapping[str, str]) -> str:
    """``prefix:local`` in Clark notation (``{uri}local``); a bare name stays bare."""
    if prefix is None:
        return local
    if prefix not in namespaces or not prefix:
        raise ValueError(f"prefix {prefix!r} is not in namespaces")
    return f"{{{namespaces[prefix]}}}{local}"


def write_plan(name: str, path: str, namespaces: Mapping[str, str]) -> WritePlan:
    """Parse the writable subset of XPath: element steps, then maybe one attribute."""
    text = path.strip()
    if text.startswith("./"):
        text = text[2:]
    if text in ("", "."):
        return WritePlan(name, (), None)
    parts = text.split("/")
    attribute = None
    if parts[-1].startswith("@"):
        found = _WRITE_ATTRIBUTE.fullmatch(parts.pop())
        if found is None:
            raise ValueError("the attribute step is not @name or @prefix:name")
        attribute = qualified(found["prefix"], found["local"], namespaces)
    steps = []
    for part in parts:
        found = WRITE_STEP.fullmatch(part)
        if found is None:
            raise ValueError(f"step {part!r} is not name, prefix:name, name[2] or name{REPEAT}")
        index = found["index"]
        steps.append(
            Step(
                qualified(found["prefix"], found["local"], namespaces),
                int(index) if index and index != "{n}" else None,
                index == "{n}",
            )
        )
    if sum(step.repeat for step in steps) > 1:
        raise ValueError(f"only one step may be repeated with {REPEAT}")
    return WritePlan(name, tuple(steps), attribute)


def ancestor_paths(path: str) -> list[str] | None:
    """The record path's ancestors, deepest first (``/a/b/c`` -> ``/a/b``, ``/a``;
    ``//b/c`` -> ``//b``): where the records would be, and what encloses it. Empty for
    ``/a`` (the root itself would be the record); None when they cannot be told: ``//c``
    (anywhere), or not a plain location path (a union, a function)."""
    depth, quote, cuts = 0, "", []
    for index, char in enumerate(path):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "|" and depth == 0:
            return None
        elif char == "/" and depth == 0 and index > 0 and path[index - 1] != "/":
            cuts.append(index)
    if path.startswith("(") or not path.startswith("/"):
        return None
    ancestors = [path[:cut].rstrip("/") for cut in reversed(cuts)]
    if path.startswith("//") and not ancestors:
        return None
    return [ancestor for ancestor in ancestors if ancestor]


_OUTLINE_NAMES = 8
"""Names an outline of a document shows, at most."""


def outline(root: etree._Element) -> str:
    """What a document holds, for an error: the root and its only children down to the
    first element with several (or none), then those children's names, as the document
    writes them (``soap:Envelope > soap:Body > soap:Fault (faultcode, faultstring)``)."""
    chain = [root]
    while True:
        children = [child for child in chain[-1] if isinstance(child.tag, str)]
        if len(children) != 1:
            break
        chain.append(children[0])
    text = " > ".join(_written(element) for element in chain)
    names = list(dict.fromkeys(_written(child) for child in children))
    if names:
        shown = names[:_OUTLINE_NAMES] + (["..."] if len(names) > _OUTLINE_NAMES else [])
        text += f" ({', '.join(shown)})"
    return text


def _written(element: etree._Element) -> str:
    """An element's name with the prefix its document gives it."""
    local = etree.QName(element).localname
    return f"{element.prefix}:{local}" if element.prefix else local
