"""Answer templates: a small, safe format for what the hub answers a partner's push.

A template is text with placeholders in braces (``{{`` and ``}}`` for literal braces):

- ``{message_id}``: the id the archive gave the push (answers only);
- ``{status}``: the answer's own HTTP status;
- ``{reason}``: why the push was refused (refusals only);
- ``{header:X-Name}``, ``{query:name}``: a request header or query parameter;
- ``{xml:XPATH}``: a value of the XML body (``/Lot/@numero``; for namespaces,
  ``//*[local-name()='BatchId']``), read with the hub's hardened XML parser (answers only);
- ``{json:a.b.0}``: a value of the JSON body by keys and list indexes (answers only).

Nothing else is evaluated: no attribute access, no formatting code. Every value is
escaped for the answer's content type (XML-escaped for XML and HTML, JSON-string-escaped
for JSON, as is otherwise), so a partner's value cannot change the answer's structure.
Values missing from the request are empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from adapters.codecs.errors import DocumentError
from adapters.codecs.xml.guard import parse_xml
from hub.errors import ConfigurationError

__all__ = [
    "BodyUnreadable",
    "Placeholder",
    "Template",
    "escape_for",
    "parse_template",
    "read_values",
    "read_xml",
    "xpath_holds",
]

SIMPLE = frozenset({"message_id", "status", "reason", "client"})
"""Placeholders without an argument."""
WITH_ARGUMENT = frozenset({"header", "query", "xml", "json"})
"""Placeholders that read the request: ``{kind:argument}``."""
READS_BODY = frozenset({"xml", "json"})

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class BodyUnreadable(ConfigurationError):
    """The answer needs values of the body, and the body is not what the template reads
    (not XML, not JSON): the push is refused as malformed before it is archived."""


@dataclass(frozen=True)
class Placeholder:
    kind: str
    argument: str = ""

    @property
    def key(self) -> str:
        """How the value is kept between reading the request and rendering the answer."""
        return f"{self.kind}:{self.argument}" if self.argument else self.kind


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholders, in order."""

    parts: tuple[str | Placeholder, ...]

    @property
    def placeholders(self) -> list[Placeholder]:
        return [part for part in self.parts if isinstance(part, Placeholder)]

    def kinds(self) -> set[str]:
        return {placeholder.kind for placeholder in self.placeholders}

    def render(self, values: Mapping[str, str], content_type: str) -> bytes:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(escape_for(content_type, values.get(part.key, "")))
        return "".join(out).encode("utf-8")


def parse_template(text: str) -> Template:
    """The template, or a ValueError that says which placeholder is wrong (for settings)."""
    parts: list[str | Placeholder] = []
    position = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
            continue
        inner = match.group(1)
        if inner is None:
            raise ValueError(f"unmatched {token!r} at character {match.start()}; write it twice")
        parts.append(_placeholder(inner.strip()))
    parts.append(text[position:])
    return Template(tuple(part for part in parts if part != ""))


def _placeholder(inner: str) -> Placeholder:
    kind, colon, argument = inner.partition(":")
    kind = kind.strip()
    if not colon and kind in SIMPLE:
        return Placeholder(kind)
    if colon and kind in WITH_ARGUMENT and argument.strip():
        if kind == "xml":
            try:
                etree.XPath(argument.strip())
            except etree.XPathSyntaxError as exc:
                raise ValueError(f"{{{inner}}}: not an XPath expression ({exc})") from None
        return Placeholder(kind, argument.strip())
    known = ", ".join([*sorted(SIMPLE), *(f"{name}:..." for name in sorted(WITH_ARGUMENT))])
    raise ValueError(f"unknown placeholder {{{inner}}} (known: {known})")


def escape_for(content_type: str, value: str) -> str:
    """The value made inert for the answer's content type."""
    media = content_type.split(";")[0].strip().lower()
    if "xml" in media or "html" in media:
        # Imported here: xml.sax.saxutils imports urllib.request (http.client, email),
        # which a command reading the network must not pay to check a template.
        from xml.sax.saxutils import escape

        return escape(value, {'"': "&quot;", "'": "&apos;"})
    if "json" in media:
        return json.dumps(value, ensure_ascii=False)[1:-1]
    return value


def read_values(
    placeholders: list[Placeholder],
    *,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    client: str | None,
    body: bytes,
    max_bytes: int,
    lenient: bool = False,
) -> dict[str, str]:
    """Every request value the placeholders name; the body is parsed at most once per
    format, and only when a placeholder reads it. Raises BodyUnreadable, unless
    ``lenient``: then what the body cannot give is empty (an answer to an unreadable
    push)."""
    if lenient:
        values = {}
        for placeholder in placeholders:
            try:
                values.update(
                    read_values(
                        [placeholder],
                        headers=headers,
                        query=query,
                        client=client,
                        body=body,
                        max_bytes=max_bytes,
                    )
                )
            except BodyUnreadable:
                values[placeholder.key] = ""
        return values
    values = {}
    tree: Any = None
    document: Any = None
    for placeholder in placeholders:
        kind, argument = placeholder.kind, placeholder.argument
        if kind == "header":
            values[placeholder.key] = headers.get(argument.lower(), "")
        elif kind == "query":
            values[placeholder.key] = query.get(argument, "")
        elif kind == "client":
            values[placeholder.key] = client or ""
        elif kind == "xml":
            if tree is None:
                tree = read_xml(body, max_bytes=max_bytes)
            values[placeholder.key] = _xpath_text(tree.xpath(argument))
        elif kind == "json":
            if document is None:
                try:
                    document = json.loads(body)
                except (ValueError, UnicodeDecodeError) as error:
                    raise BodyUnreadable(f"the body is not JSON: {error}") from None
            values[placeholder.key] = _json_text(document, argument)
    return values


def read_xml(body: bytes, *, max_bytes: int) -> Any:
    """The body as XML (the hub's hardened parser; the prolog's encoding, such as
    ISO-8859-1, is honoured), or BodyUnreadable."""
    try:
        return parse_xml(body, source="push", max_bytes=max_bytes)
    except DocumentError as error:
        raise BodyUnreadable(f"the body is not readable XML: {error.message}") from None


def xpath_holds(tree: Any, xpath: str) -> bool:
    """Whether the XPath selects something non-empty, or is true, on the tree."""
    result = tree.xpath(xpath)
    if isinstance(result, list):
        return any(_xpath_text(item).strip() or isinstance(item, etree._Element) for item in result)
    if isinstance(result, bool):
        return result
    return bool(_xpath_text(result).strip())


def _xpath_text(result: object) -> str:
    if isinstance(result, list):
        return _xpath_text(result[0]) if result else ""
    if isinstance(result, etree._Element):
        return "".join(result.itertext())
    if isinstance(result, bool):
        return "true" if result else "false"
    if isinstance(result, float):
        return str(int(result)) if result.is_integer() else str(result)
    return str(result)


def _json_text(document: object, path: str) -> str:
    value = document
    for step in path.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
