"""The XML input guard: partner XML refused before it costs anything.

Partner XML comes from systems the hub does not control, over REST or SFTP, so reading
is defensive first. Before lxml sees a byte the document's size is checked and its prolog
scanned: any DOCTYPE is refused, and one that declares entities is named as such (XXE,
billion laughs). The parser itself is locked down anyway (no entity substitution, no DTD
loading, no network, libxml2's own limits kept), and nesting deeper than the mapping's
``max_depth`` is refused. Every refusal is a typed, raised ``DocumentError``: the whole
document is unusable, no record of it is read.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from lxml import etree

from adapters.codecs.errors import (
    DocumentError,
    DocumentMalformed,
    DocumentRefused,
    DocumentTooDeep,
    DocumentTooLarge,
)
from hub.errors import Location

__all__ = [
    "LIBXML2_MAX_DEPTH",
    "NothingResolver",
    "XmlDtdRefused",
    "XmlEntityRefused",
    "parse_xml",
    "secure_parser",
]

LIBXML2_MAX_DEPTH = 256
"""libxml2's own nesting limit without huge_tree: deeper documents fail inside the parser."""

_UTF8_BOM = b"\xef\xbb\xbf"
# Whitespace, processing instructions (the XML declaration) and comments may precede a
# DOCTYPE; matched in C so that a prolog padded with megabytes costs nothing.
_PROLOG_SKIP = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# The DOCTYPE up to its internal subset or its end; quoted identifiers may hold [ or >.
_DOCTYPE_HEAD = re.compile(rb"""<!DOCTYPE(?:[^\[>"']|"[^"]*"|'[^']*')*""", re.IGNORECASE)
_EXTERNAL_ID = re.compile(rb"""\b(?:SYSTEM|PUBLIC)\b""")
_LITERAL = re.compile(rb""""([^"]*)"|'([^']*)'""")
_SUBSET_END = re.compile(rb"\]\s*>")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)


class XmlEntityRefused(DocumentRefused):
    """The DOCTYPE declares entities: they can read files, reach the network or explode."""

    def __init__(self, *, location: Location) -> None:
        super().__init__(
            "the document declares entities (<!ENTITY ...> in its DOCTYPE): refused unparsed, "
            "since an entity can read local files or reach the network (XXE) or expand "
            "exponentially (billion laughs)",
            location=location,
        )


class XmlDtdRefused(DocumentRefused):
    """A DOCTYPE: partner documents are checked against their XSD, never a DTD."""

    def __init__(self, *, location: Location, external_id: str | None = None) -> None:
        if external_id is not None:
            reason = (
                f"the document refers to an external DTD ({external_id!r}): refused unparsed, "
                "nothing is fetched; partner documents are checked against their XSD"
            )
        else:
            reason = (
                "the document has a DOCTYPE declaration: refused, partner documents are "
                "checked against their XSD, never a DTD"
            )
        super().__init__(reason, location=location)
        self.external_id = external_id


class NothingResolver(etree.Resolver):
    """Answers any load libxml2 might still attempt with nothing: a second lock on the door."""

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        return self.resolve_string("", context)


def secure_parser() -> etree.XMLParser:
    """A fresh parser that substitutes no entity, loads no DTD and reaches no network.

    Fresh per document: lxml parsers keep state (their error log) between uses, so
    sharing one between threads would mix errors. Creating one costs about a microsecond.
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    parser.resolvers.add(NothingResolver())
    return parser


def _scan_form(content: bytes) -> bytes:
    """The document as ASCII-compatible bytes, so that one scan serves UTF-16/32 too."""
    head = content[:4]
    if head.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        codec = "utf-32"
    elif head == b"\x00\x00\x00<":
        codec = "utf-32-be"
    elif head == b"<\x00\x00\x00":
        codec = "utf-32-le"
    elif head.startswith((b"\xfe\xff", b"\xff\xfe")):
        codec = "utf-16"
    elif head.startswith(b"\x00<"):
        codec = "utf-16-be"
    elif head.startswith(b"<\x00"):
        codec = "utf-16-le"
    else:
        return content
    return content.decode(codec, errors="replace").encode("utf-8")


def _refuse_doctype(content: bytes, source: str) -> None:
    """Refuse any DOCTYPE before parsing; name entity declarations and external DTDs."""
    data = _scan_form(content)
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    skipped = _PROLOG_SKIP.match(data, start)
    position = skipped.end() if skipped else start
    if not _DOCTYPE.match(data, position):
        return
    location = Location(source, data.count(b"\n", 0, position) + 1)
    head = _DOCTYPE_HEAD.match(data, position)
    end = head.end() if head else position
    if data[end : end + 1] == b"[":
        close = _SUBSET_END.search(data, end)
        subset = data[end : close.start() if close else len(data)]
        if _ENTITY_DECLARATION.search(subset):
            raise XmlEntityRefused(location=location)
    external = _EXTERNAL_ID.search(data, position, end)
    if external is not None:
        # SYSTEM "url" or PUBLIC "id" "url": the last literal is where it would be fetched.
        literals = [a or b for a, b in _LITERAL.findall(data, external.end(), end)]
        identifier = literals[-1] if literals else b""
        raise XmlDtdRefused(
            location=location, external_id=identifier.decode("utf-8", "replace")[:200]
        )
    raise XmlDtdRefused(location=location)


@cache
def _deeper_than(limit: int) -> etree.XPath:
    """True when an element sits below ``limit`` levels: evaluated in C, stops nowhere slow."""
    return etree.XPath(f"boolean({'/*' * (limit + 1)})")


def _syntax_error(
    exc: etree.XMLSyntaxError, parser: etree.XMLParser, source: str, max_depth: int
) -> DocumentError:
    # The exception's log is the thread's, earlier documents' errors included: the fresh
    # parser's log holds this document's only.
    entries = list(parser.error_log)
    for entry in entries:
        if entry.type_name == "ERR_RESOURCE_LIMIT":
            if "depth" in entry.message.lower():
                return DocumentTooDeep(
                    limit=min(max_depth, LIBXML2_MAX_DEPTH - 1), location=Location(source)
                )
            return DocumentRefused(
                f"refused by the parser's limits: {entry.message}",
                location=Location(source, entry.line or None),
            )
    if entries:
        first = entries[0]
        return DocumentMalformed(
            syntax="XML", detail=first.message, line=first.line, column=first.column, source=source
        )
    line, column = exc.position
    return DocumentMalformed(
        syntax="XML", detail=str(exc.msg), line=line, column=column, source=source
    )


def parse_xml(
    content: bytes, *, source: str, max_bytes: int = 10_000_000, max_depth: int = 64
) -> etree._ElementTree:
    """Parse partner XML safely, or raise the DocumentError that says why not.

    For every XML a partner sends, codec or not (an error body, a 201 answer): size
    first (nothing parsed), then the prolog (no DOCTYPE), then lxml with a locked-down
    parser, then depth.
    """
    if len(content) > max_bytes:
        raise DocumentTooLarge(size=len(content), limit=max_bytes, location=Location(source))
    _refuse_doctype(content, source)
    parser = secure_parser()
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, parser, source, max_depth) from None
    tree = root.getroottree()
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # The prolog scan missed it (an exotic encoding): the parser resolved nothing, but
        # the rule is the same.
        raise XmlDtdRefused(location=Location(source))
    if _deeper_than(max_depth)(tree):
        raise DocumentTooDeep(limit=max_depth, location=Location(source))
    return tree
