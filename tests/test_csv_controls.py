"""CSV files with a trailer line and file controls: the controls every file codec shares
(adapters.codecs.controls), on an ERP export that ends with ``FIN;<rows>;<total>``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.codecs.controls import FileControlError
from adapters.codecs.csv.codec import codec_from_spec
from adapters.codecs.csv.errors import CsvFieldCountError
from adapters.codecs.csv.spec import CsvCodecSpec
from hub.partners.ingest.pipeline import InboundPipeline, MessageRejected
from hub.ports import Record

COLUMNS = ("ref", "code", "amount")
SETTINGS: dict[str, Any] = {
    "encoding": "cp1252",
    "delimiter": ";",
    "trailer": {"first_cell": "FIN", "columns": ["marker", "rows", "total"]},
    "controls": {
        "trailer": "required",
        "count": {"record": "trailer", "field": "rows", "counts": ["row"]},
        "totals": [{"record": "trailer", "field": "total", "sums": ["row.amount"]}],
    },
}


def codec(**changes: Any) -> Any:
    return codec_from_spec(CsvCodecSpec.model_validate({**SETTINGS, **changes}), COLUMNS)


def content(*lines: str) -> bytes:
    return "".join(line + "\r\n" for line in ("ref;code;amount", *lines)).encode("cp1252")


def test_rows_pass_the_controls_and_carry_the_trailers_values() -> None:
    results = list(
        codec().decode(content("A1;RECU;0", "A2;DEVI;189.90", "FIN;2;189.90"), source="f")
    )
    assert [(r.line, dict(r.fields)) for r in results if isinstance(r, Record)] == [
        (2, {"ref": "A1", "code": "RECU", "amount": "0", "trailer.marker": "FIN",
             "trailer.rows": "2", "trailer.total": "189.90"}),
        (3, {"ref": "A2", "code": "DEVI", "amount": "189.90", "trailer.marker": "FIN",
             "trailer.rows": "2", "trailer.total": "189.90"}),
    ]  # fmt: skip
    assert len(results) == 2


@pytest.mark.parametrize(
    ("lines", "reason", "line"),
    [
        (("A1;RECU;0", "A2;DEVI;189.90"), "the trailer record is missing", None),
        (
            ("A1;RECU;0", "FIN;2;0"),
            "record count: the trailer says 2 row records, the file has 1",
            3,
        ),
        (("A1;DEVI;10", "FIN;1;11"), "control total: the trailer's total is 11, the sum", 3),
        (("A1;RECU;0", "FIN;1;0", "A2;RECU;0"), "a row after the trailer", 4),
        (("A1;RECU;0", "FIN;1;0", "FIN;1;0"), "a second trailer line", 4),
        (("A1;RECU;0", "FIN;1"), "the trailer has 2 cells, the mapping names 3", 3),
    ],
)
def test_a_failed_control_refuses_the_whole_file(
    lines: tuple[str, ...], reason: str, line: int | None
) -> None:
    with pytest.raises(FileControlError, match=reason) as refused:
        next(codec().decode(content(*lines), source="f"))
    assert refused.value.location.line == line


def test_a_bad_row_is_rejected_alone_and_still_counted() -> None:
    """The partner wrote it, so the trailer counts it; its amount is unreadable, so the
    total is checked on what could be read."""
    results = list(codec().decode(content("A1;DEVI;10", "A2;RECU", "FIN;2;10"), source="f"))
    assert [type(r) for r in results] == [Record, CsvFieldCountError]
    assert results[1].location.line == 3  # type: ignore[union-attr]


def test_a_trailer_is_never_a_data_row_even_without_controls() -> None:
    plain = codec(controls={})
    results = list(plain.decode(content("A1;RECU;0", "FIN;9;9"), source="f"))
    assert [r.fields["ref"] for r in results if isinstance(r, Record)] == ["A1"]
    assert len(results) == 1


def test_without_trailer_or_controls_rows_stream() -> None:
    plain = codec_from_spec(CsvCodecSpec.model_validate({"encoding": "utf-8"}), COLUMNS)
    rows = plain.decode(content("A1;RECU;0").replace(b";", b","), source="f")
    assert not isinstance(rows, list)
    assert [r.line for r in rows] == [2]


def test_a_refused_file_is_one_message_reject_in_the_pipeline() -> None:
    pipeline = InboundPipeline(codec=codec(), mapping=None)  # type: ignore[arg-type]
    items = list(pipeline.parse(content("A1;RECU;0"), source="f", recorded_at=datetime.now(UTC)))
    assert len(items) == 1
    assert isinstance(items[0], MessageRejected)
    assert "trailer record is missing" in items[0].reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"trailer": None}, "controls name record types this CSV file does not have: trailer"),
        ({"controls": {"header": "required"}}, "column header is always required"),
        (
            {"controls": {"count": {"record": "footer", "field": "n", "counts": ["row"]}}},
            "does not have: footer",
        ),
        ({"encoding": "latin-42"}, "'latin-42' is not an encoding Python knows"),
    ],
)
def test_incoherent_settings_fail_when_the_mapping_is_loaded(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        CsvCodecSpec.model_validate({**SETTINGS, **changes})
