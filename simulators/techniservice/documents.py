"""XML in and out: request bodies parsed by expat with every DTD refused, changes and
repairs rendered as the sheet shows them, and a repair order checked as its XSD would.

Bodies it reads are parsed by expat with every DTD refused, so no entity is ever expanded
or fetched, whatever a client sends.
"""

from __future__ import annotations

import pyexpat
import re
import xml.etree.ElementTree as ET
from datetime import date

from starlette.responses import Response

from simulators.server import format_at
from simulators.techniservice.repairs import Change, Part, Repair

TS_NS = "urn:techniservice:repairs:v2"
ET.register_namespace("ts", TS_NS)

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
XML_MEDIA_TYPE = "application/xml"
MAX_ORDER_BYTES = 256 * 1024


def ts(name: str) -> str:
    """The qualified (Clark) name of an element in TechniService's namespace."""
    return f"{{{TS_NS}}}{name}"


class UnsafeXMLError(ValueError):
    """The body declares a DTD: refused outright, so no entity can be expanded or fetched."""


def _clark(expat_name: str) -> str:
    namespace, separator, local = expat_name.rpartition("}")
    return f"{{{namespace}}}{local}" if separator else local


def parse_xml(data: bytes) -> ET.Element:
    """Parse a request body with expat, refusing DTDs (hence entities) and oversized bodies.

    Raises :class:`UnsafeXMLError` or :class:`pyexpat.ExpatError`.
    """
    if len(data) > MAX_ORDER_BYTES:
        raise UnsafeXMLError(f"body larger than {MAX_ORDER_BYTES} bytes")
    builder = ET.TreeBuilder()
    parser = pyexpat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_dtd(*_: object) -> None:
        raise UnsafeXMLError("DTDs and entity declarations are not accepted")

    def start(name: str, attributes: dict[str, str]) -> None:
        builder.start(_clark(name), {_clark(key): value for key, value in attributes.items()})

    def end(name: str) -> None:
        builder.end(_clark(name))

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.Parse(data, True)
    return builder.close()


def xml_response(root: ET.Element, status: int, headers: dict[str, str] | None = None) -> Response:
    ET.indent(root)
    body = XML_DECLARATION + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"
    return Response(body, status_code=status, media_type=XML_MEDIA_TYPE, headers=headers)


def plain_error(status: int, code: str, message: str, retry_after: int | None = None) -> Response:
    """The sheet's ``<Error>`` (no namespace) for transport-level refusals: 401, 429, 503…"""
    root = ET.Element("Error", {"code": code})
    root.text = message
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    return xml_response(root, status, headers)


def _append_details(parent: ET.Element, change: Change) -> None:
    """The elements a change carries beyond its ids and status, in the sheet's order."""
    if change.quote is not None:
        ET.SubElement(
            parent,
            ts("Quote"),
            {"currency": change.quote.currency, "amountInclTax": change.quote.amount_text()},
        )
    if change.visit is not None:
        attributes = {"date": format_at(change.visit.date), "slot": change.visit.slot}
        if change.visit.technician is not None:
            attributes["technician"] = change.visit.technician
        ET.SubElement(parent, ts("Visit"), attributes)
    for part in change.parts:
        ET.SubElement(parent, ts("Part"), {"ref": part.ref, "qty": str(part.qty)})
    if change.tracking is not None:
        ET.SubElement(
            parent,
            ts("Tracking"),
            {"carrier": change.tracking.carrier, "number": change.tracking.number},
        )
    if change.note is not None:
        ET.SubElement(parent, ts("Note")).text = change.note


def _append_ids(parent: ET.Element, repair_id: str, order_ref: str) -> None:
    ET.SubElement(parent, ts("RepairId")).text = repair_id
    ET.SubElement(parent, ts("OrderRef")).text = order_ref


def render_change(parent: ET.Element, change: Change) -> None:
    """Append one ``<ts:Change>`` to a ``<ts:Changes>`` page."""
    element = ET.SubElement(parent, ts("Change"), {"seq": str(change.seq)})
    _append_ids(element, change.repair_id, change.order_ref)
    ET.SubElement(element, ts("Status"), {"code": change.code, "at": change.at})
    _append_details(element, change)


def render_repair(repair: Repair) -> ET.Element:
    """``<ts:Repair>``: the latest status and the latest of each detail, with a Change's shape.

    Same children as a ``<ts:Change>`` so the hub can read a resync with the same mapping.
    """
    root = ET.Element(ts("Repair"))
    _append_ids(root, repair.repair_id, repair.order_ref)
    if not repair.changes:
        return root
    last = repair.changes[-1]
    ET.SubElement(root, ts("Status"), {"code": last.code, "at": last.at})
    quote, visit, tracking = None, None, None
    parts: tuple[Part, ...] = ()
    for change in repair.changes:
        quote = change.quote or quote
        visit = change.visit or visit
        tracking = change.tracking or tracking
        parts = change.parts or parts
    current = Change(
        seq=last.seq,
        repair_id=repair.repair_id,
        order_ref=repair.order_ref,
        code=last.code,
        at=last.at,
        quote=quote,
        visit=visit,
        parts=parts,
        tracking=tracking,
        note=last.note,
    )
    _append_details(root, current)
    return root


class InvalidOrderError(ValueError):
    """A repair order the XSD would reject; ``field`` names where, as in the 422 body."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


_ORDER_SEQUENCE = ("OrderRef", "Service", "Product", "Warranty", "Fault", "Customer")
_ENUMERATIONS = {"Service": ("HOME", "WORKSHOP"), "Warranty": ("LEGAL", "COMMERCIAL", "NONE")}
_ATTRIBUTES = {
    "Product": {"brand": True, "model": True, "serial": False, "purchaseDate": False},
    "Customer": {"name": True, "phone": False, "postcode": True},
}


def _simple_text(element: ET.Element, name: str) -> str:
    if len(element) or element.attrib:
        raise InvalidOrderError(name, f"{name} takes text only")
    return element.text or ""


def _attributes(element: ET.Element, name: str) -> dict[str, str]:
    if len(element) or (element.text or "").strip():
        raise InvalidOrderError(name, f"{name} takes attributes only")
    allowed = _ATTRIBUTES[name]
    for key in element.attrib:
        if key not in allowed:
            raise InvalidOrderError(f"{name}/@{key}", f"unexpected attribute {key}")
    for key, required in allowed.items():
        if required and key not in element.attrib:
            raise InvalidOrderError(f"{name}/@{key}", f"{name}/@{key} is required")
    return dict(element.attrib)


def _is_xs_date(text: str) -> bool:
    """An ``xs:date``: a calendar date, optionally followed by Z or an offset."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\d)(Z|[+-]\d\d:\d\d)?", text)
    if match is None:
        return False
    try:
        date.fromisoformat(match.group(1))
    except ValueError:
        return False
    return True


def read_order(root: ET.Element) -> dict[str, str | None]:
    """The order's fields, checked like the XSD checks them (sequence, enumerations, dates)."""
    if root.tag != ts("RepairOrder"):
        raise InvalidOrderError("RepairOrder", f"root element must be ts:RepairOrder in {TS_NS}")
    children = list(root)
    fields: dict[str, str | None] = {}
    for position, name in enumerate(_ORDER_SEQUENCE):
        if position >= len(children) or children[position].tag != ts(name):
            raise InvalidOrderError(name, f"{name} is missing or out of order")
        element = children[position]
        if name in _ATTRIBUTES:
            for key, value in _attributes(element, name).items():
                fields[f"{name}/@{key}"] = value
        else:
            text = _simple_text(element, name)
            allowed = _ENUMERATIONS.get(name)
            if allowed is not None and text not in allowed:
                raise InvalidOrderError(name, f"{name} must be one of {', '.join(allowed)}")
            fields[name] = text
    if len(children) > len(_ORDER_SEQUENCE):
        extra = children[len(_ORDER_SEQUENCE)].tag
        raise InvalidOrderError(extra.rpartition("}")[2], f"unexpected element {extra}")
    if not (fields["OrderRef"] or "").strip():
        raise InvalidOrderError("OrderRef", "OrderRef must not be empty")
    purchase = fields.get("Product/@purchaseDate")
    if purchase is not None and not _is_xs_date(purchase):
        raise InvalidOrderError("Product/@purchaseDate", "purchaseDate must be a date (YYYY-MM-DD)")
    return fields
