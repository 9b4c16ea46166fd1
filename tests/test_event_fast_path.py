"""The mapping's fast path builds exactly the events full validation builds.

An inbound mapping builds events and their details without pydantic's validation when
every value is already kept as given (hub.model.event.MappedEvents). These tests prove
it changes nothing: over every mapping and fixture the repository ships, and over
generated values, the fast path and full validation give equal events (same JSON, same
fields set), and the same rejects.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import StringConstraints, TypeAdapter, ValidationError
from pydantic_core import to_json

import hub.model.event as event_module
from hub.errors import PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.mapping.spec import InboundSpec
from hub.model.event import (
    Event,
    EventDetails,
    EventType,
    MappedEvents,
    mapped_details,
    stable_event_id,
)
from hub.model.statuses import CaseStatus, ShipmentStatus
from hub.model.work import PartsOrderLine, Quote
from hub.partners.ingest.pipeline import InboundPipeline, dry_run_line

ROOT = Path(__file__).resolve().parent.parent
RECORDED_AT = datetime(2026, 11, 3, 14, 15, tzinfo=UTC)


def _samples() -> list[tuple[Path, str, Path]]:
    """(mapping, inbound message, sample) for every fixture a shipped mapping reads."""
    found = []
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        mapping = load_mapping(path)
        folder = ROOT / "fixtures" / mapping.partner
        for name, spec in mapping.messages.items():
            if not isinstance(spec, InboundSpec) or not folder.is_dir():
                continue
            for sample in sorted(folder.iterdir()):
                if (
                    sample.is_file()
                    and ".expected" not in sample.name
                    and not sample.name.endswith((".tmp", ".part"))
                    and fnmatchcase(sample.name, spec.file_pattern or "*")
                ):
                    found.append((path, name, sample))
    return found


SAMPLES = _samples()


def _parse(mapping_path: Path, message: str, sample: Path) -> list[Event | PartnerDataError]:
    mapping = load_mapping(mapping_path)
    pipeline = InboundPipeline(
        build_codec(mapping.inbound(message)), InboundMapping(mapping, message)
    )
    return list(pipeline.parse(sample.read_bytes(), source=sample.name, recorded_at=RECORDED_AT))


def _same(fast: Event | PartnerDataError, full: Event | PartnerDataError) -> None:
    assert type(fast) is type(full)
    if isinstance(fast, Event):
        assert isinstance(full, Event)
        assert fast == full
        assert fast.model_dump_json() == full.model_dump_json()
        assert fast.model_dump(exclude_unset=True) == full.model_dump(exclude_unset=True)
        assert fast.model_fields_set == full.model_fields_set
        assert fast.details.model_fields_set == full.details.model_fields_set
        assert hash(fast) == hash(full)
        assert fast.details.is_empty() == full.details.is_empty()
    else:
        assert isinstance(full, PartnerDataError)
        assert (fast.reason, fast.location, fast.raw) == (full.reason, full.location, full.raw)


def test_every_shipped_mapping_has_samples_here() -> None:
    partners = {load_mapping(path).partner for path, _, _ in SAMPLES}
    assert len(SAMPLES) >= 20
    assert {"atelier-dupont", "techniservice", "colis-express"} <= partners


@pytest.mark.parametrize(
    ("mapping", "message", "sample"),
    SAMPLES,
    ids=[f"{m.stem}-{n}-{s.name}" for m, n, s in SAMPLES],
)
def test_fast_path_builds_what_validation_builds(
    mapping: Path, message: str, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = {"events": 0}
    trusted = event_module._trusted

    def counting(model: Any, fields: dict[str, Any], fields_set: set[str]) -> Any:
        taken["events"] += model is Event
        return trusted(model, fields, fields_set)

    with monkeypatch.context() as patched:
        patched.setattr(event_module, "_trusted", counting)
        fast = _parse(mapping, message, sample)
    with monkeypatch.context() as patched:
        patched.setattr(event_module.MappedEvents, "_steady_parts_kept", lambda self: False)
        patched.setattr(event_module, "_details_kept", lambda given: False)
        full = _parse(mapping, message, sample)
    assert len(fast) == len(full)
    for one, other in zip(fast, full, strict=True):
        _same(one, other)
    events = sum(isinstance(item, Event) for item in fast)
    assert taken["events"] == events, "every event of a shipped sample takes the fast path"


@pytest.mark.parametrize(
    ("mapping", "message", "sample"),
    SAMPLES,
    ids=[f"{m.stem}-{n}-{s.name}" for m, n, s in SAMPLES],
)
def test_a_dry_run_line_is_what_model_dump_json_wrote(
    mapping: Path, message: str, sample: Path
) -> None:
    """The dry run's bytes are the JSON it printed before, as UTF-8, one line each; and
    the type and status, written as text, are what pydantic writes of an enum member
    (its value), while ``model_dump`` still gives the members."""
    events = [item for item in _parse(mapping, message, sample) if isinstance(item, Event)]
    for event in events:
        line = event.model_dump_json(exclude={"recorded_at"}) + "\n"
        assert dry_run_line(event) == line.encode()
        dumped = event.model_dump(exclude={"recorded_at"})
        assert type(dumped["type"]) is EventType
        assert dumped["status"] is event.status
        assert to_json(dumped) + b"\n" == dry_run_line(event)


PARIS = timezone(timedelta(hours=1))
_texts = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", " ME-1", "ME-1 ", "ME\x001", "\udcff", "x" * 129, "x" * 2001, "\u3000a"]),
)
_instants = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, PARIS, timezone(timedelta(hours=-14))])),
    st.sampled_from(
        [
            datetime(2026, 1, 1, 12),
            datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=14, minutes=30))),
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    partner_event_id=st.one_of(
        st.none(), st.text(max_size=5), st.sampled_from(["", "x" * 190, "a\x00", "\udcff", "a:b"])
    ),
    case_ref=_texts,
    partner_ref=_texts,
    subject=_texts,
    raw_code=_texts,
    raw_label=_texts,
    status=st.sampled_from([None, CaseStatus.RECEIVED, ShipmentStatus.DELIVERED]),
    occurred_at=_instants,
    recorded_at=st.sampled_from(
        [RECORDED_AT, datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=PARIS)]
    ),
    extra=st.one_of(st.none(), st.text(max_size=4)),
    reported_by=st.sampled_from(["atelier-dupont", " atelier-dupont", "Atelier", "a" * 65]),
    event_type=st.sampled_from([EventType.CASE_STATUS, EventType.SHIPMENT_STATUS]),
)
def test_a_message_s_events_are_mapped_event_s(
    partner_event_id: str | None, extra: str | None, event_type: EventType, **values: Any
) -> None:
    """Generated values, good and bad: MappedEvents gives the event full validation
    gives (``Event(id=stable_event_id(...), ...)``), or the same validation error,
    whatever the values, the type and the partner's id."""
    events = MappedEvents(event_type, values["reported_by"])
    fields = dict(values, type=event_type, details=EventDetails())
    raw_code, status = values["raw_code"], values["status"]
    if isinstance(values["occurred_at"], datetime) and values["occurred_at"].tzinfo is None:
        return  # an id needs an aware instant (the mapping's instants always are)
    identity = {
        name: fields[name]
        for name in ("reported_by", "case_ref", "partner_ref", "type", "raw_code", "subject")
    }
    try:
        event_id = stable_event_id(
            **identity,
            partner_event_id=partner_event_id,
            occurred_at=values["occurred_at"],
            extra=extra,
        )
        expected: Event | str = Event(id=event_id, **fields)
    except ValidationError as error:
        expected = str(error)
    except UnicodeEncodeError as error:  # a lone surrogate has no UTF-8 to hash
        expected = repr(error)
    for _ in range(2):  # the second time with the message's recorded_at already seen
        try:
            actual: Event | str = events.event(
                partner_event_id,
                values["case_ref"],
                values["partner_ref"],
                raw_code,
                status,
                values["occurred_at"],
                values["recorded_at"],
                values["raw_label"],
                values["subject"],
                extra,
                fields["details"],
            )
        except ValidationError as error:
            actual = str(error)
        except UnicodeEncodeError as error:
            actual = repr(error)
        if isinstance(expected, Event):
            assert isinstance(actual, Event)
            _same(actual, expected)
            assert actual.id == event_id
        else:
            assert actual == expected


@settings(max_examples=200, deadline=None)
@given(
    note=_texts,
    serial_number=_texts,
    parts_order_id=_texts,
    signed_by=_texts,
    eta=st.one_of(st.none(), st.dates(), st.just(datetime(2026, 1, 1))),
    parts=st.sampled_from([None, (PartsOrderLine(line_no=1, sku="P-1"),), ("P-1",)]),
    quote=st.sampled_from([None, {"amount_incl_tax": {"amount": "1", "currency": "EUR"}}]),
)
def test_mapped_details_are_details_or_their_error(**values: Any) -> None:
    given_values = {name: value for name, value in values.items() if value is not None}
    if values["quote"] is not None:
        given_values["quote"] = Quote.model_validate(values["quote"])
    try:
        expected: EventDetails | str = EventDetails(**given_values)
    except ValidationError as error:
        expected = str(error)
    try:
        actual: EventDetails | str = mapped_details(dict(given_values))
    except ValidationError as error:
        actual = str(error)
    if isinstance(expected, EventDetails):
        assert isinstance(actual, EventDetails)
        assert actual == expected
        assert actual.model_dump_json() == expected.model_dump_json()
        assert actual.model_fields_set == expected.model_fields_set
    else:
        assert actual == expected


def test_whitespace_pydantic_strips_is_whitespace_python_strips() -> None:
    """The fast path keeps text unchanged by str.strip(); that must mean pydantic's
    stripping keeps it too, for every character that could end a reference."""
    stripping: TypeAdapter[str] = TypeAdapter(
        Annotated[str, StringConstraints(strip_whitespace=True)]
    )
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        if char.isspace():
            continue
        if code > 0x3100 and not (0xFE00 <= code <= 0xFEFF):
            continue  # no whitespace of any kind lives past U+3000 but the BOM's block
        assert stripping.validate_python(f"a{char}") == f"a{char}", hex(code)


def test_an_event_of_the_fast_path_is_a_usual_event() -> None:
    at = datetime(2026, 11, 3, 9, 12, tzinfo=PARIS)
    event = MappedEvents(EventType.CASE_STATUS, "atelier-dupont").event(
        None,
        "ME-000123",
        None,
        "REC",
        CaseStatus.RECEIVED,
        at,
        RECORDED_AT,
        "Reçu atelier",
        None,
        None,
        mapped_details({"eta": date(2026, 11, 5), "note": "ok"}),
    )
    assert Event.model_validate_json(event.model_dump_json()) == event
    assert event.model_copy(update={"case_ref": "ME-1"}).case_ref == "ME-1"
    with pytest.raises(ValidationError):
        event.__setattr__("case_ref", "ME-2")  # frozen as ever
    assert event.details.eta == date(2026, 11, 5)
    assert event.occurred_at_utc == at.astimezone(UTC)


def _id_as_it_was(
    *,
    reported_by: str,
    partner_event_id: str | None = None,
    case_ref: str | None = None,
    partner_ref: str | None = None,
    type: EventType,
    raw_code: str | None,
    status: str | None = None,
    occurred_at: datetime,
    subject: str | None = None,
    extra: str | None = None,
) -> str:
    """stable_event_id as it was written before it was made faster: ids never change."""
    if partner_event_id:
        return f"{reported_by}:{partner_event_id}"
    parts: tuple[str | None, ...] = (
        reported_by,
        case_ref,
        partner_ref,
        type.value,
        raw_code if raw_code is not None else status,
        occurred_at.astimezone(UTC).isoformat(),
        subject,
    )
    if extra is not None:
        parts = (*parts, extra)
    identity = "\x1f".join("\x00" if part is None else part for part in parts)
    return f"{reported_by}:h:{hashlib.sha256(identity.encode()).hexdigest()[:40]}"


_maybe = st.one_of(st.none(), st.text(max_size=6), st.just(""))


@settings(max_examples=400, deadline=None)
@given(
    reported_by=st.sampled_from(["atelier-dupont", "techniservice"]),
    partner_event_id=_maybe,
    case_ref=_maybe,
    partner_ref=_maybe,
    type=st.sampled_from(list(EventType)),
    raw_code=_maybe,
    status=st.one_of(st.none(), st.sampled_from([CaseStatus.RECEIVED, "received"])),
    occurred_at=_instants.filter(lambda at: at.tzinfo is not None),
    subject=_maybe,
    extra=_maybe,
)
def test_stable_ids_are_the_ids_they_were(**values: Any) -> None:
    assert stable_event_id(**values) == _id_as_it_was(**values)


def test_shared_quotes_and_parts_lines_are_what_validation_makes() -> None:
    from decimal import Decimal

    from hub.mapping.inbound import _part_line, _quote
    from hub.model.money import Money
    from hub.model.statuses import PartsOrderStatus

    written = [_quote(str(Decimal(text)), "EUR") for text in ("212.00", "212.0", "212.00")]
    assert [str(q.amount_incl_tax.amount) for q in written] == ["212.00", "212.0", "212.00"]
    assert written[0] is written[2]
    assert written[0] == Quote(amount_incl_tax=Money(amount=Decimal("212.00"), currency="EUR"))
    with pytest.raises(ValidationError):
        _quote("1.005", "EUR")  # three decimals: refused every time, never kept
    line = _part_line(1, "PP-1", 2, "placed", None)
    assert line == PartsOrderLine(line_no=1, sku="PP-1", quantity=2)
    assert _part_line(1, "PP-1", 2, PartsOrderStatus.PLACED, None) is line
    assert _part_line(1, "PP-1", 2, "placed", date(2026, 1, 2)).eta == date(2026, 1, 2)


@settings(max_examples=300, deadline=None)
@given(
    at=_instants.filter(lambda at: at.tzinfo is not None),
    later=st.tuples(st.integers(0, 59), st.integers(0, 59), st.integers(0, 1)),
)
def test_an_id_s_instant_is_its_utc_isoformat(at: datetime, later: tuple[int, int, int]) -> None:
    """The instant's text in an id is ``isoformat`` in UTC: the first time of its hour,
    again, and at another minute and second of the same hour (its hour's text kept)."""
    minute, second, microsecond = later
    again = at.replace(minute=minute, second=second, microsecond=microsecond)
    for instant in (at, at, again):
        try:
            expected = instant.astimezone(UTC).isoformat()
        except OverflowError:  # past year 9999 in UTC: no id either way
            with pytest.raises(OverflowError):
                event_module._utc_text(instant)
            continue
        assert event_module._utc_text(instant) == expected


@pytest.mark.parametrize("model", [Event, EventDetails])
def test_a_trusted_instance_is_set_through_the_slots_setattr_would_find(model: Any) -> None:
    """``_trusted`` calls the slots' setters directly (thirteenth pass of issue 17): the
    models must define no ``__new__`` and resolve each slot to pydantic's own, or the
    setters would skip what ``object.__setattr__`` finds."""
    from inspect import getattr_static

    from pydantic import BaseModel

    assert model.__new__ is object.__new__
    for name in event_module._TRUSTED_SLOTS:
        assert getattr_static(model, name) is BaseModel.__dict__[name]
    fields = dict(model.model_construct().__dict__)
    trusted = event_module._trusted(model, fields, {"id"})
    assert type(trusted) is model
    assert trusted.__dict__ is fields
    assert trusted.__pydantic_fields_set__ == {"id"}
    assert trusted.__pydantic_extra__ is None
    assert trusted.__pydantic_private__ is None
    constructed = model.model_construct(_fields_set={"id"}, **fields)
    assert trusted == constructed
    assert trusted.__pydantic_fields_set__ == constructed.__pydantic_fields_set__


def test_trusted_events_share_one_fields_set_no_caller_can_change() -> None:
    """Every trusted event holds the one set of every field (fifteenth pass of issue
    17): what pydantic does with an event's fields set (a copy with ``model_copy``, a
    pickle) leaves it whole, and a change to it is refused rather than made for every
    event at once."""
    import copy
    import pickle

    events = [
        item
        for path, message, sample in SAMPLES
        if "atelier-dupont" in path.name
        for item in _parse(path, message, sample)
        if isinstance(item, Event)
    ]
    assert len(events) >= 2
    shared = events[0].__pydantic_fields_set__
    assert all(event.__pydantic_fields_set__ is shared for event in events)
    assert shared == set(Event.model_fields)

    changed = events[0].model_copy(update={"case_ref": "ME-OTHER"})
    assert type(changed.__pydantic_fields_set__) is set
    assert changed.__pydantic_fields_set__ == set(Event.model_fields)
    deep = events[0].model_copy(deep=True)
    assert type(deep.__pydantic_fields_set__) is set
    assert deep == events[0]
    unpickled = pickle.loads(pickle.dumps(events[0]))
    assert unpickled == events[0]
    assert type(unpickled.__pydantic_fields_set__) is set
    assert type(copy.copy(shared)) is set

    with pytest.raises(ValidationError):
        events[0].case_ref = "ME-OTHER"  # type: ignore[misc]  # frozen: refused first
    for change in (
        lambda: shared.add("x"),
        lambda: shared.discard("id"),
        lambda: shared.remove("id"),
        shared.pop,
        shared.clear,
        lambda: shared.update({"x"}),
        lambda: shared.difference_update({"id"}),
        lambda: shared.intersection_update({"id"}),
        lambda: shared.symmetric_difference_update({"id"}),
        lambda: shared.__ior__({"x"}),
        lambda: shared.__iand__({"id"}),
        lambda: shared.__isub__({"id"}),
        lambda: shared.__ixor__({"id"}),
    ):
        with pytest.raises(TypeError):
            change()
    assert shared == set(Event.model_fields)
    assert set(events[0].model_dump(exclude_unset=True)) == set(Event.model_fields)


@pytest.mark.parametrize(
    ("amount", "currency"), [("424.83", "EUR"), ("0", "USD"), ("212.0", "EUR"), ("-1.5", "GBP")]
)
def test_a_quote_validated_as_one_document_is_the_quote_of_its_money(
    amount: str, currency: str
) -> None:
    """``_quote`` validates the money inside the quote (thirteenth pass of issue 17): the
    same quote as the two models built one in the other, and the same refusals."""
    from decimal import Decimal

    from hub.mapping.inbound import _quote
    from hub.model.money import Money

    made = _quote.__wrapped__(amount, currency)
    expected = Quote(amount_incl_tax=Money(amount=Decimal(amount), currency=currency))
    assert made == expected
    assert made.model_fields_set == expected.model_fields_set
    assert made.amount_incl_tax.model_fields_set == expected.amount_incl_tax.model_fields_set
    assert str(made.amount_incl_tax.amount) == str(expected.amount_incl_tax.amount)
    assert made.model_dump_json() == expected.model_dump_json()


@pytest.mark.parametrize(("amount", "currency"), [("1.234", "EUR"), ("1", "eur")])
def test_a_quote_the_money_refuses_is_refused(amount: str, currency: str) -> None:
    from hub.mapping.inbound import _quote

    with pytest.raises(ValidationError):
        _quote.__wrapped__(amount, currency)


@pytest.mark.parametrize("status", ["placed", "shipped", "delivered"])
def test_a_parts_line_reads_its_status_as_the_enum_does(status: str) -> None:
    from hub.mapping.inbound import _part_line
    from hub.model.statuses import PartsOrderStatus

    for given_status in (status, PartsOrderStatus(status)):
        made = _part_line.__wrapped__(2, "PP-12345", 3, given_status, date(2026, 11, 4))
        expected = PartsOrderLine(
            line_no=2,
            sku="PP-12345",
            quantity=3,
            status=PartsOrderStatus(status),
            eta=date(2026, 11, 4),
        )
        assert made == expected
        assert made.status is PartsOrderStatus(status)
        assert made.model_fields_set == expected.model_fields_set
    with pytest.raises(ValidationError):
        _part_line.__wrapped__(1, "PP-1", 1000, "placed", None)
