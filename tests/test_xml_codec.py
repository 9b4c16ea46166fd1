"""The XML codec on TechniService's and PiècesPlus's documents, and on hostile XML."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.codecs.errors import (
    DocumentError,
    DocumentMalformed,
    DocumentRefused,
    DocumentTooDeep,
    DocumentTooLarge,
    EncodeError,
)
from adapters.codecs.xml.codec import XmlCodec, codec_from_spec
from adapters.codecs.xml.guard import XmlDtdRefused, XmlEntityRefused, parse_xml, secure_parser
from adapters.codecs.xml.schema import XmlRecordSchemaError, XmlRenderError, XmlSchemaError
from adapters.codecs.xml.spec import XmlCodecSpec
from hub.errors import ConfigurationError, ModelError, NextAction, PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import load_mapping
from hub.mapping.spec import MappingSpec
from hub.model.event import Event
from hub.partners.ingest.pipeline import InboundPipeline, MessageRejected
from hub.ports import DecodeResult, DocumentCodec, Record

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "techniservice"
XSD = ROOT / "mappings" / "techniservice" / "repairs-v2.xsd"
TS_URI = "urn:techniservice:repairs:v2"
TS = {"ts": TS_URI}
PP_URI = "http://schemas.piecesplus.example/po/1"

CHANGE_FIELDS = {
    "seq": "@seq",
    "repair_id": "ts:RepairId",
    "order_ref": "ts:OrderRef",
    "code": "ts:Status/@code",
    "at": "ts:Status/@at",
    "quote_currency": "ts:Quote/@currency",
    "quote_amount": "ts:Quote/@amountInclTax",
    "visit_date": "ts:Visit/@date",
    "visit_slot": "ts:Visit/@slot",
    "technician": "ts:Visit/@technician",
    "part_refs": "ts:Part/@ref",
    "part_ref": "ts:Part[{n}]/@ref",
    "part_qty": "ts:Part[{n}]/@qty",
    "carrier": "ts:Tracking/@carrier",
    "tracking": "ts:Tracking/@number",
    "note": "ts:Note",
}
REPAIR_ORDER_FIELDS = {
    "order_ref": "ts:OrderRef",
    "service": "ts:Service",
    "brand": "ts:Product/@brand",
    "model": "ts:Product/@model",
    "serial": "ts:Product/@serial",
    "purchase_date": "ts:Product/@purchaseDate",
    "warranty": "ts:Warranty",
    "fault": "ts:Fault",
    "customer_name": "ts:Customer/@name",
    "customer_phone": "ts:Customer/@phone",
    "customer_postcode": "ts:Customer/@postcode",
}
ME_000130 = {
    "order_ref": "ME-000130",
    "service": "HOME",
    "brand": "Bosch",
    "model": "WAN28209FF",
    "serial": "FD9801-22314",
    "purchase_date": "2025-06-14",
    "warranty": "LEGAL",
    "fault": "Ne vidange plus",
    "customer_name": "Julie Martin",
    "customer_phone": "+33612345678",
    "customer_postcode": "69003",
}
PURCHASE_ORDER_FIELDS = {
    "order_id": "@id",
    "created": "@created",
    "buyer": "pp:Buyer/@account",
    "ship_to_code": "pp:ShipTo/@code",
    "ship_to": "pp:ShipTo",
    "case_ref": "pp:CaseRef",
    "line_no": "pp:Line[{n}]/@no",
    "line_sku": "pp:Line[{n}]/@sku",
    "line_qty": "pp:Line[{n}]/@qty",
}
# The PiècesPlus sheet's order file, byte for byte (plus the final line end).
PURCHASE_ORDER_SAMPLE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<PurchaseOrder xmlns="http://schemas.piecesplus.example/po/1" id="PO-2026-00017"'
    b' created="2026-11-03T10:02:00Z">\n'
    b'  <Buyer account="HUB-001"/>\n'
    + '  <ShipTo code="ATELIER-DUPONT">Atelier Dupont Réparation, ZA des Prés, '.encode()
    + b"38300 Bourgoin-Jallieu, FR</ShipTo>\n"
    b"  <CaseRef>ME-000123</CaseRef>\n"
    b'  <Line no="1" sku="PP-77120" qty="1"/>\n'
    b"</PurchaseOrder>\n"
)
PO_2026_00017 = {
    "order_id": "PO-2026-00017",
    "created": "2026-11-03T10:02:00Z",
    "buyer": "HUB-001",
    "ship_to_code": "ATELIER-DUPONT",
    "ship_to": "Atelier Dupont Réparation, ZA des Prés, 38300 Bourgoin-Jallieu, FR",
    "case_ref": "ME-000123",
    "line_no.1": "1",
    "line_sku.1": "PP-77120",
    "line_qty.1": "1",
}
KNOWN_CODES = {"10", "12", "14", "20", "25", "27", "28", "30", "40", "50", "55", "60", "70", "90"}


def loaded(spec: XmlCodecSpec) -> XmlCodecSpec:
    """The spec as the mapping loader hands it to the codec: with its XSD's content."""
    if spec.xsd is None or not Path(spec.xsd).is_file():
        return spec
    return spec.model_copy(update={"xsd_document": Path(spec.xsd).read_bytes()})


def changes_spec(*, with_xsd: bool = True, **changes: Any) -> XmlCodecSpec:
    values: dict[str, Any] = {
        "namespaces": TS,
        "record": "/ts:Changes/ts:Change",
        "fields": CHANGE_FIELDS,
        "document_fields": {"next": "/ts:Changes/@next", "more": "@more"},
        "xsd": str(XSD) if with_xsd else None,
    }
    values.update(changes)
    return loaded(XmlCodecSpec(**values))


def repair_order_codec(*, xsd: bool = True) -> XmlCodec:
    return XmlCodec(
        loaded(
            XmlCodecSpec(
                namespaces=TS,
                record="ts:RepairOrder",
                fields=REPAIR_ORDER_FIELDS,
                xsd=str(XSD) if xsd else None,
            )
        )
    )


def purchase_order_codec() -> XmlCodec:
    return XmlCodec(
        XmlCodecSpec(
            namespaces={"pp": PP_URI, "": PP_URI},
            record="pp:PurchaseOrder",
            fields=PURCHASE_ORDER_FIELDS,
        )
    )


def decode_fixture(name: str, codec: XmlCodec | None = None) -> list[DecodeResult]:
    codec = codec or XmlCodec(changes_spec())
    return list(codec.decode((FIXTURES / name).read_bytes(), source=name))


def records(results: list[DecodeResult]) -> list[Record]:
    return [r for r in results if isinstance(r, Record)]


def present(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if v is not None}


# --------------------------------------------------------------------------- reading


def test_the_sheet_sample_gives_its_two_changes() -> None:
    results = decode_fixture("changes_sheet_sample.xml")
    assert all(isinstance(r, Record) for r in results)
    quote, visit = records(results)
    assert quote.line == 3
    assert present(quote.fields) == {
        "seq": "4411",
        "repair_id": "TS-88120",
        "order_ref": "BM-000045",
        "code": "25",
        "at": "2026-11-03T10:41:00+01:00",
        "quote_currency": "EUR",
        "quote_amount": "212.00",
        "note": "Compresseur à remplacer",
        "next": "c2VxPTQ0MTI=",
        "more": "false",
    }
    assert visit.line == 10
    assert present(visit.fields) == {
        "seq": "4412",
        "repair_id": "TS-88121",
        "order_ref": "ME-000130",
        "code": "12",
        "at": "2026-11-03T10:45:00+01:00",
        "visit_date": "2026-11-05",
        "visit_slot": "AM",
        "technician": "T-041",
        "next": "c2VxPTQ0MTI=",
        "more": "false",
    }
    # Every field is present, None when the change lacks it.
    assert visit.fields["quote_amount"] is None
    assert visit.fields["note"] is None


def test_a_record_raw_text_is_its_element_standing_alone() -> None:
    quote = records(decode_fixture("changes_sheet_sample.xml"))[0]
    assert quote.raw.startswith('<ts:Change xmlns:ts="urn:techniservice:repairs:v2" seq="4411">')
    assert "Compresseur à remplacer" in quote.raw
    assert "TS-88121" not in quote.raw
    alone = etree.fromstring(quote.raw.encode(), secure_parser())
    assert alone.findtext(f"{{{TS_URI}}}RepairId") == "TS-88120"


def test_document_fields_are_read_once_and_copied_to_every_record() -> None:
    codec = XmlCodec(changes_spec())
    content = (FIXTURES / "changes_page1.xml").read_bytes()
    assert codec.document_fields(content, source="p1") == {
        "next": "c2VxPTQ0MjE=",
        "more": "true",
    }
    assert {
        (r.fields["next"], r.fields["more"]) for r in records(decode_fixture("changes_page1.xml"))
    } == {("c2VxPTQ0MjE=", "true")}


def test_repeated_parts_are_joined_or_numbered() -> None:
    waiting = next(
        r for r in records(decode_fixture("changes_page1.xml")) if r.fields["code"] == "30"
    )
    assert waiting.line == 13
    assert waiting.fields["part_refs"] == "PP-77120\nPP-45001\nPP-90017"
    assert [waiting.fields[f"part_ref.{n}"] for n in (1, 2, 3)] == [
        "PP-77120",
        "PP-45001",
        "PP-90017",
    ]
    # The third part has no qty: its key is there, with None.
    assert [waiting.fields[f"part_qty.{n}"] for n in (1, 2, 3)] == ["1", "2", None]
    assert "part_ref.4" not in waiting.fields
    # A change without parts has neither numbered key.
    received = records(decode_fixture("changes_page1.xml"))[0]
    assert received.fields["part_refs"] is None
    assert not any(key.startswith("part_ref.") for key in received.fields)


def test_escaped_characters_come_back_as_text_and_whitespace_is_kept() -> None:
    quote = next(
        r for r in records(decode_fixture("changes_page1.xml")) if r.fields["seq"] == "4417"
    )
    assert quote.fields["note"] == "Carte & relais <K2> à changer, \"urgent\" d'après l'atelier"
    codec = XmlCodec(XmlCodecSpec(record="/r/x", fields={"text": ".", "cdata": "c"}))
    (record,) = codec.decode(b"<r><x>  a <c><![CDATA[<b> & ]]></c></x></r>", source="s")
    assert isinstance(record, Record)
    assert record.fields["text"] == "  a <b> & "  # the element's whole text content, unstripped
    assert record.fields["cdata"] == "<b> & "


def test_the_change_repeated_across_a_page_boundary_reads_the_same() -> None:
    last = records(decode_fixture("changes_page1.xml"))[-1]
    first = records(decode_fixture("changes_page2.xml"))[0]
    assert last.fields["seq"] == first.fields["seq"] == "4421"
    same = {k: v for k, v in last.fields.items() if k not in ("next", "more")}
    assert same == {k: v for k, v in first.fields.items() if k not in ("next", "more")}
    assert last.raw == first.raw


def test_the_pages_hold_every_status_code_and_an_unknown_one_passes_the_xsd() -> None:
    codes = set()
    for name in ("changes_sheet_sample.xml", "changes_page1.xml", "changes_page2.xml"):
        results = decode_fixture(name)
        assert all(isinstance(r, Record) for r in results), name
        codes |= {r.fields["code"] for r in records(results)}
    assert codes == KNOWN_CODES | {"35"}
    returned = next(
        r for r in records(decode_fixture("changes_page2.xml")) if r.fields["code"] == "60"
    )
    assert (returned.fields["carrier"], returned.fields["tracking"]) == (
        "ColisExpress",
        "CE998877001FR",
    )


def test_an_empty_page_gives_no_record_but_its_token() -> None:
    assert decode_fixture("changes_page3_empty.xml") == []
    codec = XmlCodec(changes_spec())
    content = (FIXTURES / "changes_page3_empty.xml").read_bytes()
    assert codec.document_fields(content, source="p3") == {"next": "c2VxPTQ0Mjg=", "more": "false"}


def test_one_bad_change_is_rejected_alone_by_the_xsd() -> None:
    results = decode_fixture("changes_bad_records.xml")
    assert [
        (type(r).__name__, r.line if isinstance(r, Record) else r.location.line) for r in results
    ] == [
        ("Record", 3),
        ("XmlRecordSchemaError", 8),
        ("XmlRecordSchemaError", 13),
        ("XmlRecordSchemaError", 18),
        ("XmlRecordSchemaError", 24),
        ("XmlRecordSchemaError", 30),
        ("XmlRecordSchemaError", 36),
        ("Record", 41),
    ]
    errors = [r for r in results if isinstance(r, XmlRecordSchemaError)]
    reasons = [e.reason for e in errors]
    assert "ts:Status" in reasons[0]
    assert "'code' is required" in reasons[0]
    assert "'2026-11-31T10:00:00+01:00'" in reasons[1]
    assert "xs:dateTime" in reasons[1]
    assert "'08/11/2026 10:15'" in reasons[2]
    assert "'EVENING'" in reasons[3]
    assert "'212,00'" in reasons[4]
    assert "ts:Note" in reasons[5]
    assert "Expected is ( ts:Status )" in reasons[5]
    missing_code = errors[0]
    assert missing_code.problems[0].line == 11
    assert missing_code.location.source == "changes_bad_records.xml"
    assert missing_code.raw is not None
    assert 'seq="4432"' in missing_code.raw
    assert missing_code.action is NextAction.REJECT_RECORD


def test_without_an_xsd_bad_changes_go_to_the_mapping_to_judge() -> None:
    results = decode_fixture("changes_bad_records.xml", XmlCodec(changes_spec(with_xsd=False)))
    assert all(isinstance(r, Record) for r in results)
    by_seq = {r.fields["seq"]: r.fields for r in records(results)}
    assert by_seq["4432"]["code"] is None
    assert by_seq["4433"]["at"] == "2026-11-31T10:00:00+01:00"
    assert by_seq["4437"]["code"] is None
    assert by_seq["4437"]["at"] is None


def test_a_page_whose_own_attributes_break_the_xsd_is_rejected_whole() -> None:
    with pytest.raises(XmlSchemaError) as caught:
        decode_fixture("changes_bad_page.xml")
    error = caught.value
    assert isinstance(error, DocumentError)
    assert isinstance(error, PartnerDataError)
    assert error.location.line == 2
    assert "'more'" in error.reason
    assert "'perhaps'" in error.reason


def test_schema_errors_find_their_record_on_a_one_line_page() -> None:
    results = decode_fixture("changes_one_line.xml")
    assert [type(r).__name__ for r in results] == ["Record", "XmlRecordSchemaError", "Record"]
    assert all((r.line if isinstance(r, Record) else r.location.line) == 1 for r in results)
    bad = results[1]
    assert isinstance(bad, XmlRecordSchemaError)
    assert 'seq="4441"' in (bad.raw or "")
    assert "'1O'" in bad.reason


def test_a_page_cut_short_is_malformed_with_its_line_and_column() -> None:
    with pytest.raises(DocumentMalformed) as caught:
        decode_fixture("changes_malformed.xml")
    error = caught.value
    assert (error.line, error.column) == (12, 1)
    assert error.location.line == 12
    assert "line 12, column 1" in error.reason


def test_malformed_reports_the_parser_error_even_after_a_failed_validation() -> None:
    codec = XmlCodec(changes_spec())
    with pytest.raises(XmlSchemaError):
        list(codec.decode((FIXTURES / "changes_bad_page.xml").read_bytes(), source="a"))
    with pytest.raises(DocumentMalformed) as caught:
        list(codec.decode(b"<ts:Changes xmlns:ts='x'>\n<a></b>", source="b"))
    assert "xs:boolean" not in caught.value.reason
    assert caught.value.line == 2


def test_the_partner_answers_read_with_the_same_xsd() -> None:
    created = XmlCodec(
        loaded(
            XmlCodecSpec(
                namespaces=TS,
                record="ts:Created",
                fields={"repair_id": "ts:RepairId"},
                xsd=str(XSD),
            )
        )
    )
    for name in ("created_201.xml", "conflict_409.xml"):
        (answer,) = decode_fixture(name, created)
        assert isinstance(answer, Record)
        assert answer.fields == {"repair_id": "TS-88121"}
    error = XmlCodec(
        loaded(
            XmlCodecSpec(
                namespaces=TS,
                record="ts:Error",
                fields={"field": "@field", "message": "."},
                xsd=str(XSD),
            )
        )
    )
    (unprocessable,) = decode_fixture("error_422.xml", error)
    assert isinstance(unprocessable, Record)
    assert unprocessable.fields == {
        "field": "Customer/@postcode",
        "message": "Postcode is required",
    }
    (unauthorised,) = decode_fixture("error_401.xml", error)
    assert isinstance(unauthorised, Record)
    assert unauthorised.fields == {"field": None, "message": "Invalid API key"}


def test_the_sheet_repair_order_is_valid_against_the_xsd() -> None:
    (order,) = decode_fixture("repair_order_sheet_sample.xml", repair_order_codec())
    assert isinstance(order, Record)
    assert order.line == 1
    assert order.fields == ME_000130


def test_a_record_path_selecting_text_is_a_configuration_error() -> None:
    codec = XmlCodec(changes_spec(record="/ts:Changes/@next"))
    with pytest.raises(ConfigurationError):
        decode_fixture("changes_sheet_sample.xml", codec)


def test_the_codec_is_a_document_codec_built_from_its_spec() -> None:
    codec = codec_from_spec(changes_spec(), None)
    assert isinstance(codec, XmlCodec)
    assert isinstance(codec, DocumentCodec)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fields": {"a": "ts:["}}, "field 'a'"),
        ({"fields": {"a": "zz:Missing"}}, "field 'a'"),
        ({"record": "/ts:Changes/"}, "record"),
        ({"document_fields": {"seq": "@next"}}, "both as fields and document fields: seq"),
        ({"fields": {"a": "ts:A[{n}]/ts:B[{n}]"}}, "more than one"),
        ({"xsd": "/nonexistent/repairs.xsd"}, "XSD"),
    ],
)
def test_a_broken_spec_is_a_configuration_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        XmlCodec(changes_spec(**changes))
    assert message in caught.value.message


def test_the_loader_hands_the_xsd_to_the_codec_as_bytes() -> None:
    mapping = load_mapping(ROOT / "mappings" / "techniservice.yaml")
    spec = mapping.messages["changes"].codec.settings
    assert isinstance(spec, XmlCodecSpec)
    assert spec.xsd == str(XSD)
    assert spec.xsd_document == XSD.read_bytes()
    assert "xsd_document" not in spec.model_dump()
    results = decode_fixture("changes_bad_records.xml", codec_from_spec(spec, None))
    assert any(isinstance(result, XmlRecordSchemaError) for result in results)


def test_a_mapping_cannot_write_the_xsd_content_itself() -> None:
    with pytest.raises(ValueError, match="read from the xsd file"):
        changes_spec(with_xsd=False, xsd_document=b"<xs:schema/>")


def test_the_xsd_loads_nothing_from_outside(tmp_path: Path) -> None:
    """The codec does no I/O: an XSD including another file is refused, not followed."""
    included = tmp_path / "types.xsd"
    included.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        '<xs:element name="r" type="xs:string"/></xs:schema>',
        encoding="utf-8",
    )
    xsd = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:include schemaLocation="{included.as_uri()}"/></xs:schema>'
    ).encode()
    spec = changes_spec(with_xsd=False).model_copy(update={"xsd": "main.xsd", "xsd_document": xsd})
    with pytest.raises(ConfigurationError, match=r"XSD main\.xsd"):
        XmlCodec(spec)


# --------------------------------------------------------------------------- hostile input


@pytest.fixture
def no_lxml_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any use of lxml's parser fail the test: refusals must come before it."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("lxml's parser was called")

    monkeypatch.setattr(etree, "fromstring", forbidden)
    monkeypatch.setattr(etree, "XMLParser", forbidden)
    monkeypatch.setattr(etree, "parse", forbidden)


@pytest.fixture
def listener() -> Iterator[tuple[int, socket.socket]]:
    """A loopback port that records connections in its accept queue (never answered)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    try:
        yield server.getsockname()[1], server
    finally:
        server.close()


def connection_arrived(server: socket.socket) -> bool:
    try:
        accepted, _ = server.accept()
    except BlockingIOError:
        return False
    accepted.close()
    return True


def decode_all(content: bytes, spec: XmlCodecSpec | None = None) -> list[DecodeResult]:
    return list(
        XmlCodec(spec or changes_spec(with_xsd=False)).decode(content, source="hostile.xml")
    )


def test_an_external_entity_on_a_local_file_is_refused_unread(
    tmp_path: Path, no_lxml_parsing: None
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a", encoding="utf-8")
    content = f"""<?xml version="1.0"?>
<!DOCTYPE ts:Changes [<!ENTITY xxe SYSTEM "file://{secret}">]>
<ts:Changes xmlns:ts="{TS_URI}" next="x" more="false">
  <ts:Change seq="1"><ts:RepairId>&xxe;</ts:RepairId></ts:Change>
</ts:Changes>""".encode()
    with pytest.raises(XmlEntityRefused) as caught:
        decode_all(content)
    error = caught.value
    assert isinstance(error, DocumentRefused)
    assert error.location.line == 2
    assert "entities" in error.reason
    assert "XXE" in error.reason
    assert "TOP-SECRET" not in str(error)


def test_the_parser_alone_reads_no_external_entity(tmp_path: Path) -> None:
    """Second lock: even a document the prolog scan missed would read nothing."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a", encoding="utf-8")
    content = f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret}">]><r>&xxe;</r>'.encode()
    root = etree.fromstring(content, secure_parser())
    assert "TOP-SECRET" not in etree.tostring(root, encoding="unicode")
    assert "TOP-SECRET" not in "".join(root.itertext())


@pytest.mark.parametrize(
    ("doctype", "refusal"),
    [
        ('<!DOCTYPE ts:Changes SYSTEM "http://127.0.0.1:{port}/repairs.dtd">', XmlDtdRefused),
        (
            '<!DOCTYPE ts:Changes PUBLIC "-//TS//Repairs//EN" "http://127.0.0.1:{port}/r.dtd">',
            XmlDtdRefused,
        ),
        (
            '<!DOCTYPE ts:Changes [<!ENTITY % remote SYSTEM "http://127.0.0.1:{port}/p.dtd">'
            " %remote;]>",
            XmlEntityRefused,
        ),
    ],
    ids=["system", "public", "parameter-entity"],
)
def test_an_external_dtd_is_refused_without_any_connection(
    listener: tuple[int, socket.socket], doctype: str, refusal: type[DocumentRefused]
) -> None:
    port, server = listener
    content = (
        '<?xml version="1.0"?>\n'
        + doctype.format(port=port)
        + f'\n<ts:Changes xmlns:ts="{TS_URI}" next="x" more="false"/>'
    ).encode()
    with pytest.raises(refusal) as caught:
        decode_all(content)
    assert caught.value.location.line == 2
    if refusal is XmlDtdRefused:
        assert f"127.0.0.1:{port}" in caught.value.reason
    # The locked-down parser on its own does not connect either.
    etree.fromstring(content, secure_parser())
    assert not connection_arrived(server)
    # The listener does record a connection when one is made.
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert connection_arrived(server)


def test_billion_laughs_is_refused_before_parsing(no_lxml_parsing: None) -> None:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    ]
    content = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
        + "\n".join(entities)
        + "\n]>\n<lolz>&lol9;</lolz>"
    ).encode()
    with pytest.raises(XmlEntityRefused):
        decode_all(content)


def test_a_100_mb_document_is_refused_by_size_before_parsing(no_lxml_parsing: None) -> None:
    content = b"<ts:Changes>" + b" " * 100_000_000 + b"</ts:Changes>"
    with pytest.raises(DocumentTooLarge) as caught:
        decode_all(content)
    error = caught.value
    assert (error.size, error.limit) == (len(content), 10_000_000)
    assert "size" in error.reason
    assert "refused unparsed" in error.reason


def test_the_size_limit_is_the_mappings() -> None:
    content = (FIXTURES / "changes_sheet_sample.xml").read_bytes()
    with pytest.raises(DocumentTooLarge):
        decode_all(content, changes_spec(max_bytes=len(content) - 1))
    assert len(decode_all(content, changes_spec(max_bytes=len(content)))) == 2


def test_ten_thousand_nested_elements_are_refused_by_depth() -> None:
    content = b"<a>" * 10_000 + b"</a>" * 10_000
    with pytest.raises(DocumentTooDeep) as caught:
        decode_all(content)
    assert "nested more than" in caught.value.reason


@pytest.mark.parametrize(("depth", "refused"), [(64, False), (65, True), (200, True)])
def test_the_depth_limit_is_the_mappings(depth: int, refused: bool) -> None:
    content = b"<a>" * depth + b"</a>" * depth
    spec = XmlCodecSpec(record="/a", fields={})
    if refused:
        with pytest.raises(DocumentTooDeep) as caught:
            decode_all(content, spec)
        assert caught.value.limit == 64
    else:
        assert len(decode_all(content, spec)) == 1


def test_any_doctype_is_refused(no_lxml_parsing: None) -> None:
    content = b'<?xml version="1.0"?>\n<!-- a page -->\n<!DOCTYPE ts:Changes>\n<ts:Changes/>'
    with pytest.raises(XmlDtdRefused) as caught:
        decode_all(content)
    assert caught.value.external_id is None
    assert caught.value.location.line == 3


def test_entity_declarations_in_utf16_are_refused_too(no_lxml_parsing: None) -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'
    with pytest.raises(XmlEntityRefused):
        decode_all(text.encode("utf-16"))


def test_the_word_doctype_in_a_comment_or_text_is_not_a_doctype() -> None:
    content = (
        f'<!-- no <!DOCTYPE here --><ts:Changes xmlns:ts="{TS_URI}" next="n" more="false">'
        "<ts:Change seq='1'><ts:Note>&lt;!DOCTYPE x&gt;</ts:Note></ts:Change></ts:Changes>"
    ).encode()
    (record,) = decode_all(content)
    assert isinstance(record, Record)
    assert record.fields["note"] == "<!DOCTYPE x>"


def test_refusals_are_raised_not_yielded() -> None:
    results = XmlCodec(changes_spec()).decode(b"<a>" * 10_000, source="deep.xml")
    with pytest.raises(PartnerDataError) as caught:
        next(results)
    assert isinstance(caught.value, DocumentTooDeep)
    assert caught.value.action is NextAction.REJECT_RECORD  # the engine rejects the message


def test_parse_xml_serves_any_partner_body() -> None:
    tree = parse_xml((FIXTURES / "error_422.xml").read_bytes(), source="422")
    assert tree.getroot().get("field") == "Customer/@postcode"
    with pytest.raises(DocumentTooLarge):
        parse_xml(b"<a/>", source="x", max_bytes=3)


# --------------------------------------------------------------------------- writing


REPAIR_ORDER_ME_000130 = b"""<?xml version="1.0" encoding="UTF-8"?>
<ts:RepairOrder xmlns:ts="urn:techniservice:repairs:v2">
  <ts:OrderRef>ME-000130</ts:OrderRef>
  <ts:Service>HOME</ts:Service>
  <ts:Product brand="Bosch" model="WAN28209FF" serial="FD9801-22314" purchaseDate="2025-06-14"/>
  <ts:Warranty>LEGAL</ts:Warranty>
  <ts:Fault>Ne vidange plus</ts:Fault>
  <ts:Customer name="Julie Martin" phone="+33612345678" postcode="69003"/>
</ts:RepairOrder>
"""


def test_a_repair_order_is_written_like_the_sheet_and_passes_the_xsd() -> None:
    codec = repair_order_codec()
    content = codec.encode([ME_000130])
    assert content == REPAIR_ORDER_ME_000130
    # The same document as the sheet's sample, comments and layout aside.
    sample = (FIXTURES / "repair_order_sheet_sample.xml").read_bytes()
    assert canonical(content) == canonical(sample)
    (back,) = codec.decode(content, source="out.xml")
    assert isinstance(back, Record)
    assert back.fields == ME_000130


def canonical(content: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True)
    return etree.tostring(etree.fromstring(content, parser), method="c14n")


def test_a_missing_required_attribute_raises_a_render_error() -> None:
    with pytest.raises(XmlRenderError) as caught:
        repair_order_codec().encode([{**ME_000130, "model": None}])
    error = caught.value
    assert isinstance(error, ModelError)
    assert isinstance(error, EncodeError)
    assert "ts:RepairOrder" in error.message
    assert "'model' is required but missing" in error.message
    assert error.problems[0].line == 5


def test_a_value_outside_the_xsd_enumeration_raises_a_render_error() -> None:
    with pytest.raises(XmlRenderError) as caught:
        repair_order_codec().encode([{**ME_000130, "service": "PICKUP"}])
    assert "'PICKUP'" in caught.value.message


def test_none_writes_nothing_and_an_empty_string_writes_an_empty_value() -> None:
    content = repair_order_codec().encode(
        [{**ME_000130, "serial": None, "customer_phone": None, "fault": ""}]
    )
    root = etree.fromstring(content)
    product = root.find(f"{{{TS_URI}}}Product")
    assert product is not None
    assert "serial" not in product.attrib
    assert b"phone=" not in content
    assert b"<ts:Fault></ts:Fault>" in content
    (back,) = repair_order_codec().decode(content, source="out.xml")
    assert isinstance(back, Record)
    assert back.fields["serial"] is None
    assert back.fields["fault"] == ""


def test_characters_are_escaped_when_written() -> None:
    fault = 'Porte < 5 cm & joint "HS" d\'origine'
    content = repair_order_codec().encode([{**ME_000130, "fault": fault, "brand": "A&B <x>"}])
    assert b"Porte &lt; 5 cm &amp; joint" in content
    (back,) = repair_order_codec().decode(content, source="out.xml")
    assert isinstance(back, Record)
    assert (back.fields["fault"], back.fields["brand"]) == (fault, "A&B <x>")


@pytest.mark.parametrize(
    ("records_", "message"),
    [
        ([], "got 0"),
        ([ME_000130, ME_000130], "got 2"),
        ([{**ME_000130, "colour": "red"}], "'colour'"),
        ([{**ME_000130, "fault": "bad \x00 byte"}], "field 'fault'"),
        ([{**ME_000130, "fault": 12}], "expected text or None, got int"),
    ],
)
def test_what_cannot_be_one_document_is_an_encode_error(
    records_: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(EncodeError) as caught:
        repair_order_codec(xsd=False).encode(records_)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("record", "field_path"),
    [("/ts:Changes/ts:Change", "ts:RepairId"), ("ts:RepairOrder", "ts:Part[last()]/@ref")],
)
def test_paths_that_cannot_be_written_are_a_configuration_error(
    record: str, field_path: str
) -> None:
    codec = XmlCodec(XmlCodecSpec(namespaces=TS, record=record, fields={"a": field_path}))
    with pytest.raises(ConfigurationError):
        codec.encode([{"a": "x"}])


def test_the_sheet_purchase_order_is_written_byte_for_byte() -> None:
    codec = purchase_order_codec()
    assert codec.encode([PO_2026_00017]) == PURCHASE_ORDER_SAMPLE
    (back,) = codec.decode(PURCHASE_ORDER_SAMPLE, source="PO_PO-2026-00017.xml")
    assert isinstance(back, Record)
    assert back.fields == PO_2026_00017


def test_a_purchase_order_with_two_lines() -> None:
    codec = purchase_order_codec()
    # Keys in any order: positions come from the numbers, attributes from the field order.
    record = {
        **{k: v for k, v in PO_2026_00017.items() if not k.startswith("line_")},
        "line_sku.2": "PP-45001",
        "line_qty.2": "2",
        "line_no.2": "2",
        "line_no.1": "1",
        "line_sku.1": "PP-77120",
        "line_qty.1": "1",
    }
    content = codec.encode([record])
    assert content.endswith(
        b"  <CaseRef>ME-000123</CaseRef>\n"
        b'  <Line no="1" sku="PP-77120" qty="1"/>\n'
        b'  <Line no="2" sku="PP-45001" qty="2"/>\n'
        b"</PurchaseOrder>\n"
    )
    (back,) = codec.decode(content, source="PO.xml")
    assert isinstance(back, Record)
    assert back.fields == record


def test_a_line_written_without_the_one_before_keeps_its_position() -> None:
    codec = purchase_order_codec()
    base = {k: v for k, v in PO_2026_00017.items() if not k.startswith("line_")}
    content = codec.encode([{**base, "line_sku.2": "PP-45001"}])
    assert b'<Line/>\n  <Line sku="PP-45001"/>' in content


def test_the_default_namespace_is_optional() -> None:
    codec = XmlCodec(
        XmlCodecSpec(
            namespaces={"pp": PP_URI},
            record="pp:PurchaseOrder",
            fields=PURCHASE_ORDER_FIELDS,
        )
    )
    content = codec.encode([PO_2026_00017])
    assert content.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<pp:PurchaseOrder xmlns:pp='
    )
    assert canonical(content) != canonical(PURCHASE_ORDER_SAMPLE)  # prefixes differ...
    (back,) = purchase_order_codec().decode(content, source="PO.xml")  # ...not the document
    assert isinstance(back, Record)
    assert back.fields == PO_2026_00017


# --------------------------------------------------------------------------- properties

XML_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc", "Cn"))
    | st.sampled_from("\t\n\r&<>\"' ]]>"),
    max_size=40,
)
PROPERTY_FIELDS = {
    "element": "ts:A",
    "nested": "ts:B/ts:C",
    "attribute": "ts:B/@x",
    "root_attribute": "@id",
    "namespaced": "ts:D/@ts:y",
    "part_ref": "ts:Part[{n}]/@ref",
    "part_text": "ts:Part[{n}]",
}


@settings(max_examples=150, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {name: st.none() | XML_TEXT for name in PROPERTY_FIELDS if "part" not in name}
    ),
    parts=st.lists(st.tuples(XML_TEXT, st.none() | XML_TEXT), max_size=4),
)
def test_encode_then_decode_gives_the_values_back(
    values: dict[str, str | None], parts: list[tuple[str, str | None]]
) -> None:
    codec = XmlCodec(XmlCodecSpec(namespaces=TS, record="ts:Doc", fields=PROPERTY_FIELDS))
    record: dict[str, str | None] = dict(values)
    for n, (ref, text) in enumerate(parts, start=1):
        record[f"part_ref.{n}"] = ref
        record[f"part_text.{n}"] = text
    (back,) = codec.decode(codec.encode([record]), source="round-trip")
    assert isinstance(back, Record)
    for name, value in values.items():
        assert back.fields[name] == value
    for n, (ref, text) in enumerate(parts, start=1):
        assert back.fields[f"part_ref.{n}"] == ref
        assert back.fields[f"part_text.{n}"] == (text or "")  # the element exists, maybe empty
    assert f"part_ref.{len(parts) + 1}" not in back.fields


# --------------------------------------------------------------------------- with the engine


def test_the_codec_feeds_the_mapping_engine_and_a_bad_change_is_rejected_alone() -> None:
    mapping = MappingSpec.model_validate(
        {
            "version": 1,
            "partner": "techniservice",
            "timezone": "Europe/Paris",
            "messages": {
                "changes": {
                    "direction": "inbound",
                    "codec": {"type": "xml", **changes_spec().model_dump()},
                    "event_type": "case_status",
                    "fields": {
                        "partner_event_id": {"column": "seq"},
                        "partner_ref": {"column": "repair_id", "required": True},
                        "case_ref": {"column": "order_ref"},
                        "raw_code": {"column": "code", "required": True},
                        "occurred_at": {"column": "at", "format": "iso8601", "required": True},
                        "quote_amount": {"column": "quote_amount"},
                        "quote_currency": {"column": "quote_currency"},
                        "visit_date": {"column": "visit_date", "format": "iso-date"},
                        "visit_slot": {"column": "visit_slot"},
                        "note": {"column": "note"},
                    },
                    "codes": {
                        "10": "received",
                        "12": "visit_scheduled",
                        "20": "diagnosing",
                        "25": "quote_pending",
                        "40": "in_repair",
                    },
                }
            },
        }
    )
    pipeline = InboundPipeline(XmlCodec(changes_spec()), InboundMapping(mapping, "changes"))
    now = datetime(2026, 11, 9, tzinfo=UTC)

    def parse(name: str) -> list[Event | PartnerDataError]:
        content = (FIXTURES / name).read_bytes()
        return list(pipeline.parse(content, source=name, recorded_at=now))

    sample = parse("changes_sheet_sample.xml")
    quote, visit = sample
    assert isinstance(quote, Event)
    assert isinstance(visit, Event)
    assert (quote.case_ref, quote.status, quote.raw_code) == ("BM-000045", "quote_pending", "25")
    assert quote.details.quote is not None
    assert str(quote.details.quote.amount_incl_tax.amount) == "212.00"
    assert visit.details.visit is not None
    assert visit.details.visit.slot == "am"
    bad = parse("changes_bad_records.xml")
    assert [type(item).__name__ for item in bad] == ["Event"] + ["XmlRecordSchemaError"] * 6 + [
        "Event"
    ]
    (whole,) = parse("changes_malformed.xml")
    assert isinstance(whole, MessageRejected)
    assert whole.location.line == 12


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in FIXTURES.glob("changes_*.xml") if "malformed" not in p.name),
)
def test_direct_paths_read_what_xpath_reads(name: str) -> None:
    """The usual path shapes skip XPath for speed; the answers must not change."""
    through_xpath = {
        field: path.replace("ts:", "self::*/ts:", 1) if not path.startswith("@") else path
        for field, path in CHANGE_FIELDS.items()
    } | {"seq": "self::*/@seq"}
    fast = decode_fixture(name, XmlCodec(changes_spec(with_xsd=False)))
    slow = decode_fixture(name, XmlCodec(changes_spec(with_xsd=False, fields=through_xpath)))
    assert [r.fields for r in records(fast)] == [r.fields for r in records(slow)]
    assert len(records(fast)) == len(fast)
