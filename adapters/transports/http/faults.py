"""Faults a partner says in an answer's body rather than by its status: a SOAP Fault's
code, an error element of a 200. Each rule of a connector's ``faults`` says how to tell
one (an XPath or a regular expression on the body, optionally only for some statuses)
and what to do: wait and ask again, skip the item (noted for the operator), or fail
the run with the fault's text.

Pure: the rules look at bytes. The transport turns a match into the hub's errors, so the
engine acts on the family as for any other answer (``docs/adapters.md``, Faults).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from adapters.codecs.errors import DocumentError
from adapters.codecs.xml.guard import parse_xml
from adapters.transports.http.fault_rules import FaultRuleSpec
from hub.errors import FatalError, Location, PartnerDataError

__all__ = ["FaultMatch", "FaultRuleSpec", "ItemSkipped", "PartnerFault", "match_fault"]

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FaultMatch:
    """The first rule an answer matched, and what the fault says."""

    rule: FaultRuleSpec
    text: str


class ItemSkipped(PartnerDataError):
    """A fault a rule says to skip (an unknown parcel): this item is left, with the
    partner's words, for the operator; the others go on."""

    def __init__(self, reason: str, *, key: str, location: Location) -> None:
        super().__init__(reason, location=location)
        self.key = key


class PartnerFault(FatalError):
    """A fault a rule says to fail on (or one no rule lets pass): the run stops with the
    partner's words, for an operator to look at."""


def match_fault(
    rules: tuple[FaultRuleSpec, ...], status: int, content: bytes, *, max_chars: int = 300
) -> FaultMatch | None:
    """The first rule that matches this answer, or None. The XML body is parsed once,
    with the hub's hardened parser, and only if a rule needs it; a body that is not XML
    matches no XPath rule."""
    tree: Any = None
    parsed = False
    text: str | None = None
    for rule in rules:
        if rule.status is not None and status not in rule.status:
            continue
        if (rule.when_xpath is not None or rule.text_xpath is not None) and not parsed:
            parsed = True
            try:
                tree = parse_xml(content, source="answer", max_bytes=max(len(content), 1))
            except DocumentError:
                tree = None
        if rule.match is not None:
            if text is None:
                text = content.decode("utf-8", errors="replace")
            if re.search(rule.match, text) is None:
                continue
        elif tree is None or not _holds(tree.xpath(rule.when_xpath)):
            continue
        return FaultMatch(rule, _said(rule, tree, content, max_chars))
    return None


def _holds(result: object) -> bool:
    if isinstance(result, list):
        return bool(result)
    if isinstance(result, bool):
        return result
    if isinstance(result, float):
        return result != 0
    return bool(str(result).strip())


def _said(rule: FaultRuleSpec, tree: Any, content: bytes, max_chars: int) -> str:
    said = ""
    if rule.text_xpath is not None and tree is not None:
        result = tree.xpath(rule.text_xpath)
        if isinstance(result, list):
            result = " ".join(
                "".join(item.itertext()) if isinstance(item, etree._Element) else str(item)
                for item in result
            )
        said = str(result)
    if not said.strip():
        said = content.decode("utf-8", errors="replace")
    said = _WHITESPACE.sub(" ", said).strip()
    return said if len(said) <= max_chars else said[: max_chars - 1] + "…"
