"""RFC 8288 ``Link`` header values, parsed to the letter.

httpx's ``Response.links`` splits on ``", <"``, ``";"`` and ``"="`` without regard to
quoting, and keys the links by the whole ``rel`` text: a ``title="a; b=c"`` or a
``rel="next last"`` would lose the next page. The grammar is small enough to follow
exactly here: several values per header and several headers, quoted strings with
escapes, parameter names without regard to case, the first ``rel`` winning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Link", "MalformedLinkHeader", "parse_links"]

_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # an RFC 9110 token
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(
    rf"[ \t]*;[ \t]*(?P<name>{_NAME})[ \t]*"
    rf'(?:=[ \t]*(?:(?P<quoted>{_QUOTED})|(?P<token>[^\s;,"]*)))?'
)
_TARGET = re.compile(r"[ \t]*<(?P<target>[^>]*)>")
_SEPARATOR = re.compile(r"[ \t]*(?:,|\Z)")


class MalformedLinkHeader(ValueError):
    """A Link header that does not follow RFC 8288: the next page cannot be known."""


@dataclass(frozen=True)
class Link:
    """One link: its target as written (maybe relative) and its parameters."""

    target: str
    params: Mapping[str, str]

    @property
    def rels(self) -> frozenset[str]:
        """Relation types are a space-separated list, compared without regard to case."""
        return frozenset(self.params.get("rel", "").lower().split())


def parse_links(values: Iterable[str]) -> list[Link]:
    """Every link of every ``Link`` header value, in order."""
    links: list[Link] = []
    for value in values:
        position = 0
        while position < len(value):
            if value[position] in " \t,":  # empty list elements are allowed (RFC 9110)
                position += 1
                continue
            target = _TARGET.match(value, position)
            if target is None:
                raise MalformedLinkHeader(f"no <target> at character {position} of {value!r}")
            position = target.end()
            params: dict[str, str] = {}
            while param := _PARAM.match(value, position):
                position = param.end()
                name = param["name"].lower()
                quoted = param["quoted"]
                text = re.sub(r"\\(.)", r"\1", quoted[1:-1]) if quoted else param["token"] or ""
                params.setdefault(name, text)  # RFC 8288 3.3: later rel params are ignored
            end = _SEPARATOR.match(value, position)
            if end is None:
                raise MalformedLinkHeader(f"unexpected text at character {position} of {value!r}")
            position = end.end()
            links.append(Link(target["target"].strip(), params))
    return links
