"""An XML sample (a SOAP answer, a pushed batch): the records are the element repeated
most often, found by its path from the root; its attributes, its leaf children (and
theirs) are the fields; the enclosing element's attributes and leaf children are read
with ``../``. Namespaces are declared from the document's own prefixes."""

from __future__ import annotations

from collections import Counter
from typing import Any

from lxml import etree

from adapters.codecs.xml.codec import XmlCodec
from adapters.codecs.xml.guard import parse_xml
from adapters.codecs.xml.spec import XmlCodecSpec
from adapters.scaffold.layout import Layout, named_fields, records_of, settings_of
from hub.errors import ConfigurationError

__all__ = ["xml_layout"]

_XML_NS = "http://www.w3.org/XML/1998/namespace"
"""xml:lang and xml:space: bound in every XPath, never declared; not a field either."""

Element = Any  # lxml's _Element: its stubs type it loosely


def _prefixes(root: Element) -> dict[str, str]:
    """Namespace URI -> the prefix the document uses for it (``ns``, ``ns2``... for a
    default namespace, since XPath 1.0 has none)."""
    chosen: dict[str, str] = {}
    for element in root.iter():
        for prefix, uri in (element.nsmap or {}).items():
            if uri not in chosen and prefix:
                chosen[uri] = prefix
    n = 0
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        names = [
            etree.QName(element).namespace,
            *(etree.QName(k).namespace for k in element.attrib),
        ]
        for uri in names:
            if uri and uri not in chosen and uri != _XML_NS:
                n += 1
                chosen[uri] = "ns" if n == 1 else f"ns{n}"
    return chosen


def _name(node: Element, prefixes: dict[str, str]) -> str:
    qname = etree.QName(node)
    return f"{prefixes[qname.namespace]}:{qname.localname}" if qname.namespace else qname.localname


def _attribute(key: str, prefixes: dict[str, str]) -> str:
    qname = etree.QName(key)
    return f"@{prefixes[qname.namespace]}:{qname.localname}" if qname.namespace else f"@{key}"


def _attributes(node: Element) -> list[str]:
    return [key for key in node.attrib if etree.QName(key).namespace != _XML_NS]


def _leaf(node: Element) -> bool:
    return isinstance(node.tag, str) and not any(isinstance(c.tag, str) for c in node)


def _element_path(node: Element, prefixes: dict[str, str]) -> str:
    steps = []
    while node is not None:
        steps.append(_name(node, prefixes))
        node = node.getparent()
    return "/" + "/".join(reversed(steps))


def xml_layout(sample: bytes, sample_name: str) -> Layout:
    """The xml codec block for documents like ``sample``, and the records it reads."""
    root = parse_xml(sample, source=sample_name).getroot()
    prefixes = _prefixes(root)
    paths = Counter(
        _element_path(e, prefixes)
        for e in root.iter()
        if isinstance(e.tag, str) and (not _leaf(e) or e.attrib)
    )
    paths = paths or Counter({_element_path(root, prefixes): 1})  # <Error>text</Error>
    repeated = [path for path, count in paths.items() if count > 1] or list(paths)
    record = max(repeated, key=lambda p: (paths[p], -p.count("/")))  # the outer of equals
    elements = [
        e for e in root.iter() if isinstance(e.tag, str) and _element_path(e, prefixes) == record
    ]
    own: dict[str, str] = {}  # XPath -> the name it suggests
    above: dict[str, str] = {}
    record_tag = elements[0].tag
    if elements[0] is root and _leaf(root):
        own["."] = etree.QName(root).localname
    for element in elements:
        for key in _attributes(element):
            own.setdefault(_attribute(key, prefixes), etree.QName(key).localname)
        for child in element:
            if not isinstance(child.tag, str):
                continue
            step = _name(child, prefixes)
            local = etree.QName(child).localname
            for key in _attributes(child):
                own.setdefault(
                    f"{step}/{_attribute(key, prefixes)}", f"{local}_{etree.QName(key).localname}"
                )
            if _leaf(child):
                own.setdefault(step, local)
                continue
            for grandchild in child:
                if _leaf(grandchild):
                    own.setdefault(
                        f"{step}/{_name(grandchild, prefixes)}",
                        f"{local}_{etree.QName(grandchild).localname}",
                    )
        parent = element.getparent()
        if parent is None:
            continue
        for key in _attributes(parent):
            above.setdefault(f"../{_attribute(key, prefixes)}", etree.QName(key).localname)
        for sibling in parent:
            if _leaf(sibling) and sibling.tag != record_tag:
                above.setdefault(f"../{_name(sibling, prefixes)}", etree.QName(sibling).localname)
    fields, inherited = named_fields(own, above)
    codec: dict[str, Any] = {"type": "xml"}
    if prefixes:
        codec["namespaces"] = {prefix: uri for uri, prefix in prefixes.items()}
    codec |= {"record": record, "fields": fields}
    if not fields:
        raise ConfigurationError(f"{sample_name}: the records ({record}) hold no value to map")
    records, rejects = records_of(
        XmlCodec(XmlCodecSpec.model_validate(settings_of(codec))).decode(sample, source=sample_name)
    )
    about = [f"Records: {record}, repeated {paths[record]} time(s) in the sample."]
    if above:
        about.append(
            "Fields read with ../ come from the element enclosing each record "
            f"({', '.join(above)})."
        )
    return Layout(
        codec=codec,
        records=records,
        order=list(fields),
        rejects=rejects,
        about=about,
        inherited=inherited,
    )
