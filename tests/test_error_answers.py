"""A partner's error answer, and a record path that reaches nothing, are rejects, never
"0 events, 0 rejects" (issue 15, point 3).

The mapping's ``error_answer`` names document fields, so it works for any codec that has
them: JSON, XML (a SOAP Fault), fixed-width headers. The XML codec refuses a document its
record path reaches nothing in, as the JSON codec does, and both accept an answer that
holds nothing yet (an empty list, an empty element).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.codecs.json.codec import JsonCodec, JsonCodecSpec, JsonShapeError
from adapters.codecs.xml.codec import XmlCodec, XmlCodecSpec, XmlShapeError
from adapters.codecs.xml.paths import ancestor_paths
from hub.errors import ConfigurationError, PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.model.event import Event
from hub.partners.ingest.pipeline import ErrorAnswer, InboundPipeline, MessageRejected

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)

JSON_MAPPING = """version: 1
partner: some-carrier
messages:
  track:
    direction: inbound
    codec:
      type: json
      record: "$.parcels[*].events[*]"
      fields: {number: ^.number, code: $.code, at: $.at}
      document_fields: {status: $.status, error_code: $.error.code, error_text: $.error.message}
    error_answer: ERROR_ANSWER
    event_type: shipment_status
    fields:
      tracking_number: {column: number, required: true}
      raw_code: {column: code, required: true}
      occurred_at: {column: at, format: iso8601, required: true}
    codes: {PU: picked_up, DL: delivered}
"""

ANSWER = {
    "status": "OK",
    "parcels": [
        {"number": "PX0001", "events": [{"code": "PU", "at": "2026-11-03T09:00:00Z"}]},
        {"number": "PX0002", "events": [{"code": "DL", "at": "2026-11-04T10:00:00Z"}]},
    ],
}


def _pipeline(tmp_path: Path, text: str) -> InboundPipeline:
    path = tmp_path / "some-carrier.yaml"
    path.write_text(text, encoding="utf-8")
    mapping = load_mapping(path)
    return InboundPipeline(build_codec(mapping.inbound("track")), InboundMapping(mapping, "track"))


def _parse(pipeline: InboundPipeline, document: object) -> list[Event | PartnerDataError]:
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    return list(pipeline.parse(content, source="answer.json", recorded_at=NOW))


def test_a_json_error_object_is_rejected_whole_quoting_the_partner(tmp_path: Path) -> None:
    pipeline = _pipeline(
        tmp_path,
        JSON_MAPPING.replace(
            "ERROR_ANSWER", "{when: error_code, code: error_code, message: error_text}"
        ),
    )
    error = {"error": {"code": "E404", "message": "No shipment\n   found for P9"}}
    [rejected] = _parse(pipeline, error)
    assert isinstance(rejected, ErrorAnswer)
    assert isinstance(rejected, MessageRejected), "counted, shown and failing like any"
    assert rejected.reason == (
        "the whole message is rejected: the partner answered an error, not a track "
        "message: E404: No shipment found for P9"
    )
    assert (rejected.location.source, rejected.location.field) == ("answer.json", "error_code")
    assert rejected.raw is not None
    assert '"E404"' in rejected.raw
    # The same mapping reads an ordinary answer as before: no error field, no error.
    events = _parse(pipeline, ANSWER)
    assert [e.raw_code for e in events if isinstance(e, Event)] == ["PU", "DL"]


@pytest.mark.parametrize(
    ("status", "is_error"),
    [("OK", False), ("NOT_FOUND", True), ("E042", True), ("PARTIAL", False)],
)
def test_only_the_listed_values_mean_an_error(tmp_path: Path, status: str, is_error: bool) -> None:
    """A status field present on every answer (OK or not): `values` says which are errors,
    with the code tables' * and ? patterns; without a message the value itself is quoted."""
    pipeline = _pipeline(
        tmp_path, JSON_MAPPING.replace("ERROR_ANSWER", "{when: status, values: [NOT_FOUND, 'E*']}")
    )
    items = _parse(pipeline, {**ANSWER, "status": status})
    if is_error:
        [rejected] = items
        assert isinstance(rejected, ErrorAnswer)
        assert rejected.reason.endswith(f"not a track message: {status}")
    else:
        assert all(isinstance(item, Event) for item in items)
        assert len(items) == 2


def test_a_message_template_and_a_long_message(tmp_path: Path) -> None:
    """A template of document fields; an empty one leaves nothing; the partner's words are
    cut at 300 characters in the reason (the whole answer stays archived)."""
    pipeline = _pipeline(
        tmp_path,
        JSON_MAPPING.replace(
            "ERROR_ANSWER", "{when: error_code, message: '{error_text} (status {status})'}"
        ),
    )
    [short] = _parse(pipeline, {"status": "KO", "error": {"code": "E1", "message": "Quota"}})
    assert isinstance(short, ErrorAnswer)
    assert short.reason.endswith("not a track message: Quota (status KO)")
    [long] = _parse(pipeline, {"error": {"code": "E2", "message": "x" * 1000}})
    assert isinstance(long, ErrorAnswer)
    said = long.reason.split("not a track message: ", 1)[1]
    assert len(said) == 300
    assert said.endswith("x…")


def test_the_mapping_names_a_codec_and_fields_that_can_tell_an_error(tmp_path: Path) -> None:
    """Refused at load, with the mapping file's line: a field the codec does not declare
    among its document fields, and a codec that has no document fields at all."""
    path = tmp_path / "some-carrier.yaml"
    path.write_text(
        JSON_MAPPING.replace("ERROR_ANSWER", "{when: fault, message: '{fault_text}'}"), "utf-8"
    )
    with pytest.raises(ConfigurationError) as unknown:
        load_mapping(path)
    assert f"{path}:11: messages.track.error_answer: fault, fault_text not among" in str(
        unknown.value
    )
    assert "(status, error_code, error_text)" in str(unknown.value)

    csv = """version: 1
partner: some-carrier
messages:
  track:
    direction: inbound
    codec: {type: csv, encoding: utf-8}
    header: [number, code, at]
    error_answer: {when: code}
    event_type: shipment_status
    fields:
      tracking_number: {column: number}
      raw_code: {column: code}
      occurred_at: {column: at, format: iso8601}
    codes: {PU: picked_up}
"""
    path.write_text(csv, encoding="utf-8")
    with pytest.raises(ConfigurationError) as no_document:
        load_mapping(path)
    assert f"{path}:8: messages.track.error_answer: the csv codec gives no document fields" in (
        str(no_document.value)
    )


SOAP = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>BODY</soap:Body>
</soap:Envelope>
"""

XML_MAPPING = """version: 1
partner: some-carrier
messages:
  track:
    direction: inbound
    codec:
      type: xml
      namespaces: {soap: "http://schemas.xmlsoap.org/soap/envelope/", t: "urn:t"}
      record: /soap:Envelope/soap:Body/t:Answer/t:Parcel/t:Event
      fields: {number: ../@number, code: "@code", at: "@at"}
      document_fields:
        fault: //soap:Fault/faultcode
        fault_text: //soap:Fault/faultstring
    error_answer: {when: fault, code: fault, message: fault_text}
    event_type: shipment_status
    fields:
      tracking_number: {column: number, required: true}
      raw_code: {column: code, required: true}
      occurred_at: {column: at, format: iso8601, required: true}
    codes: {PU: picked_up}
"""


def test_a_soap_fault_is_rejected_whole_with_its_code_and_string(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, XML_MAPPING)
    fault = SOAP.replace(
        "BODY",
        "<soap:Fault><faultcode>soap:Server</faultcode>"
        "<faultstring>Tracking backend unavailable</faultstring></soap:Fault>",
    )
    [rejected] = _parse(pipeline, fault.encode())
    assert isinstance(rejected, ErrorAnswer)
    assert rejected.reason.endswith(
        "not a track message: soap:Server: Tracking backend unavailable"
    )


def test_a_fixed_width_header_can_say_the_file_is_an_error(tmp_path: Path) -> None:
    """The error answer is read from any codec's document fields: here a fixed-width
    header's result field (`header.result`), ERR when the partner had nothing to export."""
    mapping = """version: 1
partner: some-carrier
messages:
  track:
    direction: inbound
    codec:
      type: fixed_width
      encoding: ascii
      records:
        header:
          prefix: "00"
          role: header
          fields: {result: {start: 3, length: 3}, text: {start: 6, end: 40}}
        event:
          prefix: "10"
          fields:
            number: {start: 3, length: 8}
            code: {start: 11, length: 2}
            at: {start: 13, length: 20}
    error_answer: {when: header.result, values: [ERR], message: header.text}
    event_type: shipment_status
    fields:
      tracking_number: {column: number, required: true}
      raw_code: {column: code, required: true}
      occurred_at: {column: at, format: iso8601, required: true}
    codes: {PU: picked_up}
"""
    pipeline = _pipeline(tmp_path, mapping)
    error = b"00ERRExport failed: database offline\n"
    [rejected] = _parse(pipeline, error)
    assert isinstance(rejected, ErrorAnswer)
    assert rejected.reason.endswith("not a track message: Export failed: database offline")
    fine = b"00OK \n10P0000001PU2026-11-03T09:00:00Z\n"
    [event] = _parse(pipeline, fine)
    assert isinstance(event, Event)
    assert event.raw_code == "PU"


def _xml_codec(record: str) -> XmlCodec:
    return XmlCodec(
        XmlCodecSpec(
            namespaces={"soap": "http://schemas.xmlsoap.org/soap/envelope/", "t": "urn:t"},
            record=record,
            fields={"code": "@code"},
        )
    )


RECORD = "/soap:Envelope/soap:Body/t:Answer/t:Parcel/t:Event"


@pytest.mark.parametrize(
    "body",
    [
        '<t:Answer xmlns:t="urn:t"><t:Parcel number="P1"/></t:Answer>',  # no event yet
        '<t:Answer xmlns:t="urn:t"/>',  # no parcel at all
        '<t:Answer xmlns:t="urn:t">  </t:Answer>',
    ],
    ids=["parcel-without-events", "answer-without-parcels", "blank-answer"],
)
def test_an_xml_answer_with_nothing_yet_gives_nothing(body: str) -> None:
    codec = _xml_codec(RECORD)
    assert list(codec.decode(SOAP.replace("BODY", body).encode(), source="a.xml")) == []


def test_an_xml_record_path_reaching_nothing_refuses_the_document() -> None:
    """Nothing on the path in a document with content: a renamed element, a Fault no
    error_answer describes. The refusal says what the document holds."""
    codec = _xml_codec(RECORD)
    renamed = SOAP.replace(
        "BODY", '<t:Result xmlns:t="urn:t"><t:Parcel/><t:Notice>v3</t:Notice></t:Result>'
    )
    with pytest.raises(XmlShapeError) as refused:
        list(codec.decode(renamed.encode(), source="a.xml"))
    assert str(refused.value.reason) == (
        f"record path {RECORD} reaches nothing in this document (it holds: soap:Envelope > "
        "soap:Body > t:Result (t:Parcel, t:Notice)): the partner's format changed, or this "
        "is not the message the mapping reads"
    )
    assert refused.value.location.line == 2
    # A parcel with content but no Event is only a parcel without events: its parent is there.
    parcel = SOAP.replace(
        "BODY", '<t:Answer xmlns:t="urn:t"><t:Parcel><t:Ref>ME-1</t:Ref></t:Parcel></t:Answer>'
    )
    assert list(codec.decode(parcel.encode(), source="a.xml")) == []
    # An answer with something in it but no parcel is not "nothing yet".
    other = SOAP.replace("BODY", '<t:Answer xmlns:t="urn:t"><t:Warning>x</t:Warning></t:Answer>')
    with pytest.raises(XmlShapeError):
        list(codec.decode(other.encode(), source="a.xml"))


def test_paths_whose_parent_cannot_be_told_are_not_judged() -> None:
    """`//t:Event` may be anywhere; an empty root holds nothing: neither is refused."""
    anywhere = _xml_codec("//t:Event")
    assert list(anywhere.decode(SOAP.replace("BODY", "<x/>").encode(), source="a.xml")) == []
    rooted = _xml_codec("/t:Events/t:Event")
    assert list(rooted.decode(b"<other/>", source="a.xml")) == []
    with pytest.raises(XmlShapeError, match="it holds: other > x"):
        list(rooted.decode(b"<other><x/></other>", source="a.xml"))


@pytest.mark.parametrize(
    ("path", "ancestors"),
    [
        ("/a/b/c", ["/a/b", "/a"]),
        ("//b/c", ["//b"]),
        ("/a//c", ["/a"]),
        ('/a/b[c/d="x/y"]/e', ['/a/b[c/d="x/y"]', "/a"]),
        ("/a", []),
        ("//c", None),
        ("(/a|/b)/c", None),
        ("/a/c | /b/c", None),
    ],
)
def test_ancestor_paths(path: str, ancestors: list[str] | None) -> None:
    assert ancestor_paths(path) == ancestors


def test_a_json_answer_without_parcels_gives_nothing_and_a_renamed_list_is_refused() -> None:
    """A nested record path: an empty outer list is an answer with nothing yet; a level
    that is missing is a format change."""
    codec = JsonCodec(JsonCodecSpec(record="$.parcels[*].events[*]", fields={"code": "$.code"}))
    nothing_yet: list[object] = [{"parcels": []}, {"parcels": [{"events": []}, {"number": "P2"}]}]
    for document in nothing_yet:
        assert list(codec.decode(json.dumps(document).encode(), source="a.json")) == []
    changed: list[object] = [{"shipments": []}, {"parcels": [{"checkpoints": [{"code": "PU"}]}]}]
    for document in changed:
        with pytest.raises(JsonShapeError, match="reaches nothing in this document"):
            list(codec.decode(json.dumps(document).encode(), source="a.json"))
