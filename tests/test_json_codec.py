"""The JSON codec on ColisExpress's documents: pulled histories, pushes and pickups."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.codecs.errors import (
    DocumentError,
    DocumentMalformed,
    DocumentTooDeep,
    DocumentTooLarge,
    EncodeError,
)
from adapters.codecs.json.codec import (
    JsonCodec,
    JsonRecordError,
    JsonShapeError,
    codec_from_spec,
)
from adapters.codecs.json.paths import parse_path
from adapters.codecs.json.spec import JsonCodecSpec
from adapters.codecs.json.values import MAX_DEPTH
from hub.errors import ConfigurationError, ModelError, NextAction, PartnerDataError
from hub.ports import DecodeResult, DocumentCodec, Record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "colis-express"

EVENT_FIELDS = {
    "id": "$.id",
    "code": "$.code",
    "label": "$.label",
    "at": "$.at",
    "postcode": "$.location.postcode",
    "city": "$.location.city",
    "relay_id": "$.location.relay_id",
    "signed_by": "$.signed_by",
}
PARCEL = {"tracking_number": "$.tracking_number", "reference": "$.reference"}
PICKUP_FIELDS = {
    "reference": "$.reference",
    "service": "$.service",
    "from_name": "$.from.name",
    "from_line1": "$.from.line1",
    "from_postcode": "$.from.postcode",
    "from_city": "$.from.city",
    "from_country": "$.from.country",
    "from_phone": "$.from.phone",
    "to_name": "$.to.name",
    "to_line1": "$.to.line1",
    "to_postcode": "$.to.postcode",
    "to_city": "$.to.city",
    "to_country": "$.to.country",
    "to_phone": "$.to.phone",
    "weight_kg": "$.parcel.weight_kg:number",
}
ME_000123_PICKUP: dict[str, str | None] = {
    "reference": "ME-000123",
    "service": "HOME",
    "from_name": "Julie Martin",
    "from_line1": "4 rue des Lilas",
    "from_postcode": "69003",
    "from_city": "Lyon",
    "from_country": "FR",
    "from_phone": "+33612345678",
    "to_name": "Atelier Dupont Réparation",
    "to_line1": "ZA des Prés",
    "to_postcode": "38300",
    "to_city": "Bourgoin-Jallieu",
    "to_country": "FR",
    "to_phone": None,
    "weight_kg": "3.2",
}
ALL_CODES = {"ENR", "PCH", "TRI", "LIV_PREP", "AVI", "DIS", "LIV", "RET", "ANO"}


def pull_codec(**changes: Any) -> JsonCodec:
    values: dict[str, Any] = {
        "record": "$.events[*]",
        "fields": EVENT_FIELDS,
        "document_fields": PARCEL,
    }
    values.update(changes)
    return JsonCodec(JsonCodecSpec(**values))


def push_codec() -> JsonCodec:
    return JsonCodec(JsonCodecSpec(record="$", fields={**EVENT_FIELDS, **PARCEL}))


def pickup_codec() -> JsonCodec:
    return JsonCodec(JsonCodecSpec(record="$", fields=PICKUP_FIELDS))


def decode(codec: JsonCodec, name: str) -> list[DecodeResult]:
    return list(codec.decode((FIXTURES / name).read_bytes(), source=name))


def records(results: list[DecodeResult]) -> list[Record]:
    return [r for r in results if isinstance(r, Record)]


def present(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if v is not None}


# --------------------------------------------------------------------------- reading


def test_the_sheet_pull_sample_gives_three_events() -> None:
    results = decode(pull_codec(), "parcel_events_CE123456789FR.json")
    assert all(isinstance(r, Record) for r in results)
    pickup, sorting, delivered = records(results)
    assert [r.line for r in (pickup, sorting, delivered)] == [1, 2, 3]
    assert present(pickup.fields) == {
        "id": "ev_01HF2",
        "code": "PCH",
        "label": "Colis pris en charge",
        "at": "2026-11-02T17:31:00+01:00",
        "postcode": "69003",
        "city": "Lyon",
        "tracking_number": "CE123456789FR",
        "reference": "ME-000123",
    }
    assert sorting.fields["postcode"] is None
    assert sorting.fields["city"] == "Chaponnay"
    assert delivered.fields["signed_by"] == "DUPONT"
    assert delivered.fields["label"] == "Livré"
    assert delivered.fields["city"] is None
    assert (
        json.loads(pickup.raw)
        == json.loads((FIXTURES / "parcel_events_CE123456789FR.json").read_bytes())["events"][0]
    )
    assert pickup.raw.startswith('{"id":"ev_01HF2","code":"PCH"')  # compact, in order


def test_document_fields_are_read_once_and_copied_to_every_record() -> None:
    codec = pull_codec()
    content = (FIXTURES / "parcel_events_CE998877001FR.json").read_bytes()
    assert codec.document_fields(content, source="pull") == {
        "tracking_number": "CE998877001FR",
        "reference": "BM-000045",
    }
    got = records(decode(codec, "parcel_events_CE998877001FR.json"))
    assert {(r.fields["tracking_number"], r.fields["reference"]) for r in got} == {
        ("CE998877001FR", "BM-000045")
    }


def test_the_histories_hold_every_event_code_and_an_unknown_one() -> None:
    codes: set[str | None] = set()
    for name in ("parcel_events_CE998877001FR.json", "parcel_events_CE555000111FR.json"):
        codes |= {r.fields["code"] for r in records(decode(pull_codec(), name))}
    assert codes == ALL_CODES | {"RDV", ""}


def test_a_history_out_of_order_and_with_a_duplicate_is_read_as_sent() -> None:
    got = records(decode(pull_codec(), "parcel_events_CE998877001FR.json"))
    ids = [r.fields["id"] for r in got]
    assert ids.count("ev_01HMK") == 2  # the store de-duplicates, not the codec
    at = [r.fields["at"] or "" for r in got]
    assert at != sorted(at)
    relay = next(r for r in got if r.fields["code"] == "DIS")
    assert relay.fields["relay_id"] == "R-75011-042"


def test_an_event_without_id_or_code_goes_to_the_mapping_and_a_non_object_is_rejected() -> None:
    results = decode(pull_codec(), "parcel_events_CE555000111FR.json")
    assert [type(r).__name__ for r in results] == ["Record"] * 8 + ["JsonRecordError"]
    no_id = results[3]
    assert isinstance(no_id, Record)
    assert no_id.fields["id"] is None
    assert no_id.fields["label"] == "Adresse incomplète"
    no_code = results[6]
    assert isinstance(no_code, Record)
    assert no_code.fields["code"] == ""
    bad_date = results[7]
    assert isinstance(bad_date, Record)
    assert bad_date.fields["at"] == "06/11/2026 18:00"  # the mapping judges dates
    string = results[8]
    assert isinstance(string, JsonRecordError)
    assert string.location.line == 9
    assert string.raw == '"ev_01HQF"'
    assert "a string, not an object" in string.reason
    assert string.action is NextAction.REJECT_RECORD


def test_an_empty_history_gives_no_record_but_its_parcel() -> None:
    assert decode(pull_codec(), "parcel_events_CE000000000FR_empty.json") == []
    content = (FIXTURES / "parcel_events_CE000000000FR_empty.json").read_bytes()
    assert pull_codec().document_fields(content, source="empty")["reference"] == "ME-000150"


def test_each_push_body_is_one_record() -> None:
    pushes = sorted(FIXTURES.glob("push_0[1-8]_*.json"))
    assert len(pushes) == 8
    for path in pushes:
        (record,) = decode(push_codec(), path.name)
        assert isinstance(record, Record), path.name
        assert record.line == 1
        assert record.fields["tracking_number"] is not None
        assert record.raw == path.read_text(encoding="utf-8")  # pushes arrive compact
    first, again = (
        decode(push_codec(), "push_01_PCH.json")[0],
        decode(push_codec(), "push_04_PCH_again.json")[0],
    )
    assert isinstance(first, Record)
    assert isinstance(again, Record)
    assert first.fields == again.fields
    (unknown,) = decode(push_codec(), "push_07_unknown_code.json")
    assert isinstance(unknown, Record)
    assert unknown.fields["code"] == "RDV"
    (no_id,) = decode(push_codec(), "push_08_no_id.json")
    assert isinstance(no_id, Record)
    assert no_id.fields["id"] is None


def test_a_push_pulled_later_reads_the_same() -> None:
    (pushed,) = decode(push_codec(), "push_01_PCH.json")
    pulled = records(decode(pull_codec(), "parcel_events_CE123456789FR.json"))[0]
    assert isinstance(pushed, Record)
    assert pushed.fields == pulled.fields


@pytest.mark.parametrize(
    ("name", "line", "column", "detail"),
    [
        ("push_09_malformed.json", 1, 129, "Unterminated string"),
        ("push_10_trailing_comma.json", 6, 36, "Expecting property name"),
    ],
)
def test_malformed_json_is_refused_whole_with_its_line_and_column(
    name: str, line: int, column: int, detail: str
) -> None:
    with pytest.raises(DocumentMalformed) as caught:
        decode(push_codec(), name)
    error = caught.value
    assert isinstance(error, DocumentError)
    assert isinstance(error, PartnerDataError)
    assert (error.line, error.column) == (line, column)
    assert error.location.line == line
    assert f"line {line}, column {column}" in error.reason
    assert detail in error.reason


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"", "Expecting value"),
        (b'{"code": "PCH", "weight": NaN}', "NaN is not a JSON value"),
        (b'{"label": "Livr\xe9"}', "is not valid utf-8"),
    ],
)
def test_what_is_not_json_is_malformed(content: bytes, detail: str) -> None:
    with pytest.raises(DocumentMalformed) as caught:
        list(push_codec().decode(content, source="bad.json"))
    assert detail in caught.value.reason


def test_utf8_with_a_bom_and_utf16_are_json_too() -> None:
    text = '{"id": "ev_1", "label": "Livré"}'
    for content in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        (record,) = push_codec().decode(content, source="enc.json")
        assert isinstance(record, Record)
        assert record.fields["label"] == "Livré"


def test_a_document_over_the_size_limit_is_refused_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the JSON parser was called")

    monkeypatch.setattr(json, "loads", forbidden)
    content = (FIXTURES / "parcel_events_CE123456789FR.json").read_bytes()
    with pytest.raises(DocumentTooLarge) as caught:
        list(pull_codec(max_bytes=len(content) - 1).decode(content, source="big.json"))
    assert (caught.value.size, caught.value.limit) == (len(content), len(content) - 1)
    assert "refused unparsed" in caught.value.reason


def test_the_default_size_limit_refuses_100_mb() -> None:
    content = b'{"events": [' + b" " * 100_000_000 + b"]}"
    with pytest.raises(DocumentTooLarge):
        list(pull_codec().decode(content, source="huge.json"))


def test_absurd_nesting_is_refused() -> None:
    with pytest.raises(DocumentTooDeep):
        list(push_codec().decode(b"[" * 100_000 + b"]" * 100_000, source="deep.json"))
    deep = b'{"events": [' + b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1) + b"]}"
    with pytest.raises(DocumentTooDeep):  # parsed, but deeper than any record should be
        list(pull_codec().decode(deep, source="deep.json"))
    fine = b'{"events": [' + b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH + b"]}"
    assert len(list(pull_codec().decode(fine, source="deep.json"))) == 1


def test_a_record_path_on_the_wrong_kind_of_value_rejects_the_document() -> None:
    with pytest.raises(JsonShapeError) as caught:
        list(pull_codec().decode(b'{"events": {"id": "ev_1"}}', source="shape.json"))
    assert "expected a list, found an object" in caught.value.reason
    # An empty document, null or an empty list is no record.
    for content in (b"{}", b'{"events": null}', b'{"events": []}'):
        assert list(pull_codec().decode(content, source="none.json")) == []
    # A path that reaches nothing in a document with content is never silence.
    with pytest.raises(JsonShapeError) as missed:
        list(pull_codec().decode(b'{"evts": [{"id": "ev_1"}]}', source="renamed.json"))
    assert missed.value.reason == (
        "record path $.events[*] reaches nothing in this document (it holds: evts): the "
        "partner's format changed, or this is not the message the mapping reads"
    )


def test_values_are_text_as_the_partner_wrote_them() -> None:
    codec = JsonCodec(
        JsonCodecSpec(
            record="$.items[*]",
            fields={
                "amount": "$.amount",
                "big": "$.big",
                "flag": "$.flag",
                "nothing": "$.nothing",
                "missing": "$.missing",
                "object": "$.object",
                "list": "$.list",
                "each": "$.list[*].sku",
                "first": "$.list[0].sku",
                "last": "$.list[-1].sku",
                "odd": '$["odd.key"]["with space"]',
                "city": "$.object.city",
                "not_an_object": "$.amount.value",
            },
        )
    )
    content = (
        b'{"items": [{"amount": 212.00, "big": 12345678901234567890, "flag": true,'
        b' "nothing": null, "object": {"city": "Lyon", "lat": 45.7640},'
        b' "list": [{"sku": "A"}, {"sku": "B"}, {"qty": 2}],'
        b' "odd.key": {"with space": "yes"}}]}'
    )
    (record,) = codec.decode(content, source="values.json")
    assert isinstance(record, Record)
    assert record.fields == {
        "amount": "212.00",
        "big": "12345678901234567890",
        "flag": "true",
        "nothing": None,
        "missing": None,
        "object": '{"city":"Lyon","lat":45.7640}',
        "list": '[{"sku":"A"},{"sku":"B"},{"qty":2}]',
        "each": "A\nB",
        "first": "A",
        "last": None,
        "odd": "yes",
        "city": "Lyon",
        "not_an_object": None,
    }


def test_repeated_items_are_numbered_both_ways() -> None:
    codec = JsonCodec(
        JsonCodecSpec(
            record="$",
            fields={
                "order": "$.order",
                "line_sku": "$.lines[{n}].sku",
                "line_qty": "$.lines[{n}].qty:number",
            },
        )
    )
    record = {
        "order": "PO-1",
        "line_sku.2": "PP-45001",
        "line_qty.2": "2",
        "line_sku.1": "PP-77120",
        "line_qty.1": "1",
    }
    content = codec.encode([record])
    assert content == (
        b'{"order":"PO-1","lines":[{"sku":"PP-77120","qty":1},{"sku":"PP-45001","qty":2}]}'
    )
    (back,) = codec.decode(content, source="po.json")
    assert isinstance(back, Record)
    assert back.fields == {"order": "PO-1", **record}


def test_the_codec_is_a_document_codec_built_from_its_spec() -> None:
    codec = codec_from_spec(JsonCodecSpec(fields=EVENT_FIELDS), None)
    assert isinstance(codec, JsonCodec)
    assert isinstance(codec, DocumentCodec)


@pytest.mark.parametrize(
    ("text", "steps", "hint"),
    [
        ("$", 0, "string"),
        ("$.events[*]", 2, "string"),
        ("$.parcel.weight_kg:number", 2, "number"),
        ('$["a.b"][0][-1]', 3, "string"),
        ("$.lines[{n}].sku:json", 3, "json"),
    ],
)
def test_paths_parse(text: str, steps: int, hint: str) -> None:
    path = parse_path(text)
    assert (len(path.steps), path.hint) == (steps, hint)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"fields": {"code": "code"}}, "starts with $"),
        ({"fields": {"w": "$.weight:float"}}, "type suffix"),
        ({"fields": {"w": "$.a[x]"}}, "cannot read"),
        ({"fields": {"w": "$.a[{n}].b[{n}]"}}, "only one"),
        ({"record": "$.events[{n}]", "fields": {}}, "use [*]"),
        ({"fields": {"id": "$.id"}, "document_fields": {"id": "$.id"}}, "both as fields"),
    ],
)
def test_a_broken_spec_is_a_configuration_error(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        JsonCodec(JsonCodecSpec(**spec))
    assert message in caught.value.message


# --------------------------------------------------------------------------- writing


def test_the_pickup_request_is_written_with_nested_objects_and_a_number() -> None:
    content = pickup_codec().encode([ME_000123_PICKUP])
    assert (
        content
        == (
            '{"reference":"ME-000123","service":"HOME",'
            '"from":{"name":"Julie Martin","line1":"4 rue des Lilas","postcode":"69003",'
            '"city":"Lyon","country":"FR","phone":"+33612345678"},'
            '"to":{"name":"Atelier Dupont Réparation","line1":"ZA des Prés","postcode":"38300",'
            '"city":"Bourgoin-Jallieu","country":"FR"},'
            '"parcel":{"weight_kg":3.2}}'
        ).encode()
    )
    document = json.loads(content)
    assert document == json.loads((FIXTURES / "pickup_request_ME-000123.json").read_bytes())
    assert isinstance(document["parcel"]["weight_kg"], float)
    assert "phone" not in document["to"]  # None writes nothing


def test_the_pickup_request_reads_back_the_same() -> None:
    codec = pickup_codec()
    (back,) = codec.decode(codec.encode([ME_000123_PICKUP]), source="pickup.json")
    assert isinstance(back, Record)
    assert back.fields == ME_000123_PICKUP
    (sample,) = decode(codec, "pickup_request_ME-000123.json")
    assert isinstance(sample, Record)
    assert sample.fields == ME_000123_PICKUP


def test_the_pickup_answers_read_by_path() -> None:
    created = JsonCodec(
        JsonCodecSpec(fields={"tracking": "$.tracking_number", "label": "$.label_url"})
    )
    (answer,) = decode(created, "pickup.answer.201.json")
    assert isinstance(answer, Record)
    assert answer.fields["tracking"] == "CE123456789FR"
    error = JsonCodec(JsonCodecSpec(fields={"code": "$.error.code", "message": "$.error.message"}))
    (refusal,) = decode(error, "pickup_error_400.json")
    assert isinstance(refusal, Record)
    assert refusal.fields["code"] == "INVALID_POSTCODE"


def test_numbers_are_written_exactly_as_given() -> None:
    codec = JsonCodec(JsonCodecSpec(fields={"w": "$.w:number"}))
    for text in ("3.2", "3.20", "-0.5", "1e-3", "12345678901234567890"):
        assert codec.encode([{"w": text}]) == f'{{"w":{text}}}'.encode()


@pytest.mark.parametrize(
    ("path", "value", "written"),
    [
        ("$.b:boolean", "true", b'{"b":true}'),
        ("$.b:boolean", "false", b'{"b":false}'),
        ("$.j:json", '{"a": [1, null]}', b'{"j":{"a":[1,null]}}'),
        ("$.s:string", "3.2", b'{"s":"3.2"}'),
        ("$.list[1]", "x", b'{"list":[null,"x"]}'),
        ('$["a b"]', 'quote " and \\', b'{"a b":"quote \\" and \\\\"}'),
    ],
)
def test_type_suffixes_and_paths_shape_what_is_written(
    path: str, value: str, written: bytes
) -> None:
    codec = JsonCodec(JsonCodecSpec(fields={"f": path}))
    assert codec.encode([{"f": value}]) == written


@pytest.mark.parametrize(
    ("fields", "record", "message"),
    [
        ({"w": "$.w:number"}, {"w": "3,2"}, "'3,2' is not a JSON number"),
        ({"w": "$.w:number"}, {"w": "NaN"}, "not a JSON number"),
        ({"b": "$.b:boolean"}, {"b": "yes"}, "not true or false"),
        ({"j": "$.j:json"}, {"j": "{oops"}, "not JSON"),
        ({"a": "$.a"}, {"a": "x", "b": "y"}, "'b' is not in the mapping"),
        ({"a": "$.a"}, {"a.1": "x"}, "'a.1' is not in the mapping"),
        ({"a": "$.a", "b": "$.a.b"}, {"a": "x", "b": "y"}, "goes through a value"),
        ({"a": "$.a", "b": "$.a"}, {"a": "x", "b": "y"}, "written twice"),
        ({"a": "$.a"}, {"a": 3.2}, "expected text or None, got float"),
    ],
)
def test_what_cannot_be_written_is_an_encode_error(
    fields: dict[str, str], record: dict[str, Any], message: str
) -> None:
    codec = JsonCodec(JsonCodecSpec(fields=fields))
    with pytest.raises(EncodeError) as caught:
        codec.encode([record])
    assert isinstance(caught.value, ModelError)
    assert message in caught.value.message


def test_one_document_holds_one_record() -> None:
    for many in ([], [ME_000123_PICKUP, ME_000123_PICKUP]):
        with pytest.raises(EncodeError):
            pickup_codec().encode(many)


@pytest.mark.parametrize(
    ("record", "fields"),
    [("$.events[*]", {"a": "$.a"}), ("$", {"a": "$.list[*].a"}), ("$", {"a": "$.list[-1]"})],
)
def test_paths_that_cannot_be_written_are_a_configuration_error(
    record: str, fields: dict[str, str]
) -> None:
    codec = JsonCodec(JsonCodecSpec(record=record, fields=fields))
    with pytest.raises(ConfigurationError):
        codec.encode([{"a": "x"}])


def test_document_fields_in_a_record_are_not_written() -> None:
    codec = JsonCodec(JsonCodecSpec(fields={"a": "$.a"}, document_fields={"d": "$.d"}))
    assert codec.encode([{"a": "x", "d": "from the document"}]) == b'{"a":"x"}'


# --------------------------------------------------------------------------- properties

NUMBERS = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(
        lambda d: format(d, "f") if d != 0 else "0"
    ),
)
PROPERTY_FIELDS = {
    "plain": "$.plain",
    "nested": "$.a.b.c",
    "sibling": "$.a.d",
    "odd_key": '$["x.y"]',
    "indexed": "$.list[0].v",
    "number": "$.n:number",
    "flag": "$.f:boolean",
    "item": "$.items[{n}].name",
}


@settings(max_examples=150, deadline=None)
@given(
    strings=st.fixed_dictionaries(
        {name: st.none() | st.text(max_size=30) for name in ("plain", "nested", "sibling")}
        | {"odd_key": st.none() | st.text(max_size=30), "indexed": st.none() | st.text()}
    ),
    number=st.none() | NUMBERS,
    flag=st.none() | st.sampled_from(["true", "false"]),
    items=st.lists(st.text(max_size=20), max_size=4),
)
def test_encode_then_decode_gives_the_values_back(
    strings: dict[str, str | None], number: str | None, flag: str | None, items: list[str]
) -> None:
    codec = JsonCodec(JsonCodecSpec(fields=PROPERTY_FIELDS))
    record: dict[str, str | None] = {**strings, "number": number, "flag": flag}
    record |= {f"item.{n}": name for n, name in enumerate(items, start=1)}
    content = codec.encode([record])
    json.loads(content)  # any JSON parser reads it
    (back,) = codec.decode(content, source="round-trip")
    assert isinstance(back, Record)
    assert back.fields == record


MULTI_PARCEL_ANSWER = {
    "account": "HUB-1",
    "shipments": [
        {
            "number": "1Z0000000000000001",
            "service": {"name": "Express"},
            "events": [{"code": "PU", "at": "09:00"}, {"code": "DEL", "at": "17:00"}],
        },
        {"number": "1Z0000000000000002", "events": [{"code": "PU", "at": "10:00"}]},
        {"number": "1Z0000000000000003", "events": []},
    ],
}


def test_a_record_reads_the_objects_enclosing_it() -> None:
    """Events nested in parcels read their own parcel's number (``^``) and the answer's
    account (``^^``): no event takes the first parcel's number."""
    codec = JsonCodec(
        JsonCodecSpec(
            record="$.shipments[*].events[*]",
            fields={
                "code": "$.code",
                "number": "^.number",
                "service": "^.service.name",
                "account": "^^.account",
                "beyond": "^^^.account",
            },
        )
    )
    records = list(codec.decode(json.dumps(MULTI_PARCEL_ANSWER).encode(), source="answer.json"))
    assert [
        (r.fields["code"], r.fields["number"], r.fields["service"], r.fields["account"])
        for r in records
        if isinstance(r, Record)
    ] == [
        ("PU", "1Z0000000000000001", "Express", "HUB-1"),
        ("DEL", "1Z0000000000000001", "Express", "HUB-1"),
        ("PU", "1Z0000000000000002", None, "HUB-1"),
    ]
    assert all(isinstance(r, Record) and r.fields["beyond"] is None for r in records)


def test_a_document_field_cannot_read_an_enclosing_object() -> None:
    with pytest.raises(ConfigurationError, match="only a record's fields have an enclosing"):
        JsonCodec(JsonCodecSpec(record="$.events[*]", fields={}, document_fields={"n": "^.x"}))
    with pytest.raises(ConfigurationError, match="or with \\^ to read the object"):
        JsonCodec(JsonCodecSpec(record="$.events[*]", fields={"n": "number"}))
