"""An inbound mapping's compiled plans give what the general path gives.

``hub.mapping.plan`` writes, per mapping and message, one function that reads a record's
values and builds its event, handing every record it has a doubt about to the general
path (``InboundMapping.map_record_in_full``), and its row plans, which read a CSV row's
cells by their places. These tests run both on the same records:
every fixture of every shipped partner, bad rows, and generated fields over every
shipped mapping; the same events (ids, values, order, fields set, JSON line) and the same
rejects (type, reason, file, line, field, raw text). And the plan's source holds nothing
from a mapping: only its own identifiers and texts.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
import textwrap
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.codecs.csv.codec import codec_from_spec
from adapters.codecs.csv.spec import CsvCodecSpec
from hub.errors import PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.mapping.plan import _Writer, compile_plan
from hub.mapping.spec import InboundSpec, MappingSpec
from hub.model import event as event_module
from hub.model.event import Event, MappedEvents
from hub.partners.ingest.pipeline import InboundPipeline, MessageRejected, dry_run_line
from hub.partners.rejection import WHOLE_MESSAGE_REJECTED
from hub.ports import Columns, Record, RowCodec

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 3, 14, 15, tzinfo=UTC)
MAPPING_FILES = [
    *sorted((ROOT / "mappings").glob("*.yaml")),
    *sorted((ROOT / "examples" / "hub-example-adapters" / "mappings").glob("*.yaml")),
]


def _fixtures_of(path: Path) -> Path:
    return path.parent.parent / "fixtures" / load_mapping(path).partner


def _messages() -> list[tuple[Path, str]]:
    return [
        (path, name)
        for path in MAPPING_FILES
        for name, spec in load_mapping(path).messages.items()
        if isinstance(spec, InboundSpec)
    ]


MESSAGES = _messages()


def _samples() -> list[tuple[Path, str, Path]]:
    found = []
    for path, name in MESSAGES:
        spec = load_mapping(path).inbound(name)
        folder = _fixtures_of(path)
        if not folder.is_dir():
            continue
        for sample in sorted(folder.iterdir()):
            if (
                sample.is_file()
                and ".expected" not in sample.name
                and fnmatchcase(sample.name, spec.file_pattern or "*")
            ):
                found.append((path, name, sample))
    return found


SAMPLES = _samples()


def _outcome(item: Event | PartnerDataError) -> object:
    """What a mapped record gives, everything that can tell two apart."""
    if isinstance(item, Event):
        return (
            "event",
            item.__dict__,
            item.__pydantic_fields_set__,
            item.details.__dict__,
            item.details.__pydantic_fields_set__,
            dry_run_line(item),
        )
    return (type(item), item.reason, item.location, item.raw)


def _both(mapping: InboundMapping, record: Record, source: str = "f.csv") -> tuple[object, object]:
    planned = _outcome(mapping.map_record(record, source=source, recorded_at=NOW))
    general = _outcome(mapping.map_record_in_full(record, source=source, recorded_at=NOW))
    return planned, general


def _general(spec: MappingSpec, message: str) -> InboundMapping:
    """A mapping whose plans hand every record on: the general path alone."""
    general = InboundMapping(spec, message)
    general._plan = lambda _fields, _at: None
    general.row_plan = lambda _columns: None  # type: ignore[method-assign]
    return general


def test_every_shipped_inbound_mapping_has_a_plan_and_samples() -> None:
    for path, name in MESSAGES:
        assert compile_plan(InboundMapping(load_mapping(path), name)) is not None, (path, name)
    assert {path for path, _, _ in SAMPLES} == set(MAPPING_FILES)
    assert len(SAMPLES) >= 25


@pytest.mark.parametrize(
    ("path", "message", "sample"), SAMPLES, ids=[f"{p.stem}-{m}-{s.name}" for p, m, s in SAMPLES]
)
def test_every_fixture_gives_the_general_path_s_events_and_rejects(
    path: Path, message: str, sample: Path
) -> None:
    """The whole pipeline, file order included: each record by the plan, then the same
    record by the general path alone."""
    spec = load_mapping(path)
    mapping = InboundMapping(spec, message)
    pipeline = InboundPipeline(build_codec(spec.inbound(message)), mapping)
    items = list(pipeline.parse(sample.read_bytes(), source=sample.name, recorded_at=NOW))
    general = _general(spec, message)
    alone = list(
        InboundPipeline(pipeline.codec, general).parse(
            sample.read_bytes(), source=sample.name, recorded_at=NOW
        )
    )
    assert [_outcome(item) for item in items] == [_outcome(item) for item in alone]


def test_every_fixture_record_that_makes_an_event_takes_the_plan() -> None:
    """The plan is the common case, not a path the fixtures never take: it hands on only
    the records the general path rejects."""
    planned = records = 0
    for path, message, sample in SAMPLES:
        spec = load_mapping(path)
        mapping = InboundMapping(spec, message)
        try:
            codec = build_codec(spec.inbound(message))
            decoded = list(codec.decode(sample.read_bytes(), source="f"))
        except PartnerDataError:
            continue
        for record in decoded:
            if isinstance(record, Record):
                made = mapping.map_record(record, source="f", recorded_at=NOW)
                records += 1
                taken = mapping._plan(record.fields, NOW) is not None
                planned += taken
                assert taken == isinstance(made, Event), (sample.name, record.line)
    assert records > 100
    assert planned > 0.85 * records


ATELIER = ROOT / "mappings" / "atelier-dupont.yaml"
HEADER = {
    "N° dossier": "AD-2026-000123",
    "Réf. client": "ME-000123",
    "Date statut": "03/11/2026",
    "Heure": "16:05",
    "Code statut": "TER",
    "Libellé": "Réparation terminée",
    "Commentaire": None,
    "N° série": "SN00000123",
    "Montant devis TTC": None,
    "Réf. pièce": None,
}

BAD_ROWS = {
    "good": ({}, "Event"),
    "a missing required field": ({"N° dossier": None}, "MissingValue"),
    "a required field of spaces": ({"N° dossier": "   "}, "MissingValue"),
    "a bad instant": ({"Date statut": "31/02/2026"}, "BadValue"),
    "an instant in no format": ({"Heure": "16h05"}, "BadValue"),
    "an unknown code": ({"Code statut": "XYZ"}, "Event"),
    "no case and no serial": ({"Réf. client": None, "N° série": " "}, "MissingValue"),
    "empty cells": ({"Libellé": "", "Commentaire": "", "N° série": ""}, "Event"),
    "a bad amount": ({"Code statut": "DEV", "Montant devis TTC": "12.50"}, "BadValue"),
    "a quote": ({"Code statut": "DEV", "Montant devis TTC": "212,00"}, "Event"),
    "a part": ({"Code statut": "ATP", "Réf. pièce": "PP-1"}, "Event"),
    "a NUL in a label": ({"Libellé": "fin\x00"}, "InvalidEvent"),
    "a lone surrogate in a note": ({"Commentaire": "note \udce9"}, "InvalidEvent"),
    "a serial too long": ({"N° série": "S" * 65}, "InvalidEvent"),
    "a reference too long": ({"Réf. client": "M" * 129}, "InvalidEvent"),
    "a label too long": ({"Libellé": "L" * 2001}, "InvalidEvent"),
    "a note of spaces kept": ({"Commentaire": "  "}, "Event"),
    "text beyond ASCII": ({"Commentaire": "Pièce HS", "Libellé": "Réparé"}, "Event"),
}
"""Each change to a good line, and what the line then gives."""


@pytest.mark.parametrize("change", list(BAD_ROWS), ids=list(BAD_ROWS))
def test_good_and_bad_rows_give_what_the_general_path_gives(change: str) -> None:
    mapping = InboundMapping(load_mapping(ATELIER), "status")
    changed, expected = BAD_ROWS[change]
    record = Record(7, {**HEADER, **changed}, "the raw line")
    got = mapping.map_record(record, source="STATUTS_x.csv", recorded_at=NOW)
    assert type(got).__name__ == expected
    planned, general = _both(mapping, record, "STATUTS_x.csv")
    assert planned == general


@pytest.mark.parametrize(
    ("changed", "kept"),
    [
        ({"Libellé": "fin\x00"}, False),
        ({"Commentaire": "note \x00"}, False),
        ({"Commentaire": "note \udce9"}, False),
        ({"Libellé": "\ud800 seul"}, False),
        ({"Commentaire": "Pièce HS", "Libellé": "Réparé"}, True),
        ({"Libellé": "Réparé \U0001f527 ✓"}, True),
        ({"Libellé": "Repaired"}, True),
    ],
)
def test_a_row_plan_keeps_texts_as_safe_text_does(changed: dict[str, str], kept: bool) -> None:
    """The row plan checks its texts for NUL and lone surrogates inline, as
    ``safe_text`` says (fifteenth pass of issue 17): what it refuses it hands on, and
    what it keeps is the general path's event."""
    mapping = InboundMapping(load_mapping(ATELIER), "status")
    columns = Columns(tuple(HEADER))
    plan = mapping.row_plan(columns)
    assert plan is not None
    fields = {**HEADER, **changed}
    cells = [fields[name] or "" for name in columns]
    event = plan(cells, NOW)
    assert (event is not None) == kept
    record = Record(7, {name: (fields[name] or None) for name in columns}, "the raw line")
    general = mapping.map_record_in_full(record, source="STATUTS_x.csv", recorded_at=NOW)
    if event is not None:
        assert _outcome(event) == _outcome(general)
    else:
        assert type(general).__name__ == "InvalidEvent"


def test_a_bad_row_names_its_file_line_and_field_by_either_path() -> None:
    mapping = InboundMapping(load_mapping(ATELIER), "status")
    record = Record(9, {**HEADER, "Date statut": "31/02/2026"}, "raw")
    rejected = mapping.map_record(record, source="S.csv", recorded_at=NOW)
    assert isinstance(rejected, PartnerDataError)
    assert (rejected.location.source, rejected.location.line) == ("S.csv", 9)
    assert rejected.location.field == "Date statut + Heure"
    assert "31/02/2026 16:05" in rejected.reason


TEXTS = st.sampled_from(
    [
        None,
        "",
        "  ",
        " ME-000123 ",
        "ME-000123",
        "REC",
        "TER",
        "25",
        "2026-11-03T10:00:00+01:00",
        "2026-11-03T10:00:00",
        "2026-11-03",
        "03/11/2026",
        "31/02/2026",
        "10:00",
        "101500",
        "03112026",
        "20261103101500",
        "12,50",
        "212.00",
        "0.00",
        "PP-1\nPP-2",
        "1\n2",
        "x",
        "-R",
        "PO-12",
        "CE123-R",
        "PEC 12",
        "x\x00",
        "\udce9t\u00e9",
        "é" * 3,
        "M" * 129,
        "L" * 2001,
        "Europe/Paris",
        "+02:00",
    ]
)


def _columns(mapping: InboundMapping) -> list[str]:
    names: list[str] = []
    for field in mapping.spec.fields.values():
        names.extend([field.column] if field.column else list(field.columns or ()))
    return names


def _mappings() -> list[InboundMapping]:
    return [InboundMapping(load_mapping(path), name) for path, name in MESSAGES]


MAPPINGS = _mappings()


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), index=st.integers(0, len(MAPPINGS) - 1))
def test_generated_records_give_what_the_general_path_gives(
    data: st.DataObject, index: int
) -> None:
    mapping = MAPPINGS[index]
    codes = st.sampled_from(sorted(mapping.codes) or ["X"])
    cell = st.one_of(TEXTS, codes, st.text(max_size=12))
    fields = {name: data.draw(cell, label=name) for name in _columns(mapping)}
    planned, general = _both(mapping, Record(3, fields, "raw line"))
    assert planned == general


OTHER_MAPPING = """\
version: 1
partner: some-partner
timezone: Europe/Paris
messages:
  status:
    direction: inbound
    codec: {type: csv, delimiter: ";", encoding: utf-8}
    event_type: shipment_status
    fields:
      partner_event_id: {column: id}
      case_ref: {column: ref, pattern: '^(.+?)(?:-R)?$'}
      shipment_leg: {column: ref, pattern: '(-R)$', values: {"-R": to_customer}, default: ""}
      tracking_number: {column: parcel, strip: false}
      occurred_at: {column: at, format: iso8601, required: true}
      raw_code: {column: code, required: true, strip: false}
      raw_label: {column: label, normalize_space: true}
      location_city: {column: city}
      location_country: {const: FR}
      signed_by: {column: signed, strip: false}
      note: {columns: [a, b], skip_empty: true}
      carrier_name: {const: "  "}
%s
    identity: [location_city, raw_label]
    codes: {LIV: delivered, "P*": picked_up, TRI: null}
"""


@pytest.mark.parametrize(
    "extra", ["", "      time_zone: {column: zone}", "      subject: {column: subject}"]
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_other_kinds_of_fields_give_what_the_general_path_gives(
    tmp_path_factory: pytest.TempPathFactory, extra: str, data: st.DataObject
) -> None:
    """Identity, partner event ids, patterns with defaults, texts kept as given, joined
    columns, codes by pattern, constants, a subject, a zone with each event (no plan)."""
    path = tmp_path_factory.mktemp("plan") / "some-partner.yaml"
    path.write_text(OTHER_MAPPING % extra, encoding="utf-8")
    mapping = InboundMapping(load_mapping(path), "status")
    assert (compile_plan(mapping) is None) == ("time_zone" in extra)
    cell = st.one_of(TEXTS, st.sampled_from(["LIV", "PCH", "TRI", "ZZZ", "E1", "a\tb  c"]))
    names = ["id", "ref", "parcel", "at", "code", "label", "city", "signed", "a", "b"]
    names += ["zone", "subject"]
    fields = {name: data.draw(cell, label=name) for name in names}
    planned, general = _both(mapping, Record(5, fields, "raw"))
    assert planned == general


OWN_NAME = re.compile(r"[vkcxKndTjp]\d+(_\d+)?|[A-Z_]+")
"""A name the writer makes: a letter and the target's number (a part's), or a constant's."""
OWN_NAMES = {
    "fields",
    "recorded_at",
    "get",
    "t",
    "status",
    "subject",
    "extra",
    "given",
    "read",
    "details",
    "event_id",
    "given_id",
    "said",
    "available",
    "type",
    "len",
    "str",
    "date",
    "datetime",
    "ValueProblem",
    "ValidationError",
    "KeyError",
    "statuses_get",
    "statuses",
    "by_pattern",
    "plan",
    "p",
}


@pytest.mark.parametrize("message", MESSAGES, ids=[f"{p.stem}-{n}" for p, n in MESSAGES])
def test_a_plan_s_source_holds_nothing_a_mapping_wrote(message: tuple[Path, str]) -> None:
    """Its names are its own (or bound constants of its own naming), its texts the event's
    field names and the few it writes; a column's name or a constant is bound, never
    written into the source."""
    path, name = message
    writer = _Writer(InboundMapping(load_mapping(path), name))
    assert writer.plan() is not None
    tree = ast.parse(writer.source)
    texts = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    allowed_texts = {*Event.model_fields, "", "\x00", None, True, False}
    assert {t for t in texts if not isinstance(t, int) or isinstance(t, bool)} <= allowed_texts
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in OWN_NAMES or OWN_NAME.fullmatch(node.id), node.id
        if isinstance(node, ast.Attribute):
            assert node.attr in {
                "get",
                "strip",
                "upper",
                "join",
                "isascii",
                "encode",
                "tzinfo",
                "_recorded",
                "recorded_kept",
            }


CSV_SAMPLES = [
    (path, message, sample) for path, message, sample in SAMPLES if sample.suffix == ".csv"
]


@pytest.mark.parametrize(
    ("path", "message", "sample"),
    CSV_SAMPLES,
    ids=[f"{p.stem}-{m}-{s.name}" for p, m, s in CSV_SAMPLES],
)
def test_a_codec_s_rows_are_its_records(path: Path, message: str, sample: Path) -> None:
    """decode_rows gives what decode gives, each record as its row after its columns,
    and row_record makes the very record of the row."""
    codec = build_codec(load_mapping(path).inbound(message))
    assert isinstance(codec, RowCodec)
    content = sample.read_bytes()
    rows = codec.decode_rows(content, source=sample.name)
    assert rows is not None
    made: list[object] = []
    columns = Columns()
    try:
        for item in rows:
            if isinstance(item, Columns):
                columns = item
            elif type(item) is tuple:
                made.append(codec.row_record(columns, item))
            else:
                made.append(item)
    except PartnerDataError as whole:
        made.append(("whole", whole.reason, whole.location))
    decoded: list[object] = []
    try:
        decoded.extend(codec.decode(content, source=sample.name))
    except PartnerDataError as whole:
        decoded.append(("whole", whole.reason, whole.location))
    assert [_record(item) for item in made] == [_record(item) for item in decoded]


def _record(item: object) -> object:
    if isinstance(item, Record):
        return (type(item), item.line, dict(item.fields), list(item.fields), item.raw)
    if isinstance(item, PartnerDataError):
        return (type(item), item.reason, item.location, item.raw)
    return item


@pytest.mark.parametrize(
    ("settings", "rows"),
    [
        ({}, True),
        ({"trailer": {"first_cell": "FIN", "columns": ["marker", "rows"]}}, False),
        (
            {
                "trailer": {"first_cell": "FIN", "columns": ["marker", "rows"]},
                "controls": {"count": {"record": "trailer", "field": "rows", "counts": ["row"]}},
            },
            False,
        ),
    ],
    ids=["plain", "a trailer", "file controls"],
)
def test_a_codec_with_a_trailer_or_file_controls_gives_no_rows(
    settings: dict[str, object], rows: bool
) -> None:
    """Its trailer and controls count the records: rows would go around them."""
    spec = CsvCodecSpec.model_validate({"encoding": "utf-8", "delimiter": ";", **settings})
    codec = codec_from_spec(spec, ("ref", "code"))
    assert (codec.decode_rows(b"ref;code\r\n", source="f.csv") is not None) == rows


def test_a_file_whose_columns_come_in_another_order_gives_the_same_events() -> None:
    """A row plan per columns' order: the same events as the file in the usual order,
    and what the general path gives for each."""
    spec = load_mapping(ATELIER)
    sample = ROOT / "fixtures" / "atelier-dupont" / "STATUTS_20261103_1415.csv"
    lines = sample.read_bytes().decode("latin-1").split("\r\n")
    swapped = []
    for line in lines:
        cells = line.split(";")
        if len(cells) > 4:
            cells[0], cells[4] = cells[4], cells[0]
        swapped.append(";".join(cells))
    content = "\r\n".join(swapped).encode("latin-1")
    mapping = InboundMapping(spec, "status")
    pipeline = InboundPipeline(build_codec(spec.inbound("status")), mapping)
    usual = list(pipeline.parse(sample.read_bytes(), source="f.csv", recorded_at=NOW))
    other = list(pipeline.parse(content, source="f.csv", recorded_at=NOW))
    assert len(mapping._row_plans) == 2
    general = InboundPipeline(pipeline.codec, _general(spec, "status"))
    alone = list(general.parse(content, source="f.csv", recorded_at=NOW))
    assert [_outcome(item) for item in other] == [_outcome(item) for item in alone]
    events = [item for item in usual if isinstance(item, Event)]
    assert events
    assert [_outcome(e) for e in events] == [_outcome(e) for e in other if isinstance(e, Event)]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), index=st.integers(0, len(MAPPINGS) - 1))
def test_generated_rows_give_what_the_general_path_gives(data: st.DataObject, index: int) -> None:
    """A row plan over generated cells (in a shuffled order of the columns): the event
    the general path makes of the row's record, or None where that path rejects."""
    mapping = MAPPINGS[index]
    names = list(dict.fromkeys(_columns(mapping)))
    columns = Columns(data.draw(st.permutations(names), label="columns"))
    plan = mapping.row_plan(columns)
    if plan is None:
        return  # a field only a record's fields can give: its records take the plan above
    codes = st.sampled_from(sorted(mapping.codes) or ["X"])
    cell = st.one_of(TEXTS, codes, st.text(max_size=12)).map(lambda text: text or "")
    cells = [data.draw(cell, label=name) for name in columns]
    record = Record(4, {c: (v or None) for c, v in zip(columns, cells, strict=True)}, "raw")
    general = mapping.map_record_in_full(record, source="f.csv", recorded_at=NOW)
    event = plan(cells, NOW)
    if event is not None:
        assert _outcome(event) == _outcome(general)
    else:
        assert _outcome(mapping.map_record(record, source="f.csv", recorded_at=NOW)) == _outcome(
            general
        )


def test_a_file_refused_whole_is_refused_as_by_records() -> None:
    """A header that is not the partner's, and a quote left open: read as rows, the same
    refusal and row errors as read as records."""
    spec = load_mapping(ATELIER)
    mapping = InboundMapping(spec, "status")
    codec = build_codec(spec.inbound("status"))
    sample = (ROOT / "fixtures" / "atelier-dupont" / "STATUTS_20261103_1415.csv").read_bytes()
    header, _, body = sample.partition(b"\r\n")
    for content in (
        header.replace(b"Heure", b"Heure locale") + b"\r\n" + body,
        sample + b'AD-1;ME-000123;03/11/2026;10:00;REC;"open\r\n',
    ):
        rows = list(InboundPipeline(codec, mapping).parse(content, source="f.csv", recorded_at=NOW))
        records = [
            mapping.map_record(item, source="f.csv", recorded_at=NOW)
            if isinstance(item, Record)
            else item
            for item in _records_then_refusal(codec, content)
        ]
        assert [_outcome(item) for item in rows] == [_outcome(item) for item in records]
        assert not isinstance(rows[-1], Event)


def _records_then_refusal(codec: object, content: bytes) -> list[object]:
    """What the pipeline maps when it reads records: the codec's items, a whole refusal
    as the pipeline words it."""
    items: list[object] = []
    try:
        items.extend(codec.decode(content, source="f.csv"))  # type: ignore[attr-defined]
    except PartnerDataError as whole:
        items.append(
            MessageRejected(
                WHOLE_MESSAGE_REJECTED + whole.reason, location=whole.location, raw=whole.raw
            )
        )
    return items


def _logic_digest(function: object) -> str:
    """A function's logic, as its syntax tree without its docstring: a new comment, a
    reworded docstring or a reformatting leaves it; a changed check does not."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    statements = "".join(ast.dump(statement) for statement in body)
    return hashlib.sha256(statements.encode()).hexdigest()[:16]


MIRRORED_CHECKS = {
    "MappedEvents.event": (MappedEvents.event, "911c6bf41690e4f7"),
    "_details_kept": (event_module._details_kept, "8188b0f3ab4c0c20"),
    "_safe": (event_module._safe, "be470abca7e78871"),
}
"""The model's checks that hub.mapping.plan states a second time in its generated code
(for the records it handles without the general path), each with its logic's digest
as it was when the plan last followed it."""


def test_a_change_to_the_checks_a_plan_restates_is_seen() -> None:
    """The plan states `MappedEvents.event`'s checks and the details' checks again (less
    what a mapping proves); a check added or changed in the model, and not in the plan,
    would let a plan keep an event the general path refuses, where no fixture reaches it.
    When this fails: make hub/mapping/plan.py check what the model now checks, run this
    file's equivalence tests, then pin the new digest here."""
    found = {name: _logic_digest(function) for name, (function, _) in MIRRORED_CHECKS.items()}
    pinned = {name: digest for name, (_, digest) in MIRRORED_CHECKS.items()}
    assert found == pinned, "the model's checks changed: follow them in hub/mapping/plan.py"
