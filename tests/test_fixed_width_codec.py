"""The fixed-width codec and the generic file controls, on a status layout of the kind
repairers export (header, status lines, parts used after them, trailer with totals)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.codecs.controls import FileControlError, SequenceGap
from adapters.codecs.fixed_width.codec import FixedWidthCodec
from adapters.codecs.fixed_width.errors import FixedWidthEncodeError, FixedWidthLineError
from adapters.codecs.fixed_width.spec import FixedWidthCodecSpec
from adapters.codecs.text import UndecodableByteError
from hub.partners.ingest.pipeline import InboundPipeline, MessageRejected
from hub.ports import Record

LAYOUT: dict[str, Any] = {
    "encoding": "iso-8859-15",
    "line_length": 40,
    "records": {
        "header": {
            "prefix": "01",
            "role": "header",
            "fields": {"sender": {"start": 3, "length": 6}, "seq": {"start": 9, "end": 12}},
        },
        "status": {
            "prefix": "02",
            "fields": {
                "job": {"start": 3, "length": 6},
                "code": {"start": 9, "length": 4},
                "amount": {"start": 13, "length": 7, "decimals": 2, "sign": 20},
                "comment": {"start": 21, "end": 40},
            },
        },
        "part": {
            "prefix": "03",
            "role": "child",
            "child_of": "status",
            "fields": {
                "sku": {"start": 3, "length": 8},
                "quantity": {"start": 11, "length": 3, "numeric": True},
                "price": {"start": 14, "length": 6, "decimals": 2},
            },
        },
        "trailer": {
            "prefix": "09",
            "role": "trailer",
            "fields": {
                "count": {"start": 3, "length": 4, "numeric": True},
                "total": {"start": 7, "length": 9, "decimals": 2, "sign": "leading"},
            },
        },
    },
    "controls": {
        "header": "required",
        "trailer": "required",
        "count": {"record": "trailer", "field": "count", "counts": ["status", "part"]},
        "totals": [
            {
                "record": "trailer",
                "field": "total",
                "sums": ["status.amount", "part.quantity * part.price"],
            }
        ],
        "sequence": {"record": "header", "field": "seq"},
    },
}

LINES = [
    "01SENDER0017",
    "02J00001RECU0000000+",
    "02J00001DEVI0018990+écran fêlé €",
    "03EC-55-A1001014990",
    "03EC-77-B1002000500",
    "02J00002ANNU0001000-avoir",
    "090005+00033980",
]


def content(lines: list[str] = LINES, encoding: str = "iso-8859-15") -> bytes:
    return "".join(line + "\n" for line in lines).encode(encoding)


def codec(**changes: Any) -> FixedWidthCodec:
    return FixedWidthCodec(FixedWidthCodecSpec.model_validate({**LAYOUT, **changes}))


def records(items: list[Any]) -> list[Record]:
    return [item for item in items if isinstance(item, Record)]


def test_records_with_positions_implied_decimals_signs_and_children() -> None:
    items = list(codec().decode(content(), source="f.txt"))
    assert all(isinstance(item, Record) for item in items)
    first, quote, credit = records(items)
    assert first.fields["amount"] == "0.00"
    assert first.fields["part.sku"] is None  # no part follows it
    assert quote.line == 3
    assert quote.fields["amount"] == "189.90"
    assert quote.fields["comment"] == "écran fêlé €"  # ISO-8859-15 has the euro sign
    assert quote.fields["part.sku"] == "EC-55-A1\nEC-77-B1"
    assert quote.fields["part.quantity"] == "1\n2"
    assert quote.fields["part.price"] == "149.90\n5.00"
    assert quote.fields["header.seq"] == "0017"
    assert quote.fields["trailer.total"] == "339.80"
    assert quote.raw.count("\n") == 2  # its parts' lines come with it
    assert credit.fields["amount"] == "-10.00"


def test_children_numbered() -> None:
    quote = records(list(codec(children="numbered").decode(content(), source="f"))[1:2])[0]
    assert quote.fields["part.sku.2"] == "EC-77-B1"
    assert quote.fields["part.price.1"] == "149.90"


def test_short_lines_are_padded_and_crlf_read() -> None:
    text = content().replace(b"\n", b"\r\n")
    assert [r.fields["comment"] for r in records(list(codec().decode(text, source="f")))] == [
        "",
        "écran fêlé €",
        "avoir",
    ]


def test_encode_decode_round_trip() -> None:
    layout = codec()
    decoded = records(list(layout.decode(content(), source="f")))
    written = layout.encode([dict(r.fields) for r in decoded])
    assert written == content([line.ljust(40) for line in LINES])
    assert [r.fields for r in records(list(layout.decode(written, source="f")))] == [
        r.fields for r in decoded
    ]


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(FixedWidthEncodeError, match="does not fit"):
        codec().encode([{"job": "J1", "code": "RECU", "amount": "123456.00", "comment": ""}])
    with pytest.raises(FixedWidthEncodeError, match="U\\+0141"):
        codec().encode([{"job": "J1", "code": "RECU", "amount": "1", "comment": "Łódź"}])


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (LINES[:-1], "trailer record is missing"),
        (LINES[1:], "header record is missing"),
        ([*LINES[:-1], "090004+00033980"], "record count: the trailer says 4"),
        ([*LINES[:-1], "090005+00033981"], "control total"),
        ([LINES[0], "02J00001RECU00000X0+", *LINES[2:]], "line 2 is not a number"),
    ],
)
def test_a_failed_control_refuses_the_whole_file_with_the_reason(
    lines: list[str], reason: str
) -> None:
    with pytest.raises(FileControlError, match=reason):
        next(codec().decode(content(lines), source="f"))


def test_a_refused_file_is_one_message_reject_in_the_pipeline() -> None:
    pipeline = InboundPipeline(codec=codec(), mapping=None)  # type: ignore[arg-type]
    items = list(pipeline.parse(content(LINES[:-1]), source="f", recorded_at=datetime.now(UTC)))
    assert len(items) == 1
    assert isinstance(items[0], MessageRejected)
    assert "trailer record is missing" in items[0].reason


def test_a_bad_record_is_rejected_alone() -> None:
    lines = [*LINES]
    lines[1] = LINES[1].ljust(40) + "X"
    lines.insert(4, "77 unknown")
    items = list(codec().decode(content(lines), source="f"))
    errors = [item for item in items if isinstance(item, FixedWidthLineError)]
    assert [(e.location.line, e.location.field) for e in errors] == [(2, None), (5, None)]
    assert "unknown record type" in errors[1].reason
    assert len(records(items)) == 2


def test_an_undefined_byte_rejects_its_record_with_byte_and_position() -> None:
    data = content(LINES, "cp1252").replace("fêlé".encode("cp1252"), b"f\x81l\xe9")
    items = list(codec(encoding="cp1252").decode(data.replace(b"\x80", b"E"), source="f"))
    errors = [item for item in items if isinstance(item, UndecodableByteError)]
    assert len(errors) == 1
    assert errors[0].location.line == 3
    assert "byte 0x81 at line 3, column 28" in errors[0].reason
    # Its parts are rejected with it, not attached elsewhere; the rest goes in.
    assert sum(isinstance(item, FixedWidthLineError) for item in items) == 2
    assert len(records(items)) == 2


def test_unknown_encoding_fails_when_the_mapping_is_loaded() -> None:
    with pytest.raises(ValidationError, match="not an encoding Python knows"):
        codec(encoding="latin-42")


def test_sequence_gap_within_a_file_is_flagged_not_refused() -> None:
    layout = {**LAYOUT, "controls": {"sequence": {"record": "status", "field": "job"}}}
    layout["records"] = {
        **LAYOUT["records"],
        "status": {
            **LAYOUT["records"]["status"],
            "fields": {"job": {"start": 4, "length": 5, "numeric": True}},
        },
    }
    lines = ["02J00001", "02J00002", "02J00005"]
    items = list(
        FixedWidthCodec(FixedWidthCodecSpec.model_validate(layout)).decode(
            content(lines), source="f"
        )
    )
    assert len(records(items)) == 3
    gaps = [item for item in items if isinstance(item, SequenceGap)]
    assert [(g.location.line, g.reason) for g in gaps] == [
        (3, "sequence gap: job goes from 2 to 5")
    ]
