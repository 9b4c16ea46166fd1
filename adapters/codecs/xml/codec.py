"""The XML codec: partner XML documents <-> records, by the mapping's paths.

It only composes its parts: :mod:`.guard` refuses hostile input before parsing,
:mod:`.reader` reads each record's fields, :mod:`.schema` checks documents against the
partner's XSD (handed over as bytes: the codec does no I/O), :mod:`.writer` builds the
documents the hub sends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import partial

from lxml import etree

from adapters.codecs.errors import DocumentError, EncodeError
from adapters.codecs.xml.guard import parse_xml, secure_parser
from adapters.codecs.xml.paths import ancestor_paths, outline
from adapters.codecs.xml.reader import FieldsReader, compile_xpath, elements
from adapters.codecs.xml.schema import PartnerSchema, XmlRecordSchemaError, XmlRenderError
from adapters.codecs.xml.spec import XmlCodecSpec
from adapters.codecs.xml.writer import DocumentWriter
from hub.errors import ConfigurationError, Location
from hub.ports import AdapterInfo, AdapterKind, Capability, DecodeResult, Record

__all__ = ["XML", "XmlCodec", "XmlCodecSpec", "XmlShapeError", "codec_from_spec"]


class XmlShapeError(DocumentError):
    """The record path reaches nothing in a document that has content: the partner
    changed its format, or sent another message (an error answer): never silence."""


class XmlCodec:
    """Reads records out of partner XML by XPath and writes one document per record.

    The XSD comes as bytes in ``spec.xsd_document``, read by the mapping loader from the
    file ``spec.xsd`` names; a spec naming an XSD without its content is refused, so that
    no document goes unchecked by mistake.
    """

    def __init__(self, spec: XmlCodecSpec) -> None:
        self.spec = spec
        self._namespaces = {p: uri for p, uri in spec.namespaces.items() if p}
        clash = sorted(set(spec.fields) & set(spec.document_fields))
        if clash:
            raise ConfigurationError(
                f"names used both as fields and document fields: {', '.join(clash)}"
            )
        record = spec.record if spec.record.startswith(("/", "(")) else "/" + spec.record
        self._records = compile_xpath(record, self._namespaces, "record", ("record",))
        ancestors = ancestor_paths(record)
        self._ancestors = (
            None
            if ancestors is None
            else [compile_xpath(path, self._namespaces, "record") for path in ancestors]
        )
        """Where the records would be and what encloses it, deepest first; None when it
        cannot be told (``//Evt``: anywhere)."""
        self._fields = FieldsReader(spec.fields, self._namespaces, "field")
        self._document = FieldsReader(spec.document_fields, self._namespaces, "document field")
        xsd = spec.xsd_document
        if spec.xsd is not None and xsd is None:
            raise ConfigurationError(
                f"XSD {spec.xsd}: the mapping names it but its content was not handed to the "
                "codec (mappings are read with hub.mapping.loader.load_mapping)"
            )
        self._schema = (
            None
            if xsd is None
            else PartnerSchema(xsd, name=spec.xsd or "given", namespaces=self._namespaces)
        )
        self._writer = DocumentWriter(spec, self._namespaces)

    # ------------------------------------------------------------------ decode

    def decode(self, content: bytes, *, source: str) -> Iterator[DecodeResult]:
        """Each record element's fields, or its XSD errors; a bad document raises.

        Raises DocumentError (refused, malformed, XSD errors outside records) on the
        first ``next``: nothing of such a document is read.
        """
        tree = self._parse(content, source)
        document = self._document.read(tree.getroot())
        found = self._records(tree)
        records = elements(found)
        if not isinstance(found, list) or len(records) != len(found):
            raise ConfigurationError(
                f"record path {self.spec.record!r} must select elements, not text or values"
            )
        if not records:
            self._check_reachable(tree, source)
        rejected = {} if self._schema is None else self._schema.rejects(tree, records, source)
        read = self._fields.read
        for element in records:
            line = element.sourceline or 0
            problems = rejected.get(element) if rejected else None
            if problems:
                yield XmlRecordSchemaError(
                    problems, location=Location(source, line), raw=_raw(element)
                )
                continue
            fields = read(element)
            if document:
                fields.update(document)
            # The element's text is written only if the mapping rejects the record: the
            # tree is read-only from here, so it is the text it would have been now.
            yield Record.deferred(line, fields, partial(_raw, element))

    def _check_reachable(self, tree: etree._ElementTree, source: str) -> None:
        """No record: fine when the records' parent is there (a parcel without events
        yet), or the path stops at an empty element (an answer without parcels), or the
        document is an empty root. A path reaching nothing in a document with content is
        refused, saying what the document holds: never silence."""
        root = tree.getroot()
        if _empty(root) or self._ancestors is None:
            return
        for depth, ancestor in enumerate(self._ancestors):
            found = elements(ancestor(tree))
            if found:
                if depth == 0 or all(map(_empty, found)):
                    return
                break
        raise XmlShapeError(
            f"record path {self.spec.record} reaches nothing in this document (it holds: "
            f"{outline(root)}): the partner's format changed, or this is not the message "
            "the mapping reads",
            location=Location(source, root.sourceline),
        )

    def document_fields(self, content: bytes, *, source: str) -> dict[str, str | None]:
        """The values read once per document (a page's next token and whether more follow)."""
        return self._document.read(self._parse(content, source).getroot())

    def _parse(self, content: bytes, source: str) -> etree._ElementTree:
        return parse_xml(
            content, source=source, max_bytes=self.spec.max_bytes, max_depth=self.spec.max_depth
        )

    # ------------------------------------------------------------------ encode

    def encode(self, records: Sequence[Mapping[str, str | None]]) -> bytes:
        """One UTF-8 document for one record (outbound documents hold one order each).

        Raises EncodeError for anything but exactly one record, an unknown field or a
        value XML cannot carry, and XmlRenderError when the result breaks the XSD.
        """
        if len(records) != 1:
            raise EncodeError(
                f"an XML document holds one record, got {len(records)}: encode each document alone"
            )
        root_tag, content = self._writer.document(records[0])
        if self._schema is not None:
            tree = etree.fromstring(content, secure_parser()).getroottree()
            problems = self._schema.problems(tree)
            if problems:
                raise XmlRenderError(problems, root=self._schema.pretty(root_tag))
        return content


def _raw(element: etree._Element) -> str:
    """A record's raw text: its element as the partner wrote it (its tail left out)."""
    return etree.tostring(element, encoding="unicode", with_tail=False)


def _empty(element: etree._Element) -> bool:
    """No child element and no text: a container with nothing in it yet."""
    return len(element) == 0 and not (element.text or "").strip()


def codec_from_spec(
    spec: XmlCodecSpec, columns: Sequence[str] | None, direction: str = "inbound"
) -> XmlCodec:
    """The codec a mapping message describes (registered as the ``xml`` codec).

    ``columns`` is for delimited formats; XML fields are named by the spec's paths. The
    XSD's content comes with the spec, read by the mapping loader.
    """
    del columns, direction
    return XmlCodec(spec)


XML = AdapterInfo(
    kind=AdapterKind.CODEC,
    name="xml",
    summary="XML documents, records and fields found by XPath, optionally checked by an XSD.",
    settings=XmlCodecSpec,
    factory=codec_from_spec,
    capabilities=frozenset({Capability.DECODE, Capability.ENCODE, Capability.DOCUMENT}),
)
"""The ``xml`` entry point of ``hub.codecs``."""
