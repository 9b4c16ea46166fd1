"""The EDIFACT codec on generic IFTSTA-like interchanges, and the CONTRL it answers with."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pydifact.parser import Parser

from adapters.codecs.edifact.codec import EdifactCodec, EdifactSyntaxError
from adapters.codecs.edifact.contrl import contrl
from adapters.codecs.edifact.paths import parse_path
from adapters.codecs.edifact.spec import EdifactCodecSpec
from adapters.codecs.errors import DocumentRefused, DocumentTooLarge
from hub.errors import ConfigurationError
from hub.ports import DocumentCodec, Record

pytestmark = pytest.mark.filterwarnings(
    "ignore::pydifact.exceptions.MissingImplementationWarning"  # pydifact reading CONTRL back
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "edifact"
FIELDS = {
    "tracking_number": "CNI/2",
    "status": "STS+1/2/1",
    "reference": "RFF[CU]/1/2",
    "at": "DTM[qualifier=334]/1/2",
    "depot": "LOC[175]/2/1",
    "city": "LOC[175]/2/4",
    "remark": "FTX[AAA]/4",
    "signed_by": "NAD[CN]/4",
    "message": "UNH/1",
    "document": "../BGM/2",
}
DOCUMENT = {"sender": "UNB/2/1", "interchange": "UNB/5"}


def codec(**settings: object) -> EdifactCodec:
    spec = {"record": "CNI", "fields": FIELDS, "document_fields": DOCUMENT, **settings}
    return EdifactCodec(EdifactCodecSpec.model_validate(spec))


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def records(name: str, **settings: object) -> list[Record]:
    found = list(codec(**settings).decode(read(name), source=name))
    assert all(isinstance(record, Record) for record in found)
    return [record for record in found if isinstance(record, Record)]


def test_one_record_per_group_in_every_message() -> None:
    found = records("IFTSTA_two_messages.edi", encoding="UNOC")
    assert [r.fields["tracking_number"] for r in found] == [
        "AF7700112233",
        "AF7700112244",
        "AF7700112255",
        "AF7700112266",
    ]
    first, second, third, fourth = found
    assert first.fields == {
        "tracking_number": "AF7700112233",
        "status": "21",
        "reference": "ME-000123",
        "at": "202611040800",
        "depot": "LYS",
        "city": "LYON",
        "remark": None,
        "signed_by": None,
        "message": "1",
        "document": "CR20261104-0501",
        "sender": "CARRIER1",
        "interchange": "00000501",
    }
    assert first.line == 5  # CNI is the interchange's 5th segment (UNB = 1)
    assert first.raw.startswith("CNI+1+AF7700112233'STS+1+21'")
    assert second.fields["remark"] == "DESTINATAIRE ABSENT: AVIS DEPOSE\nRAPPEL DEMAIN"
    assert third.fields["signed_by"] == "M. RENÉ FAURE"
    assert third.fields["message"] == "2"
    assert third.fields["reference"] is None  # booked without one: a mapping rule decides
    assert fourth.fields["at"] is None


def test_una_with_other_separators_and_the_release_character() -> None:
    (record,) = records("IFTSTA_custom_separators.edi")
    assert record.fields["status"] == "99"
    assert record.fields["remark"] == "COLIS 2*3 OUVERT! VOIR|PHOTO 50#"
    assert record.fields["message"] == "7"


def test_document_fields_are_read_once_per_interchange() -> None:
    edifact = codec()
    assert isinstance(edifact, DocumentCodec)
    values = edifact.document_fields(read("IFTSTA_two_messages.edi"), source="x")
    assert values == {"sender": "CARRIER1", "interchange": "00000501"}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("IFTSTA_bad_unt.edi", "message 2: UNT counts 12 segments, the message has 11"),
        ("IFTSTA_bad_unz.edi", "UNZ counts 3 messages, the interchange has 2"),
    ],
)
def test_a_wrong_count_refuses_the_whole_interchange(name: str, reason: str) -> None:
    with pytest.raises(EdifactSyntaxError) as refused:
        next(codec().decode(read(name), source=name))
    assert reason in refused.value.reason
    assert refused.value.location.source == name


def test_a_missing_unz_refuses_the_interchange() -> None:
    cut = read("IFTSTA_two_messages.edi").split(b"UNZ+")[0]
    with pytest.raises(EdifactSyntaxError, match="UNZ missing"):
        next(codec().decode(cut, source="cut.edi"))


def test_another_syntax_than_the_mapping_expects_is_refused() -> None:
    with pytest.raises(DocumentRefused, match="expects UNOA"):
        next(codec(encoding="UNOA").decode(read("IFTSTA_two_messages.edi"), source="x"))


def test_too_large_is_refused_unparsed() -> None:
    with pytest.raises(DocumentTooLarge):
        next(codec(max_bytes=10).decode(read("IFTSTA_two_messages.edi"), source="x"))


@pytest.mark.parametrize("text", ["CNI", "cni/1", "DTM[334]/0", "UNB[X]/", "../UNH/1"])
def test_a_bad_path_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match="path"):
        codec(fields={"x": text})


def test_path_forms_are_equivalent() -> None:
    forms = [parse_path(text) for text in ("DTM+334/1/2", "DTM[334]/1/2", "DTM[qualifier=334]/1/2")]
    assert {(p.tag, p.qualifier, p.element, p.component) for p in forms} == {("DTM", "334", 1, 2)}


AT = datetime(2026, 11, 4, 10, 20)


def parsed(content: bytes) -> list[tuple[str, list[object]]]:
    return [(s.tag, s.elements) for s in Parser().parse(content.decode("latin-1"))]


def test_contrl_accepts_a_sound_interchange() -> None:
    answer = contrl(read("IFTSTA_two_messages.edi"), control_reference="C0001", prepared_at=AT)
    assert parsed(answer)[1:] == [
        (
            "UNB",
            [["UNOC", "3"], ["HUBSAV", "ZZZ"], ["CARRIER1", "ZZZ"], ["261104", "1020"], "C0001"],
        ),
        ("UNH", ["1", ["CONTRL", "D", "3", "UN"]]),
        ("UCI", ["00000501", ["CARRIER1", "ZZZ"], ["HUBSAV", "ZZZ"], "7"]),
        ("UNT", ["3", "1"]),
        ("UNZ", ["1", "C0001"]),
    ]


def test_contrl_rejects_with_the_faulty_message_and_segment() -> None:
    answer = contrl(read("IFTSTA_bad_unt.edi"), control_reference="C0002", prepared_at=AT)
    segments = parsed(answer)
    assert segments[3] == ("UCI", ["00000501", ["CARRIER1", "ZZZ"], ["HUBSAV", "ZZZ"], "4"])
    assert segments[4:7] == [
        ("UCM", ["2", ["IFTSTA", "D", "01B", "UN"], "4", "29"]),
        ("UCS", ["11"]),
        ("UCD", ["29", "1"]),
    ]
    assert segments[7] == ("UNT", ["6", "1"])


def test_contrl_rejects_a_wrong_interchange_count_in_uci() -> None:
    answer = contrl(read("IFTSTA_bad_unz.edi"), control_reference="C0003", prepared_at=AT)
    assert parsed(answer)[3] == (
        "UCI",
        ["00000501", ["CARRIER1", "ZZZ"], ["HUBSAV", "ZZZ"], "4", "29"],
    )
