"""The parse's shortcuts give what the plain path gives: instants read by the fast
parser, values read by kind (a problem read again in the mapping's order), and raw
texts written only when a record is rejected."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.codecs.xml.codec import XmlCodec
from hub.errors import PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.mapping.spec import InboundSpec
from hub.mapping.values import ValueProblem, instant_parser, parse_instant
from hub.ports import Record

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 5, tzinfo=UTC)

FORMATS = [
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%H:%M %d/%m/%Y",
    "%d.%m.%Y %Hh",
    "%Y%m%d%H%M%S",
    "%d/%m/%Y",
]
"""Fields in a datetime's order or not, with seconds or without, an hour alone, a date
alone (the last ones take the general path)."""


@settings(max_examples=300, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    zone=st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe"]),
    numbers=st.tuples(
        st.integers(1999, 2031),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
    ),
    ambiguous=st.sampled_from(["earlier", "later", "reject"]),
    later=st.tuples(st.integers(0, 61), st.integers(0, 61)),
)
def test_the_instant_parser_reads_as_strptime_does(
    fmt: str, zone: str, numbers: tuple[int, ...], ambiguous: str, later: tuple[int, int]
) -> None:
    """Each text read as strptime reads it; then the same text again (the parser's
    memory), and another minute and second of the same hour (the hour read once)."""
    where = ZoneInfo(zone)
    fast = instant_parser(fmt, where, ambiguous=ambiguous, nonexistent="reject")  # type: ignore[arg-type]
    for text in (
        _written(fmt, numbers),
        _written(fmt, numbers),
        _written(fmt, (*numbers[:4], *later)),
    ):
        try:
            expected: datetime | str = parse_instant(
                text,
                fmt,
                where,
                ambiguous=ambiguous,
                nonexistent="reject",  # type: ignore[arg-type]
            )
        except ValueProblem as problem:
            expected = str(problem)
        try:
            got: datetime | str = fast(text)
        except ValueProblem as problem:
            got = str(problem)
        assert got == expected, text
        if isinstance(got, datetime) and isinstance(expected, datetime):
            assert got.isoformat() == expected.isoformat(), text


def _written(fmt: str, numbers: tuple[int, ...]) -> str:
    year, month, day, hour, minute, second = numbers
    return (
        fmt.replace("%Y", f"{year:04d}")
        .replace("%m", f"{month:02d}")
        .replace("%d", f"{day:02d}")
        .replace("%H", f"{hour:02d}")
        .replace("%M", f"{minute:02d}")
        .replace("%S", f"{second:02d}")
    )


def test_the_instant_parser_reads_digits_int_reads() -> None:
    """One-digit fields, and digits of other scripts (which a regex's \\d takes and int()
    reads), read as strptime reads them; a minute of 60 is refused with its text."""
    fast = instant_parser("%d/%m/%Y %H:%M:%S", ZoneInfo("Europe/Paris"))
    paris = ZoneInfo("Europe/Paris")
    assert fast("3/1/2026 9:05:07") == datetime(2026, 1, 3, 9, 5, 7, tzinfo=paris)
    assert fast("03/01/2026 09:\u0660\u0665:00") == datetime(2026, 1, 3, 9, 5, tzinfo=paris)
    assert fast("03/01/2026 09:00:00") == datetime(2026, 1, 3, 9, tzinfo=paris)
    with pytest.raises(ValueProblem, match="03/01/2026 09:60:00"):
        fast("03/01/2026 09:60:00")
    # The hour now known, a minute and second are steps from its first instant
    # (thirteenth pass): the same fields, zone and fold as the constructor's; a second
    # of 60 in a known hour is still refused.
    stepped = fast("03/01/2026 09:59:58")
    built = datetime(2026, 1, 3, 9, 59, 58, 0, fast("03/01/2026 09:00:00").tzinfo)
    assert (stepped, stepped.tzinfo, stepped.fold) == (built, built.tzinfo, built.fold)
    assert stepped.isoformat() == "2026-01-03T09:59:58+01:00"
    with pytest.raises(ValueProblem, match="03/01/2026 09:05:60"):
        fast("03/01/2026 09:05:60")


def _inbound_mappings() -> list[InboundMapping]:
    found = []
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        mapping = load_mapping(path)
        for name, message in mapping.messages.items():
            if isinstance(message, InboundSpec):
                found.append(InboundMapping(mapping, name))
    return found


MAPPINGS = _inbound_mappings()

TEXTS = st.sampled_from(
    [
        None,
        "",
        "  ",
        " ME-000123 ",
        "REC",
        "25",
        "60",
        "2026-11-03T10:00:00+01:00",
        "2026-11-03",
        "03/11/2026",
        "31/02/2026",
        "10:00",
        "25:00",
        "20261103101500",
        "12,50",
        "212.00",
        "abc",
        "PP-1\nPP-2",
        "1\n2",
        "x",
        "Europe/Paris",
        "+02:00",
        "Mars/Olympus",
    ]
)


def _columns(mapping: InboundMapping) -> list[str]:
    names: list[str] = []
    for field in mapping.spec.fields.values():
        names.extend([field.column] if field.column else list(field.columns or ()))
    return names


def _outcome(read: object) -> object:
    try:
        return read()  # type: ignore[operator]
    except PartnerDataError as problem:
        return (type(problem).__name__, problem.reason, problem.location, problem.raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), index=st.integers(0, len(MAPPINGS) - 1))
def test_values_read_by_kind_are_those_read_in_the_mappings_order(
    data: st.DataObject, index: int
) -> None:
    mapping = MAPPINGS[index]
    fields = {name: data.draw(TEXTS, label=name) for name in _columns(mapping)}
    record = Record(3, fields, "raw line")
    by_kind = _outcome(lambda: mapping._values(record, "f.csv"))
    in_order = _outcome(lambda: mapping._values_in_order(record, "f.csv"))
    assert by_kind == in_order


def test_a_deferred_raw_text_is_written_once_and_then_is_the_records() -> None:
    writes: list[int] = []

    def write() -> str:
        writes.append(1)
        return "<Change/>"

    record = Record.deferred(4, {"a": "1"}, write)
    assert type(record) is Record
    assert writes == []
    assert record.raw == "<Change/>"
    assert record.raw == "<Change/>"
    assert writes == [1]
    assert record == Record(4, {"a": "1"}, "<Change/>")
    with pytest.raises(AttributeError):
        record.other  # type: ignore[attr-defined]  # noqa: B018


XML_FIXTURES = [
    ("techniservice", "changes", "techniservice"),
    ("techniservice", "repair", "techniservice"),
    ("relais-direct", "push", "relais-direct"),
    ("relais-direct", "tracking", "relais-direct"),
]


@pytest.mark.parametrize(("partner", "message", "folder"), XML_FIXTURES)
def test_xml_raw_texts_are_each_records_element_as_before(
    partner: str, message: str, folder: str
) -> None:
    """Every XML fixture: each record's raw text is its element written as text, as
    the codec wrote it when it wrote every record's at once."""
    mapping = load_mapping(ROOT / "mappings" / f"{partner}.yaml")
    codec = build_codec(mapping.inbound(message))
    assert isinstance(codec, XmlCodec)
    checked = 0
    for path in sorted((ROOT / "fixtures" / folder).glob("*.xml")):
        content = path.read_bytes()
        try:
            results = list(codec.decode(content, source=path.name))
            tree = etree.fromstring(content).getroottree()
        except (PartnerDataError, etree.XMLSyntaxError):
            continue
        records = [r for r in results if isinstance(r, Record)]
        expected: dict[int, list[str]] = {}
        for element in codec._records(tree):
            text = etree.tostring(element, encoding="unicode", with_tail=False)
            expected.setdefault(element.sourceline, []).append(text)
        for record in records:
            assert record.raw in expected[record.line]
            checked += 1
    assert checked > 0


def test_a_const_its_converter_refuses_rejects_each_record_saying_why(tmp_path: Path) -> None:
    """Not kept as a constant: read with each record's values, by kind and in order
    alike, so every record is rejected with the converter's reason."""
    text = (ROOT / "mappings" / "pieces-plus.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "pieces-plus.yaml"
    broken.write_text(
        text.replace(
            "occurred_at: {column: event_time, format: iso8601, required: true}",
            'occurred_at: {const: "not a time", format: iso8601}',
        ),
        encoding="utf-8",
    )
    mapping = InboundMapping(load_mapping(broken), "answers")
    assert all(target.value != "occurred_at" for target in mapping._constants)
    sample = sorted((ROOT / "fixtures" / "pieces-plus").glob("*.csv"))[0]
    record = next(
        r
        for r in build_codec(mapping.spec).decode(sample.read_bytes(), source=sample.name)
        if isinstance(r, Record)
    )
    by_kind = _outcome(lambda: mapping._values(record, "f.csv"))
    assert by_kind == _outcome(lambda: mapping._values_in_order(record, "f.csv"))
    assert isinstance(by_kind, tuple)
    assert "not a time" in by_kind[1]
