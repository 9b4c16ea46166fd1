"""The timeline's and the service levels' rules over stored rows read without pydantic
(hub.store.stored_events, hub.store.measured_rows) give what they give over the canonical
model's classes, on SQLite and PostgreSQL (issue 17): `hub cases show` and `hub sla`
pass rows, the ingestion, the API and the console models, to the same functions."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.model import (
    Case,
    Event,
    EventDetails,
    EventType,
    Money,
    Quote,
    QuoteDecision,
    Shipment,
    ShipmentLeg,
    stable_event_id,
)
from hub.model.terms import ContractLevel
from hub.model.timeline import CaseState, derive_case_state
from hub.sla.compute import compute_service_levels
from hub.store import plain_reads
from hub.store.cases import case_state, get_case, open_case
from hub.store.db import Database
from hub.store.event_rows import row_to_event
from hub.store.events import append_events, events_of_case
from hub.store.plain import PlainStore
from hub.store.stored_events import StoredDetails, StoredEvent, stored_event
from tests.factories import case_event, make_case, part_cancelled, register_network

ROOT = Path(__file__).resolve().parent.parent
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SUMMER = timezone(timedelta(hours=2))
WINTER = timezone(timedelta(hours=1))
FAR = timezone(timedelta(hours=-5, minutes=-30))
LATER = datetime(2026, 12, 20, 8, 0, tzinfo=UTC)
"""When the late events were recorded (the others on 20 November, the factory's)."""


def _event(
    case_ref: str,
    kind: EventType,
    status: str | None,
    at: datetime,
    *,
    by: str,
    code: str,
    subject: str | None = None,
    details: EventDetails | None = None,
    recorded_at: datetime | None = None,
    label: str | None = None,
) -> Event:
    return Event(
        id=stable_event_id(
            reported_by=by,
            case_ref=case_ref,
            type=kind,
            raw_code=code,
            occurred_at=at,
            subject=subject,
        ),
        case_ref=case_ref,
        partner_ref=f"{by.upper()}-{case_ref[-3:]}",
        type=kind,
        status=status,
        occurred_at=at,
        recorded_at=recorded_at or datetime(2026, 11, 20, tzinfo=UTC),
        reported_by=by,
        raw_code=code,
        raw_label=label,
        subject=subject,
        details=details or EventDetails(),
    )


def parcel(case_ref: str, status: str, at: datetime, leg: ShipmentLeg | None, **more: Any) -> Event:
    way = {ShipmentLeg.TO_CUSTOMER: "R", ShipmentLeg.PART_TO_REPAIRER: "P"}.get(leg, "A")
    tracking = f"CE{case_ref[-6:]}{way}FR"
    shipment = Shipment(tracking_number=tracking, leg=leg, carrier="colis-express")
    return _event(
        case_ref,
        EventType.SHIPMENT_STATUS,
        status,
        at,
        by="colis-express",
        code=status.upper()[:4],
        subject=tracking,
        details=EventDetails(shipment=shipment),
        **more,
    )


def parts(case_ref: str, status: str, at: datetime, **more: Any) -> Event:
    return _event(
        case_ref,
        EventType.PARTS_ORDER_STATUS,
        status,
        at,
        by="pieces-plus",
        code=status.upper(),
        subject=f"PO-{case_ref}/1",
        **more,
    )


def quoted(case_ref: str, status: str, at: datetime, decision: QuoteDecision | None) -> Event:
    amount = Money(amount=Decimal("89.90"), currency="EUR")
    quote = (
        Quote(amount_incl_tax=amount)
        if decision is None  # left at the model's default: stored without it
        else Quote(amount_incl_tax=amount, decision=decision)
    )
    return _event(
        case_ref,
        EventType.CASE_STATUS,
        status,
        at,
        by="atelier-dupont",
        code=f"Q-{status[:3]}",
        details=EventDetails(quote=quote, note="devis n° 12, é"),
        label="Devis",
    )


def own_words(case_ref: str, at: datetime) -> list[Event]:
    """The hub's own verdict and a correction of the record: never measured."""
    return [
        _event(
            case_ref, EventType.SERVICE_LEVEL, "breached", at, by="hub", code="pickup",
            subject="pickup", details=EventDetails(reason="gold"),
        ),
        _event(case_ref, EventType.CASE_RECORD, "corrected", at + HOUR, by="maison-electro",
               code="contact"),
    ]  # fmt: skip


def stories() -> dict[str, tuple[Case, list[Event]]]:
    """Five cases, three of them fixtures': open and settled ones, every coverage and
    service the rules tell apart, every step, events late, out of order, unmapped,
    in other offsets, and a quote left pending."""
    me123 = Case.model_validate_json((ROOT / "fixtures/cases/ME-000123.json").read_bytes())
    me130 = Case.model_validate_json((ROOT / "fixtures/cases/ME-000130.json").read_bytes())
    bm45 = Case.model_validate_json((ROOT / "fixtures/cases/BM-000045.json").read_bytes())
    me140 = make_case(
        "ME-000140",
        coverage="commercial_warranty",
        opened_at=datetime(2026, 11, 6, 17, 59, 59, 250_000, tzinfo=UTC),
    )
    me141 = make_case(
        "ME-000141",
        coverage="insurance",
        service="exchange",
        opened_at=datetime(2026, 11, 9, 8, 0, tzinfo=FAR),
    )
    a, h, b, d, e = (case.opened_at for case in (me123, me130, bm45, me140, me141))
    ref = "ME-000123"
    told = [
        (
            me123,
            [  # legal conformity, a workshop: every step, back to the customer
                case_event("pickup_requested", a + HOUR, case_ref=ref, by="maison-electro"),
                parcel(ref, "picked_up", a + DAY, ShipmentLeg.PART_TO_REPAIRER),
                parcel(ref, "picked_up", a + 2 * DAY, ShipmentLeg.TO_REPAIRER, recorded_at=LATER),
                case_event("received", a + 4 * DAY, case_ref=ref),
                case_event("diagnosing", (a + 4 * DAY).astimezone(SUMMER), case_ref=ref),
                quoted(ref, "quote_pending", a + 5 * DAY, None),
                quoted(ref, "waiting_parts", a + 6 * DAY, QuoteDecision.ACCEPTED),
                case_event("waiting_parts", a + 7 * DAY + HOUR, case_ref=ref),
                case_event("in_repair", a + 12 * DAY + 2 * HOUR, case_ref=ref),
                parts(ref, "placed", a + 7 * DAY + 2 * HOUR),
                parts(ref, "backordered", a + 8 * DAY),
                parts(ref, "shipped", a + 12 * DAY, recorded_at=LATER),
                case_event(None, a + 12 * DAY, case_ref=ref, code="ZZ9"),
                case_event("repaired", a + 13 * DAY, case_ref=ref),
                parcel(ref, "delivered", a + 15 * DAY, None),
                case_event("delivered", a + 15 * DAY + HOUR, case_ref=ref, by="colis-express"),
                *own_words(ref, a + 3 * DAY),
            ],
        ),
        (
            me130,
            [  # legal conformity, a home visit: refused, then settled
                case_event("visit_scheduled", h + DAY, case_ref="ME-000130", by="techniservice"),
                case_event("technician_on_site", h + 3 * DAY, case_ref="ME-000130"),
                case_event("not_repairable", h + 3 * DAY + HOUR, case_ref="ME-000130"),
                case_event("closed", h + 40 * DAY, case_ref="ME-000130", by="maison-electro"),
            ],
        ),
        (
            bm45,
            [  # no coverage: nothing but a pickup asked and codes no mapping knows
                case_event(
                    "pickup_requested", b + 2 * HOUR, case_ref="BM-000045", by="bricomarket"
                ),
                case_event(None, b + 3 * DAY, case_ref="BM-000045", code="??"),
                case_event(None, b + 3 * DAY, case_ref="BM-000045", code="?!", recorded_at=LATER),
            ],
        ),
        (
            me140,
            [  # the quote's answer said by `in_repair` after it; a part cancelled
                case_event("received", d + DAY, case_ref="ME-000140", recorded_at=LATER),
                quoted("ME-000140", "quote_pending", d + 6 * DAY, QuoteDecision.PENDING),
                case_event("in_repair", d + 7 * DAY, case_ref="ME-000140"),
                case_event("waiting_parts", d + 7 * DAY + HOUR, case_ref="ME-000140"),
                part_cancelled("ME-000140").model_copy(update={"occurred_at": d + 9 * DAY}),
                case_event("repaired", d + 15 * DAY, case_ref="ME-000140"),
                parcel("ME-000140", "available_for_pickup", d + 16 * DAY, ShipmentLeg.TO_CUSTOMER),
            ],
        ),
        (
            me141,
            [  # an exchange, settled
                case_event("exchanged", e + 6 * DAY, case_ref="ME-000141", by="maison-electro"),
            ],
        ),
    ]
    return {case.reference: (case, events) for case, events in told}


def store(database: Database) -> dict[str, Case]:
    """Each story stored in a shuffled order, every event twice (a copy recorded later
    with another label, in the same batch as the original or after it: the store keeps
    the original)."""
    register_network(database)
    told = stories()
    shuffle = random.Random(17)
    with database.transaction() as connection:
        for case, events in told.values():
            open_case(connection, case, now=datetime(2026, 11, 20, tzinfo=UTC))
            order = list(events)
            shuffle.shuffle(order)
            append_events(connection, order[: len(order) // 2])
            again = [
                e.model_copy(update={"recorded_at": LATER, "raw_label": "again"}) for e in order
            ]
            append_events(connection, [*order[len(order) // 2 :], *again])
    return {reference: case for reference, (case, _) in told.items()}


@pytest.fixture
def stored(database: Database) -> Iterator[tuple[Database, PlainStore, dict[str, Case]]]:
    cases = store(database)
    with PlainStore(database.engine.url.render_as_string(hide_password=False)) as plain:
        yield database, plain, cases


def facts(event: StoredEvent | Event) -> tuple[Any, ...]:
    """Everything an event holds, alike for a row and a model: the details as stored."""
    details = event.details
    written = (
        dict(details.written)
        if isinstance(details, StoredDetails)
        else details.model_dump(mode="json", exclude_defaults=True)
    )
    return (
        event.id,
        event.case_ref,
        event.partner_ref,
        event.type,
        type(event.status),
        event.status,
        event.occurred_at,
        event.occurred_at.utcoffset(),
        event.recorded_at,
        event.reported_by,
        event.raw_code,
        event.raw_label,
        event.subject,
        written,
        event.label,
        event.unmapped,
    )


def state_facts(state: CaseState[Any]) -> tuple[Any, ...]:
    return (
        state.status,
        state.status_at,
        None if state.status_at is None else state.status_at.utcoffset(),
        state.status_event_id,
        state.shipments,
        state.parts,
        state.unmapped,
        [facts(event) for event in state.timeline],
    )


def test_a_timeline_over_stored_rows_is_the_timeline_over_the_models(
    stored: tuple[Database, PlainStore, dict[str, Case]],
) -> None:
    database, plain, cases = stored
    for reference in cases:
        with database.transaction() as connection:
            models = case_state(connection, reference)
        rows = plain_reads.case_view(plain, reference, stored_event).state
        assert state_facts(rows) == state_facts(models), reference
        validated = plain_reads.case_view(plain, reference, row_to_event).state
        assert validated == models  # the models `cases show --json` writes
    shown = plain_reads.case_view(plain, "ME-000123", stored_event).state
    assert shown.status is not None
    assert shown.status.value == "delivered"
    assert shown.unmapped == 1
    assert {event.raw_label for event in shown.timeline} == {None, "Devis"}  # first copies
    assert len(shown.timeline) == len(stories()["ME-000123"][1]) + 1  # and `created`
    assert shown.shipments == {"CE000123PFR": "picked_up", "CE000123AFR": "delivered"}
    assert shown.parts == {"PO-ME-000123/1": "shipped"}


def test_copies_of_an_event_keep_the_earliest_recorded_both_ways(
    stored: tuple[Database, PlainStore, dict[str, Case]],
) -> None:
    """The rule's own de-duplication, given copies in memory (the store keeps one row
    an id): the earliest recorded copy is the fact, whatever the order they come in."""
    database, plain, _ = stored
    rows = list(plain_reads.case_view(plain, "ME-000123", stored_event).state.timeline)
    with database.transaction() as connection:
        record = get_case(connection, "ME-000123")
        assert record is not None
        models = events_of_case(connection, record.id)
    by_id = {model.id: model for model in models}
    earlier = datetime(2026, 11, 1, tzinfo=UTC)
    row_copies = [dataclasses.replace(row, recorded_at=earlier, raw_label="first") for row in rows]
    model_copies = [
        by_id[row.id].model_copy(update={"recorded_at": earlier, "raw_label": "first"})
        for row in rows
    ]
    for turn in range(3):
        shuffle = random.Random(turn)
        given_rows = [*rows, *row_copies, *rows]
        given_models = [*models, *model_copies, *models]
        shuffle.shuffle(given_rows)
        shuffle.shuffle(given_models)
        from_rows = derive_case_state(given_rows)
        from_models = derive_case_state(given_models)
        assert state_facts(from_rows) == state_facts(from_models)
        assert {event.raw_label for event in from_rows.timeline} == {"first"}


INSTANTS = [
    datetime(2026, 10, 28, 12, 0, tzinfo=UTC),
    datetime(2026, 11, 3, 9, 0, tzinfo=WINTER),
    datetime(2026, 11, 11, 23, 59, 59, 999_999, tzinfo=WINTER),
    datetime(2026, 11, 19, 0, 0, tzinfo=WINTER),
    datetime(2027, 1, 15, 6, 30, tzinfo=FAR),
]
"""Before, during and after the steps' deadlines (a microsecond before one midnight)."""


def test_service_levels_over_stored_rows_are_those_over_the_models(
    stored: tuple[Database, PlainStore, dict[str, Case]],
) -> None:
    """Each case (open and settled), each contract level and none, five instants: the
    steps measured on the plain rows (`hub sla`) are those measured on the models read
    through the Database, every event included (the rules leave out what they must)."""
    database, plain, cases = stored
    breached = set()
    for reference, case in cases.items():
        measured = plain_reads.measured_case(plain, reference)
        assert measured is not None
        assert measured.case.opened_at == case.opened_at
        assert measured.case.opened_at.utcoffset() == case.opened_at.utcoffset()
        with database.transaction() as connection:
            record = get_case(connection, reference)
            assert record is not None
            models = events_of_case(connection, record.id)
        left_out = {model.id for model in models} - {event.id for event in measured.events}
        assert len(left_out) == {"ME-000123": 3, "BM-000045": 2}.get(reference, 0)
        for level in (None, *ContractLevel):
            for now in INSTANTS:
                from_rows = compute_service_levels(measured.case, measured.events, level, now=now)
                expected = compute_service_levels(record.case, models, level, now=now)
                assert from_rows == expected, (reference, level, now)
                breached.update((reference, step.step.value) for step in expected.breaches)
    steps = {step for _, step in breached}
    assert steps == {"pickup", "diagnosis", "repair", "parts", "total", "legal"}
    open_ones = [one.case.reference for one in plain_reads.measured_open_cases(plain)]
    assert open_ones == ["ME-000123", "BM-000045", "ME-000140"]
