"""XML codec: partner XML documents <-> records, hostile input refused before it costs anything.

Partner XML comes from systems the hub does not control, over REST or SFTP, so reading
is defensive first. Before lxml sees a byte the document's size is checked and its prolog
scanned: any DOCTYPE is refused, and one that declares entities is named as such (XXE,
billion laughs). The parser itself is locked down anyway (no entity substitution, no DTD
loading, no network, libxml2's own limits kept), and nesting deeper than the mapping's
``max_depth`` is refused. Every refusal is a typed, raised ``XmlDocumentError``: the whole
document is unusable, no record of it is read.

Path conventions (the mapping's ``record``, ``fields`` and ``document_fields``):

- ``record`` is an XPath from the document: ``/ts:Changes/ts:Change`` (each element is a
  record) or ``ts:RepairOrder`` (the root element; a relative path starts at the document).
- ``fields`` are XPath relative to the record element. ``ts:RepairId`` gives the element's
  text content (all text inside it, as XPath's ``string()``, kept as is: the mapping
  strips); ``ts:Status/@code`` an attribute; ``@id`` an attribute of the record element
  itself. Nothing found gives None; an empty element or attribute gives ``""``. A path
  matching several nodes joins their values with a line feed (``ts:Part/@ref`` on three
  parts gives ``"PP-1\\nPP-2\\nPP-3"``).
- A repeated child is addressed one by one with the placeholder ``[{n}]`` on one step:
  ``pp:Line[{n}]/@sku`` reads the ``sku`` of every ``pp:Line`` of the record into the keys
  ``line_sku.1``, ``line_sku.2``... (the field name, a dot, the 1-based position), and
  writing takes the same keys back. Every position of every field of a line appears, None
  where the line lacks it.
- ``document_fields`` are XPath from the root element (``/ts:Changes/@next`` or ``@next``),
  read once per document and copied into every record.
- ``namespaces`` maps the prefixes the paths use to URIs. The extra key ``""`` names the
  URI to write as the default namespace (``xmlns="..."``, unprefixed tags) when encoding;
  reading ignores it (XPath has no default namespace).

Writing (``encode``) builds one document per record (one repair order, one purchase
order): the root element comes from ``record``, then each field in the mapping's order
creates the elements on its path (once; ``[{n}]`` or ``[2]`` picks a position) and sets
the text or attribute. None writes nothing. Field order is element order, so list fields
in the order the partner's XSD wants them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree

from hub.errors import ConfigurationError, Location, ModelError, PartnerDataError
from hub.mapping.spec import XmlCodecSpec
from hub.ports import DecodeResult, Record

__all__ = [
    "REPEAT",
    "SchemaProblem",
    "XmlCodec",
    "XmlDocumentError",
    "XmlDtdRefused",
    "XmlEncodeError",
    "XmlEntityRefused",
    "XmlMalformed",
    "XmlRecordSchemaError",
    "XmlRefused",
    "XmlRenderError",
    "XmlSchemaError",
    "XmlTooDeep",
    "XmlTooLarge",
    "codec_from_spec",
    "parse_xml",
    "secure_parser",
]

REPEAT = "[{n}]"
"""The placeholder of a repeated step in a field path, e.g. ``pp:Line[{n}]/@sku``."""

LIBXML2_MAX_DEPTH = 256
"""libxml2's own nesting limit without huge_tree: deeper documents fail inside the parser."""

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
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
_NAME = r"[A-Za-z_][\w.-]*"
_WRITE_STEP = re.compile(
    rf"(?:(?P<prefix>{_NAME}):)?(?P<local>{_NAME})(?:\[(?P<index>\{{n\}}|[1-9][0-9]*)\])?"
)
_WRITE_ATTRIBUTE = re.compile(rf"@(?:(?P<prefix>{_NAME}):)?(?P<local>{_NAME})")
_ERROR_STEP = re.compile(r"(?:(?P<prefix>[^:\[\]/]+):)?(?P<name>[^:\[\]/]+)(?:\[(?P<pos>\d+)\])?")
_CLARK = re.compile(r"\{([^}]*)\}")
_REPEATED_KEY = re.compile(r"(?P<name>.+)\.(?P<n>[1-9][0-9]*)")


# --------------------------------------------------------------------------- errors


class XmlDocumentError(PartnerDataError):
    """The whole document is unusable: raised (never yielded), no record of it is read."""


class XmlRefused(XmlDocumentError):
    """Refused for safety or size before its content is read: hostile or far off format."""


class XmlTooLarge(XmlRefused):
    """Larger than the mapping's ``max_bytes``: refused before parsing, so it costs nothing."""

    def __init__(self, *, size: int, limit: int, location: Location) -> None:
        super().__init__(
            f"document size {size} bytes exceeds the limit of {limit} bytes: refused unparsed",
            location=location,
        )
        self.size = size
        self.limit = limit


class XmlTooDeep(XmlRefused):
    """Nested deeper than the mapping allows: a partner format never is, an attack may be."""

    def __init__(self, *, limit: int, location: Location) -> None:
        super().__init__(
            f"elements are nested more than {limit} levels deep: refused", location=location
        )
        self.limit = limit


class XmlEntityRefused(XmlRefused):
    """The DOCTYPE declares entities: they can read files, reach the network or explode."""

    def __init__(self, *, location: Location) -> None:
        super().__init__(
            "the document declares entities (<!ENTITY ...> in its DOCTYPE): refused unparsed, "
            "since an entity can read local files or reach the network (XXE) or expand "
            "exponentially (billion laughs)",
            location=location,
        )


class XmlDtdRefused(XmlRefused):
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


class XmlMalformed(XmlDocumentError):
    """Not well-formed XML (often a document cut short): its records cannot be trusted."""

    def __init__(self, *, detail: str, line: int | None, column: int | None, source: str) -> None:
        where = f"line {line}, column {column}" if line is not None else "an unknown place"
        super().__init__(
            f"malformed XML at {where}: {detail}", location=Location(source, line or None)
        )
        self.detail = detail
        self.line = line
        self.column = column


@dataclass(frozen=True)
class SchemaProblem:
    """One XSD error: where libxml2 saw it and what it says."""

    line: int | None
    path: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _problems_text(problems: Sequence[SchemaProblem], limit: int = 5) -> str:
    shown = "; ".join(str(p) for p in problems[:limit])
    more = len(problems) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


class XmlSchemaError(XmlDocumentError):
    """The document breaks its XSD outside any record (root, page attributes): all rejected."""

    def __init__(self, problems: Sequence[SchemaProblem], *, source: str) -> None:
        super().__init__(
            f"the document does not match its XSD: {_problems_text(problems)}",
            location=Location(source, problems[0].line if problems else None),
        )
        self.problems = tuple(problems)


class XmlRecordSchemaError(PartnerDataError):
    """One record breaks the XSD: it is rejected alone, the other records go through."""

    def __init__(self, problems: Sequence[SchemaProblem], *, location: Location, raw: str) -> None:
        super().__init__(
            f"the record does not match the XSD: {_problems_text(problems)}",
            location=location,
            raw=raw,
        )
        self.problems = tuple(problems)


class XmlEncodeError(ModelError):
    """A record cannot be written as the partner's XML document; nothing is sent."""


class XmlRenderError(XmlEncodeError):
    """The written document breaks the partner's XSD: the partner would refuse it anyway."""

    def __init__(self, problems: Sequence[SchemaProblem], *, root: str) -> None:
        super().__init__(f"the {root} does not match the partner's XSD: {_problems_text(problems)}")
        self.problems = tuple(problems)


# --------------------------------------------------------------------------- parsing


class _NothingResolver(etree.Resolver):
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
    parser.resolvers.add(_NothingResolver())
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
) -> XmlDocumentError:
    # The exception's log is the thread's, earlier documents' errors included: the fresh
    # parser's log holds this document's only.
    entries = list(parser.error_log)
    for entry in entries:
        if entry.type_name == "ERR_RESOURCE_LIMIT":
            if "depth" in entry.message.lower():
                return XmlTooDeep(
                    limit=min(max_depth, LIBXML2_MAX_DEPTH - 1), location=Location(source)
                )
            return XmlRefused(
                f"refused by the parser's limits: {entry.message}",
                location=Location(source, entry.line or None),
            )
    if entries:
        first = entries[0]
        return XmlMalformed(
            detail=first.message, line=first.line, column=first.column, source=source
        )
    line, column = exc.position
    return XmlMalformed(detail=str(exc.msg), line=line, column=column, source=source)


def parse_xml(
    content: bytes, *, source: str, max_bytes: int = 10_000_000, max_depth: int = 64
) -> etree._ElementTree:
    """Parse partner XML safely, or raise the XmlDocumentError that says why not.

    For every XML a partner sends, codec or not (an error body, a 201 answer): size
    first (nothing parsed), then the prolog (no DOCTYPE), then lxml with a locked-down
    parser, then depth.
    """
    if len(content) > max_bytes:
        raise XmlTooLarge(size=len(content), limit=max_bytes, location=Location(source))
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
        raise XmlTooDeep(limit=max_depth, location=Location(source))
    return tree


# --------------------------------------------------------------------------- reading


def _text_of(item: Any) -> str | None:
    if isinstance(item, etree._Element):
        return "".join(item.itertext())
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return str(int(item)) if item.is_integer() else repr(item)
    if isinstance(item, tuple):  # a namespace node: (prefix, uri)
        return str(item[1])
    if item is None:
        return None
    return str(item)


def _value_of(result: Any) -> str | None:
    """One field's value from an XPath result: several nodes are joined with a line feed."""
    if isinstance(result, list):
        texts = [text for text in map(_text_of, result) if text is not None]
        return "\n".join(texts) if texts else None
    return _text_of(result)


def _elements(result: Any) -> list[etree._Element]:
    """The elements of an XPath result (a record path may not select text or numbers)."""
    return [i for i in result if isinstance(i, etree._Element)] if isinstance(result, list) else []


@dataclass(frozen=True)
class _ChildPath:
    """The usual shapes (``ts:A``, ``ts:A/ts:B``, ``ts:A/@x``, ``@x``, ``.``) walked directly.

    Same answer as the XPath, several times faster: a page of 200 changes with a dozen
    fields is thousands of evaluations.
    """

    steps: tuple[str, ...]
    attribute: str | None

    def __call__(self, context: etree._Element) -> list[Any]:
        nodes = [context]
        for tag in self.steps:
            nodes = [child for node in nodes for child in node.iterchildren(tag)]
        if self.attribute is None:
            return nodes
        found = (node.get(self.attribute) for node in nodes)
        return [value for value in found if value is not None]


_Select = Callable[[etree._Element], Any]


@dataclass(frozen=True)
class _Reader:
    """One field's compiled path; a repeated field has its list path and its item path."""

    name: str
    select: _Select
    each: _Select | None

    def read(self, context: etree._Element, into: dict[str, str | None]) -> None:
        if self.each is None:
            into[self.name] = _value_of(self.select(context))
            return
        for position, item in enumerate(_elements(self.select(context)), start=1):
            into[f"{self.name}.{position}"] = _value_of(self.each(item))


def _xpath(path: str, namespaces: Mapping[str, str], what: str) -> etree.XPath:
    try:
        xpath = etree.XPath(path, namespaces=dict(namespaces), smart_strings=False)
        xpath(etree.Element("probe"))  # undefined prefixes only show when evaluated
    except etree.XPathError as exc:
        raise ConfigurationError(f"{what}: {path!r} is not a usable XPath: {exc}") from exc
    return xpath


def _compile(path: str, namespaces: Mapping[str, str], what: str) -> _Select:
    """The path's XPath, or the same path walked directly when it has a usual shape."""
    xpath = _xpath(path, namespaces, what)
    try:
        plan = _write_plan(what, path, namespaces)
    except ValueError:
        return xpath
    if any(step.index or step.repeat for step in plan.steps):
        return xpath
    return _ChildPath(tuple(step.tag for step in plan.steps), plan.attribute)


def _reader(name: str, path: str, namespaces: Mapping[str, str], what: str) -> _Reader:
    if path.count(REPEAT) > 1:
        raise ConfigurationError(f"{what}: {path!r} has more than one {REPEAT}")
    if REPEAT not in path:
        return _Reader(name, _compile(path, namespaces, what), None)
    head, tail = path.split(REPEAT)
    item = "." if not tail else "." + tail if tail.startswith("/") else tail
    return _Reader(name, _compile(head, namespaces, what), _compile(item, namespaces, what))


def _leaf_text(element: etree._Element) -> str:
    if len(element):
        return "".join(element.itertext())
    return element.text or ""


class _FieldsReader:
    """All fields of a record, read in one pass over its children where paths allow.

    The record's children are indexed by tag once; a field that is one child's text or
    attribute, or the record's own attribute, is then a lookup. Other paths run their
    XPath. Every field of the mapping is in the result, None when absent.
    """

    def __init__(self, paths: Mapping[str, str], namespaces: Mapping[str, str], what: str):
        self._names = tuple(name for name in paths if REPEAT not in paths[name])
        own: list[tuple[str, str]] = []
        texts: list[tuple[str, str]] = []
        attributes: list[tuple[str, str, str]] = []
        others: list[_Reader] = []
        for name, path in paths.items():
            reader = _reader(name, path, namespaces, f"{what} {name!r}")
            simple = reader.select if reader.each is None else None
            if isinstance(simple, _ChildPath) and len(simple.steps) <= 1:
                if not simple.steps and simple.attribute is not None:
                    own.append((name, simple.attribute))
                    continue
                if len(simple.steps) == 1 and simple.attribute is None:
                    texts.append((name, simple.steps[0]))
                    continue
                if len(simple.steps) == 1 and simple.attribute is not None:
                    attributes.append((name, simple.steps[0], simple.attribute))
                    continue
            others.append(reader)
        self._own = tuple(own)
        self._texts = tuple(texts)
        self._attributes = tuple(attributes)
        self._others = tuple(others)
        self._indexed = bool(texts or attributes)

    def read(self, context: etree._Element) -> dict[str, str | None]:
        values: dict[str, str | None] = dict.fromkeys(self._names)
        for name, attribute in self._own:
            values[name] = context.get(attribute)
        if self._indexed:
            children: dict[Any, list[etree._Element]] = {}
            for child in context:
                if child.tag in children:
                    children[child.tag].append(child)
                else:
                    children[child.tag] = [child]
            for name, tag in self._texts:
                found = children.get(tag)
                if found:
                    values[name] = (
                        _leaf_text(found[0])
                        if len(found) == 1
                        else "\n".join(map(_leaf_text, found))
                    )
            for name, tag, attribute in self._attributes:
                found = children.get(tag)
                if found:
                    values[name] = (
                        found[0].get(attribute)
                        if len(found) == 1
                        else _value_of([c.get(attribute) for c in found])
                    )
        for reader in self._others:
            reader.read(context, values)
        return values


def _element_at(root: etree._Element, path: str | None) -> etree._Element | None:
    """The element libxml2 means by an error path such as ``/ts:Changes/ts:Change[3]``."""
    if not path or not path.startswith("/"):
        return None
    node: etree._Element | None = None
    candidates: list[etree._Element] = [root]
    for step in path[1:].split("/"):
        if step.startswith("@") or step.endswith(")"):
            break  # an attribute or a text node: its element is the answer
        found = _ERROR_STEP.fullmatch(step)
        if found is None:
            return None
        prefix, name, position = found["prefix"], found["name"], int(found["pos"] or 1)
        matching = [
            c
            for c in candidates
            if isinstance(c.tag, str)
            and (name == "*" or (etree.QName(c).localname == name and c.prefix == prefix))
        ]
        if position > len(matching):
            return None
        node = matching[position - 1]
        candidates = [c for c in node if isinstance(c.tag, str)]
    return node


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class _Step:
    tag: str  # Clark notation: {uri}local
    index: int | None  # a fixed 1-based position
    repeat: bool  # the [{n}] step


@dataclass(frozen=True)
class _WritePlan:
    name: str
    steps: tuple[_Step, ...]
    attribute: str | None

    @property
    def repeated(self) -> bool:
        return any(step.repeat for step in self.steps)


def _qualified(prefix: str | None, local: str, namespaces: Mapping[str, str]) -> str:
    if prefix is None:
        return local
    if prefix not in namespaces or not prefix:
        raise ValueError(f"prefix {prefix!r} is not in namespaces")
    return f"{{{namespaces[prefix]}}}{local}"


def _write_plan(name: str, path: str, namespaces: Mapping[str, str]) -> _WritePlan:
    """Parse the writable subset of XPath: element steps, then maybe one attribute."""
    text = path.strip()
    if text.startswith("./"):
        text = text[2:]
    if text in ("", "."):
        return _WritePlan(name, (), None)
    parts = text.split("/")
    attribute = None
    if parts[-1].startswith("@"):
        found = _WRITE_ATTRIBUTE.fullmatch(parts.pop())
        if found is None:
            raise ValueError("the attribute step is not @name or @prefix:name")
        attribute = _qualified(found["prefix"], found["local"], namespaces)
    steps = []
    for part in parts:
        found = _WRITE_STEP.fullmatch(part)
        if found is None:
            raise ValueError(f"step {part!r} is not name, prefix:name, name[2] or name{REPEAT}")
        index = found["index"]
        steps.append(
            _Step(
                _qualified(found["prefix"], found["local"], namespaces),
                int(index) if index and index != "{n}" else None,
                index == "{n}",
            )
        )
    if sum(step.repeat for step in steps) > 1:
        raise ValueError(f"only one step may be repeated with {REPEAT}")
    return _WritePlan(name, tuple(steps), attribute)


def _child(parent: etree._Element, tag: str, position: int | None) -> etree._Element:
    """The child on a path: found again if written before, else appended (with the
    positions before it, so that line 2 stays second even when written first)."""
    existing = [c for c in parent if c.tag == tag]
    wanted = position or 1
    while len(existing) < wanted:
        existing.append(etree.SubElement(parent, tag))
    return existing[wanted - 1]


# --------------------------------------------------------------------------- codec


class XmlCodec:
    """Reads records out of partner XML by XPath and writes one document per record."""

    def __init__(self, spec: XmlCodecSpec) -> None:
        self.spec = spec
        self._namespaces = {p: uri for p, uri in spec.namespaces.items() if p}
        clash = sorted(set(spec.fields) & set(spec.document_fields))
        if clash:
            raise ConfigurationError(
                f"names used both as fields and document fields: {', '.join(clash)}"
            )
        record = spec.record if spec.record.startswith(("/", "(")) else "/" + spec.record
        self._records = _xpath(record, self._namespaces, "record")
        self._fields = _FieldsReader(spec.fields, self._namespaces, "field")
        self._document = _FieldsReader(spec.document_fields, self._namespaces, "document field")
        self._schema = _load_schema(spec.xsd) if spec.xsd else None
        self._schema_lock = threading.Lock()
        self._uris = {uri: prefix for prefix, uri in self._namespaces.items()}
        self._plans: list[_WritePlan] | None = None

    # ------------------------------------------------------------------ decode

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Each record element's fields, or its XSD errors; a bad document raises.

        Raises XmlDocumentError (refused, malformed, XSD errors outside records) on the
        first ``next``: nothing of such a document is read.
        """
        tree = self._parse(content, source)
        document = self._document.read(tree.getroot())
        found = self._records(tree)
        elements = _elements(found)
        if not isinstance(found, list) or len(elements) != len(found):
            raise ConfigurationError(
                f"record path {self.spec.record!r} must select elements, not text or values"
            )
        rejected = self._schema_rejects(tree, elements, source)
        for element in elements:
            raw = etree.tostring(element, encoding="unicode", with_tail=False)
            line = element.sourceline or 0
            problems = rejected.get(element)
            if problems:
                yield XmlRecordSchemaError(problems, location=Location(source, line), raw=raw)
                continue
            fields = self._fields.read(element)
            fields.update(document)
            yield Record(line=line, fields=fields, raw=raw)

    def document_fields(self, content: bytes, *, source: str) -> dict[str, str | None]:
        """The values read once per document (a page's next token and whether more follow)."""
        return self._document.read(self._parse(content, source).getroot())

    def _parse(self, content: bytes, source: str) -> etree._ElementTree:
        return parse_xml(
            content, source=source, max_bytes=self.spec.max_bytes, max_depth=self.spec.max_depth
        )

    def _validate(self, tree: etree._ElementTree) -> list[SchemaProblem]:
        assert self._schema is not None
        with self._schema_lock:  # the error log belongs to the schema object
            if self._schema.validate(tree):
                return []
            return [
                SchemaProblem(e.line or None, e.path, self._pretty(e.message))
                for e in self._schema.error_log
            ]

    def _pretty(self, message: str) -> str:
        """XSD messages in the mapping's prefixes: ts:Status, not {urn:...:v2}Status."""

        def prefixed(found: re.Match[str]) -> str:
            prefix = self._uris.get(found[1])
            return f"{prefix}:" if prefix else found[0]

        return _CLARK.sub(prefixed, message)

    def _schema_rejects(
        self, tree: etree._ElementTree, records: list[etree._Element], source: str
    ) -> dict[etree._Element, list[SchemaProblem]]:
        """XSD errors by record: one bad change is rejected alone, not its page of 200."""
        if self._schema is None:
            return {}
        problems = self._validate(tree)
        if not problems:
            return {}
        owners = set(records)
        root = tree.getroot()
        by_record: dict[etree._Element, list[SchemaProblem]] = {}
        outside: list[SchemaProblem] = []
        for problem in problems:
            owner = self._owner(root, problem, owners, records)
            if owner is None:
                outside.append(problem)
            else:
                by_record.setdefault(owner, []).append(problem)
        if outside:
            raise XmlSchemaError(outside, source=source)
        return by_record

    @staticmethod
    def _owner(
        root: etree._Element,
        problem: SchemaProblem,
        owners: set[etree._Element],
        records: list[etree._Element],
    ) -> etree._Element | None:
        element = _element_at(root, problem.path)
        if element is not None:
            for candidate in (element, *element.iterancestors()):
                if candidate in owners:
                    return candidate
            return None
        if problem.line is None:
            return None
        # No usable path: the record whose lines hold the error, when only one does.
        around = [
            r
            for r in records
            if (r.sourceline or 0) <= problem.line <= max((e.sourceline or 0) for e in r.iter())
        ]
        return around[0] if len(around) == 1 else None

    # ------------------------------------------------------------------ encode

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        """One UTF-8 document for one record (outbound documents hold one order each).

        Raises XmlEncodeError for anything but exactly one record, an unknown field or a
        value XML cannot carry, and XmlRenderError when the result breaks the XSD.
        """
        if len(records) != 1:
            raise XmlEncodeError(
                f"an XML document holds one record, got {len(records)}: encode each document alone"
            )
        record = records[0]
        plans = self._write_plans()
        singles, repeated = self._sort_keys(record, plans)
        root_tag = self._root_tag()
        root = etree.Element(root_tag, nsmap=self._nsmap(root_tag, plans))
        for plan in plans:
            if plan.repeated:
                for n, key in repeated.get(plan.name, []):
                    self._write(root, plan, key, record[key], n)
            elif plan.name in singles:
                self._write(root, plan, plan.name, record[plan.name], None)
        etree.indent(root, space="  ")
        content = _DECLARATION + etree.tostring(root, encoding="UTF-8") + b"\n"
        if self._schema is not None:
            problems = self._validate(etree.fromstring(content, secure_parser()).getroottree())
            if problems:
                raise XmlRenderError(problems, root=self._pretty(root_tag))
        return content

    def _write_plans(self) -> list[_WritePlan]:
        if self._plans is None:
            plans, unwritable = [], []
            for name, path in self.spec.fields.items():
                try:
                    plans.append(_write_plan(name, path, self._namespaces))
                except ValueError as exc:
                    unwritable.append(f"{name!r} ({path!r}: {exc})")
            if unwritable:
                raise ConfigurationError(
                    "these field paths cannot be written (use element steps and one final "
                    f"@attribute): {', '.join(unwritable)}"
                )
            self._plans = plans
        return self._plans

    def _root_tag(self) -> str:
        name = self.spec.record.lstrip("/")
        found = _WRITE_STEP.fullmatch(name)
        if found is None or found["index"]:
            raise ConfigurationError(
                f"record {self.spec.record!r} is not one element name (e.g. ts:RepairOrder): "
                "cannot write documents with it"
            )
        try:
            return _qualified(found["prefix"], found["local"], self._namespaces)
        except ValueError as exc:
            raise ConfigurationError(f"record {self.spec.record!r}: {exc}") from exc

    def _nsmap(self, root_tag: str, plans: list[_WritePlan]) -> dict[str | None, str]:
        """Only the namespaces the document uses; the "" one as the default namespace."""
        tags = [root_tag] + [s.tag for p in plans for s in p.steps]
        tags += [p.attribute for p in plans if p.attribute]
        used = {etree.QName(tag).namespace for tag in tags} - {None}
        default = self.spec.namespaces.get("")
        nsmap: dict[str | None, str] = {None: default} if default in used and default else {}
        for prefix, uri in self._namespaces.items():
            if uri in used and uri != default and uri not in nsmap.values():
                nsmap[prefix] = uri
        return nsmap

    def _sort_keys(
        self, record: Mapping[str, str | None], plans: list[_WritePlan]
    ) -> tuple[set[str], dict[str, list[tuple[int, str]]]]:
        """Split a record's keys into plain fields and numbered ones (``line_sku.2``)."""
        kinds = {plan.name: plan.repeated for plan in plans}
        singles: set[str] = set()
        repeated: dict[str, list[tuple[int, str]]] = {}
        unknown = []
        for key, value in record.items():
            if value is not None and not isinstance(value, str):
                raise XmlEncodeError(
                    f"field {key!r}: expected text or None, got {type(value).__name__}"
                )
            numbered = _REPEATED_KEY.fullmatch(key)
            if kinds.get(key) is False:
                singles.add(key)
            elif numbered and kinds.get(numbered["name"]) is True:
                repeated.setdefault(numbered["name"], []).append((int(numbered["n"]), key))
            elif key not in self.spec.document_fields:  # read from documents, never written
                unknown.append(key)
        if unknown:
            raise XmlEncodeError(f"fields not in the mapping: {', '.join(map(repr, unknown))}")
        for numbered_keys in repeated.values():
            numbered_keys.sort()
        return singles, repeated

    @staticmethod
    def _write(
        root: etree._Element, plan: _WritePlan, key: str, value: str | None, n: int | None
    ) -> None:
        if value is None:
            return
        node = root
        for step in plan.steps:
            node = _child(node, step.tag, n if step.repeat else step.index)
        try:
            if plan.attribute is None:
                node.text = value
            else:
                node.set(plan.attribute, value)
        except ValueError as exc:  # control characters, lone surrogates: not XML
            raise XmlEncodeError(f"field {key!r}: {exc}") from exc


def _load_schema(path: str) -> etree.XMLSchema:
    """The partner's XSD, read once per codec.

    The XSD is the hub's own configuration file, so unlike partner documents it may
    include or import local schema files; entities and the network stay off.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        document = etree.parse(path, parser)
        return etree.XMLSchema(document)
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise ConfigurationError(f"XSD {path}: {exc}") from exc


def codec_from_spec(spec: XmlCodecSpec, columns: Sequence[str] | None) -> XmlCodec:
    """The codec a mapping message describes (registered as the ``xml`` codec).

    ``columns`` is for delimited formats; XML fields are named by the spec's paths.
    """
    return XmlCodec(spec)
