"""Service levels as pure functions: the sheet's table, French business days, each step."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from hub.model import Event, EventDetails, EventType, Quote, ServiceLevelStatus, stable_event_id
from hub.model.case import ContractLevel
from hub.model.money import Money
from hub.model.work import QuoteDecision, Shipment, ShipmentLeg
from hub.sla.business_days import (
    COUNTED_YEARS,
    PARIS,
    business_deadline,
    calendar_deadline,
    counted_public_holidays,
    is_business_day,
    is_public_holiday,
    paris_date,
)
from hub.sla.compute import CaseServiceLevels, StepState, compute_service_levels
from hub.sla.levels import CONTRACT_LEVELS, LEGAL_ALLOWANCE, Allowance, Step
from tests.factories import case_event, make_case

WINTER = timezone(timedelta(hours=1))
SUMMER = timezone(timedelta(hours=2))
MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=WINTER)
"""Monday 2 November 2026; Wednesday 11 November is Armistice Day."""


def paris_midnight(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=PARIS)


def parcel(status: str, at: datetime, *, leg: ShipmentLeg | None = None) -> Event:
    tracking = "CE123456789FR" if leg is not ShipmentLeg.TO_CUSTOMER else "CE999000111FR"
    return Event(
        id=stable_event_id(
            reported_by="colis-express",
            case_ref="ME-000123",
            type=EventType.SHIPMENT_STATUS,
            raw_code=status,
            occurred_at=at,
            subject=tracking,
        ),
        case_ref="ME-000123",
        type=EventType.SHIPMENT_STATUS,
        status=status,
        occurred_at=at,
        reported_by="colis-express",
        raw_code=status.upper(),
        subject=tracking,
        details=EventDetails(shipment=Shipment(tracking_number=tracking, leg=leg)),
    )


def part(status: str, at: datetime) -> Event:
    return Event(
        id=f"pieces-plus:h:{status}-{at.isoformat()}",
        case_ref="ME-000123",
        type=EventType.PARTS_ORDER_STATUS,
        status=status,
        occurred_at=at,
        reported_by="pieces-plus",
        raw_code=status.upper(),
        subject="PO-2026-00015/1",
    )


def levels(
    events: list[Event],
    *,
    now: datetime,
    level: ContractLevel | None = ContractLevel.GOLD,
    **case: Any,
) -> CaseServiceLevels:
    """The service levels of ME-000123 (opened on MONDAY, commercial warranty, workshop)."""
    data = {"opened_at": MONDAY, "coverage": "commercial_warranty"} | case
    return compute_service_levels(make_case("ME-000123", **data), events, level, now=now)


# --- French business days, in Paris dates ---------------------------------------------


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (date(2026, 11, 2), True),  # Monday
        (date(2026, 11, 7), False),  # Saturday
        (date(2026, 11, 8), False),  # Sunday
        (date(2026, 11, 11), False),  # Armistice Day, a Wednesday
        (date(2026, 7, 14), False),  # Bastille Day, a Tuesday
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 4, 3), True),  # Good Friday is worked in metropolitan France
        (date(2026, 5, 14), False),  # Ascension Day
        (date(2027, 3, 29), False),  # Easter Monday the next year: computed, not listed
    ],
)
def test_business_days_are_weekdays_that_are_not_french_public_holidays(
    day: date, business: bool
) -> None:
    assert is_business_day(day) is business


def test_the_counted_holidays_are_the_holidays_packages_year_by_year() -> None:
    """The years counted from Easter (no import of every country's calendar at start)
    hold exactly the days the ``holidays`` package gives metropolitan France."""
    import holidays

    for year in COUNTED_YEARS:
        expected = frozenset(holidays.country_holidays("FR", years=year))
        assert counted_public_holidays(year) == expected, year


def test_a_year_outside_the_counted_ones_is_asked_of_the_package() -> None:
    assert 1980 not in COUNTED_YEARS
    assert is_public_holiday(date(1980, 5, 8)) is False  # a working day that year
    assert is_public_holiday(date(1980, 7, 14)) is True
    assert is_public_holiday(date(2006, 6, 5)) is False  # Whit Monday, worked 2005-2007


def test_a_weekend_is_skipped() -> None:
    friday = datetime(2026, 11, 6, 10, 0, tzinfo=WINTER)
    assert business_deadline(friday, 1) == paris_midnight(2026, 11, 10)  # end of Monday


def test_11_november_is_skipped() -> None:
    tuesday = datetime(2026, 11, 10, 16, 0, tzinfo=WINTER)
    assert business_deadline(tuesday, 1) == paris_midnight(2026, 11, 13)  # end of Thursday 12


def test_14_july_is_skipped() -> None:
    monday = datetime(2026, 7, 13, 15, 0, tzinfo=SUMMER)
    assert business_deadline(monday, 2) == paris_midnight(2026, 7, 17)  # Wed 15, Thu 16


def test_easter_monday_is_skipped() -> None:
    thursday = datetime(2026, 4, 2, 9, 0, tzinfo=SUMMER)
    assert business_deadline(thursday, 3) == paris_midnight(2026, 4, 9)  # Fri 3, Tue 7, Wed 8


def test_same_day_is_the_end_of_that_business_day_or_of_the_next_one() -> None:
    tuesday_morning = datetime(2026, 11, 3, 8, 0, tzinfo=WINTER)
    assert business_deadline(tuesday_morning, 0) == paris_midnight(2026, 11, 4)
    saturday = datetime(2026, 11, 7, 11, 0, tzinfo=WINTER)
    assert business_deadline(saturday, 0) == paris_midnight(2026, 11, 10)  # end of Monday
    armistice = datetime(2026, 11, 11, 9, 0, tzinfo=WINTER)
    assert business_deadline(armistice, 0) == paris_midnight(2026, 11, 13)


def test_deadlines_across_a_dst_change_end_at_paris_midnight() -> None:
    friday = datetime(2026, 3, 27, 12, 0, tzinfo=WINTER)  # clocks go forward on Sunday 29
    deadline = business_deadline(friday, 1)
    assert deadline == datetime(2026, 3, 30, 22, 0, tzinfo=UTC)  # midnight, summer time
    assert deadline.utcoffset() == timedelta(hours=2)
    opened = datetime(2026, 10, 20, 10, 0, tzinfo=SUMMER)  # clocks go back on Sunday 25
    assert calendar_deadline(opened, 15) == datetime(2026, 11, 4, 23, 0, tzinfo=UTC)


def test_a_time_in_another_offset_counts_in_its_paris_date() -> None:
    late_monday_utc = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # 00:30 on Tuesday in Paris
    assert paris_date(late_monday_utc) == date(2026, 11, 3)
    assert business_deadline(late_monday_utc, 1) == paris_midnight(2026, 11, 5)
    singapore = datetime(2026, 11, 3, 6, 0, tzinfo=timezone(timedelta(hours=8)))  # Mon 23:00
    assert business_deadline(singapore, 1) == paris_midnight(2026, 11, 4)


# --- the sheet's table -------------------------------------------------------------------

END_OF = {
    # From Monday 2 November 2026: business days Tue 3, Wed 4, Thu 5, Fri 6, Mon 9,
    # Tue 10, Thu 12 (11 November skipped), Fri 13, Mon 16, Tue 17.
    ("business", 0): date(2026, 11, 2),
    ("business", 1): date(2026, 11, 3),
    ("business", 2): date(2026, 11, 4),
    ("business", 3): date(2026, 11, 5),
    ("business", 5): date(2026, 11, 9),
    ("business", 7): date(2026, 11, 12),
    ("business", 10): date(2026, 11, 17),
    ("calendar", 10): date(2026, 11, 12),
    ("calendar", 15): date(2026, 11, 17),
    ("calendar", 21): date(2026, 11, 23),
    ("calendar", 30): date(2026, 12, 2),
}

SHEET = {
    ContractLevel.BRONZE: (3, 5, 10, 5, 30),
    ContractLevel.SILVER: (2, 3, 7, 3, 21),
    ContractLevel.GOLD: (1, 2, 5, 2, 15),
    ContractLevel.PLATINUM: (0, 1, 3, 1, 10),
}


@pytest.mark.parametrize("level", list(ContractLevel))
def test_each_level_gives_each_step_the_sheet_s_deadline(level: ContractLevel) -> None:
    steps = [Step.PICKUP, Step.DIAGNOSIS, Step.REPAIR, Step.PARTS, Step.TOTAL]
    for step, days in zip(steps, SHEET[level], strict=True):
        allowance = CONTRACT_LEVELS[level][step]
        kind = "calendar" if step is Step.TOTAL else "business"
        assert allowance == Allowance(days, business=kind == "business")
        end = END_OF[(kind, days)]
        assert allowance.deadline(MONDAY) == paris_midnight(end.year, end.month, end.day) + (
            timedelta(days=1)
        ), (level, step)
    assert LEGAL_ALLOWANCE.deadline(MONDAY) == paris_midnight(2026, 12, 3)


# --- each step, from a case's events -----------------------------------------------------


def test_pickup_runs_from_the_opening_of_a_workshop_case_to_the_carrier_s_first_scan() -> None:
    events = [parcel("info_received", MONDAY + timedelta(hours=1))]
    running = levels(events, now=MONDAY + timedelta(hours=20)).step(Step.PICKUP)
    assert running is not None
    assert running.state is StepState.RUNNING
    assert running.late_by is None
    assert running.deadline == paris_midnight(2026, 11, 4)  # Gold: one business day

    scanned = parcel("in_transit", datetime(2026, 11, 3, 17, 31, tzinfo=WINTER))
    met = levels([*events, scanned], now=MONDAY + timedelta(days=5)).step(Step.PICKUP)
    assert met is not None
    assert met.state is StepState.MET
    assert met.ended_at == scanned.occurred_at
    assert met.end_event_id == scanned.id


def test_a_pickup_never_scanned_breaches_and_says_how_late() -> None:
    now = datetime(2026, 11, 4, 9, 30, tzinfo=WINTER)
    pickup = levels([], now=now).step(Step.PICKUP)
    assert pickup is not None
    assert pickup.state is StepState.BREACHED
    assert pickup.late_by == timedelta(hours=9, minutes=30)
    assert pickup.ended_at is None


def test_pickup_starts_at_an_explicit_request_and_ends_at_in_transit_to_repairer() -> None:
    requested = case_event("pickup_requested", MONDAY + timedelta(days=1), code="ENL")
    taken = case_event("in_transit_to_repairer", datetime(2026, 11, 5, 9, 0, tzinfo=WINTER))
    pickup = levels(
        [requested, taken], now=MONDAY + timedelta(days=9), service="home_intervention"
    ).step(Step.PICKUP)
    assert pickup is not None
    assert pickup.start_event_id == requested.id
    assert pickup.deadline == paris_midnight(2026, 11, 5)  # Tuesday + 1 = end of Wednesday
    assert pickup.state is StepState.BREACHED
    assert pickup.late_by == timedelta(hours=9)


def test_a_home_intervention_has_no_pickup_step() -> None:
    result = levels([], now=MONDAY + timedelta(days=1), service="home_intervention")
    assert result.step(Step.PICKUP) is None
    assert result.step(Step.TOTAL) is not None


def test_the_return_parcel_does_not_count_as_the_pickup() -> None:
    back = parcel("in_transit", MONDAY + timedelta(hours=2), leg=ShipmentLeg.TO_CUSTOMER)
    pickup = levels([back], now=MONDAY + timedelta(hours=3)).step(Step.PICKUP)
    assert pickup is not None
    assert pickup.ended_at is None


def test_diagnosis_runs_from_received_to_diagnosing() -> None:
    received = case_event("received", datetime(2026, 11, 3, 9, 12, tzinfo=WINTER), code="REC")
    diagnosing = case_event("diagnosing", datetime(2026, 11, 6, 8, 0, tzinfo=WINTER), code="DIA")
    step = levels([received, diagnosing], now=MONDAY + timedelta(days=10)).step(Step.DIAGNOSIS)
    assert step is not None
    assert step.deadline == paris_midnight(2026, 11, 6)  # Gold: 2 business days, Wed 4, Thu 5
    assert step.state is StepState.BREACHED
    assert step.late_by == timedelta(hours=8)
    assert step.ended_at == diagnosing.occurred_at


def test_a_quote_without_a_diagnosing_event_ends_the_diagnosis() -> None:
    received = case_event("received", datetime(2026, 11, 3, 9, 0, tzinfo=WINTER), code="REC")
    quoted = case_event("quote_pending", datetime(2026, 11, 4, 9, 0, tzinfo=WINTER), code="DEV")
    step = levels([received, quoted], now=MONDAY + timedelta(days=10)).step(Step.DIAGNOSIS)
    assert step is not None
    assert step.state is StepState.MET
    assert step.end_event_id == quoted.id


def test_repair_runs_from_the_quote_s_acceptance_to_repaired() -> None:
    warranty_repair = case_event("in_repair", MONDAY + timedelta(days=1), code="REP")
    quoted = case_event("quote_pending", MONDAY + timedelta(days=2), code="DEV")
    accepted = case_event("in_repair", datetime(2026, 11, 5, 14, 0, tzinfo=WINTER), code="ACC")
    repaired = case_event("repaired", datetime(2026, 11, 12, 18, 0, tzinfo=WINTER), code="TER")
    step = levels(
        [warranty_repair, quoted, accepted, repaired], now=MONDAY + timedelta(days=20)
    ).step(Step.REPAIR)
    assert step is not None
    assert step.start_event_id == accepted.id  # not the in_repair before the quote
    assert step.deadline == paris_midnight(2026, 11, 14)  # Fri 6, Mon 9, Tue 10, Thu 12, Fri 13
    assert step.state is StepState.MET


def test_a_quote_marked_accepted_starts_the_repair() -> None:
    accepted = Event(
        id="techniservice:quote-accepted",
        case_ref="ME-000123",
        type=EventType.CASE_STATUS,
        status="quote_pending",
        occurred_at=MONDAY,
        reported_by="techniservice",
        raw_code="25",
        details=EventDetails(
            quote=Quote(
                amount_incl_tax=Money(amount="89.00", currency="EUR"),
                decision=QuoteDecision.ACCEPTED,
            )
        ),
    )
    step = levels([accepted], now=MONDAY + timedelta(hours=1)).step(Step.REPAIR)
    assert step is not None
    assert step.start_event_id == accepted.id
    assert step.state is StepState.RUNNING


def test_a_case_repaired_without_a_quote_has_no_repair_step() -> None:
    events = [
        case_event("in_repair", MONDAY + timedelta(days=1), code="REP"),
        case_event("repaired", MONDAY + timedelta(days=2), code="TER"),
    ]
    assert levels(events, now=MONDAY + timedelta(days=3)).step(Step.REPAIR) is None


def test_parts_run_from_waiting_parts_to_the_supplier_s_shipment() -> None:
    waiting = case_event("waiting_parts", datetime(2026, 11, 10, 11, 2, tzinfo=WINTER), code="ATP")
    shipped = part("shipped", datetime(2026, 11, 12, 15, 40, tzinfo=UTC))
    step = levels([waiting, shipped], now=MONDAY + timedelta(days=20)).step(Step.PARTS)
    assert step is not None
    assert step.deadline == paris_midnight(2026, 11, 14)  # Gold: 2 business days, Thu 12, Fri 13
    assert step.state is StepState.MET
    assert step.end_event_id == shipped.id


def test_a_cancelled_part_order_ends_the_parts_step() -> None:
    placed = part("acknowledged", datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    cancelled = part("cancelled", datetime(2026, 11, 9, 9, 0, tzinfo=UTC))
    step = levels([placed, cancelled], now=MONDAY + timedelta(days=20)).step(Step.PARTS)
    assert step is not None
    assert step.end_event_id == cancelled.id
    assert step.state is StepState.BREACHED  # Gold: due before Thursday 5 ended


def test_total_runs_until_the_product_is_back_with_the_customer() -> None:
    to_workshop = parcel("delivered", MONDAY + timedelta(days=1))  # the way there
    repaired = case_event("repaired", MONDAY + timedelta(days=6), code="TER")
    home = parcel("delivered", MONDAY + timedelta(days=8))  # the way back, no leg said
    total = levels([to_workshop], now=MONDAY + timedelta(days=7)).step(Step.TOTAL)
    assert total is not None
    assert total.ended_at is None
    assert total.deadline == paris_midnight(2026, 11, 18)  # Gold: 15 calendar days
    done = levels([to_workshop, repaired, home], now=MONDAY + timedelta(days=30)).step(Step.TOTAL)
    assert done is not None
    assert done.end_event_id == home.id
    assert done.state is StepState.MET


def test_the_legal_rule_breaches_after_30_days_whatever_the_contract() -> None:
    opened = datetime(2026, 10, 1, 14, 0, tzinfo=SUMMER)
    not_repairable = case_event("not_repairable", datetime(2026, 10, 20, 9, 0, tzinfo=SUMMER))
    common = {"opened_at": opened, "coverage": "legal_conformity", "service": "home_intervention"}
    on_day_30 = datetime(2026, 10, 31, 23, 59, tzinfo=WINTER)
    result = levels([not_repairable], now=on_day_30, level=ContractLevel.PLATINUM, **common)
    legal = result.step(Step.LEGAL)
    assert legal is not None
    assert legal.basis == "legal"
    assert legal.deadline == paris_midnight(2026, 11, 1)
    assert legal.state is StepState.RUNNING  # not repairable is not back in conformity
    after = levels([not_repairable], now=on_day_30 + timedelta(minutes=1), level=None, **common)
    assert [breach.step for breach in after.breaches] == [Step.LEGAL]


def test_a_retailer_without_a_level_gets_only_the_legal_rule() -> None:
    result = levels([], now=MONDAY + timedelta(days=40), level=None, coverage="legal_conformity")
    assert result.level is None
    assert [step.step for step in result.steps] == [Step.LEGAL]
    assert result.breaches[0].basis == "legal"
    assert levels([], now=MONDAY, level=None).steps == ()


def test_a_repair_under_legal_warranty_in_time_meets_the_legal_rule() -> None:
    repaired = case_event("repaired", MONDAY + timedelta(days=12), code="TER")
    result = levels([repaired], now=MONDAY + timedelta(days=60), coverage="legal_conformity")
    legal = result.step(Step.LEGAL)
    assert legal is not None
    assert legal.state is StepState.MET


def test_a_late_event_that_happened_in_time_closes_its_step_as_met() -> None:
    received = case_event("received", datetime(2026, 11, 3, 9, 0, tzinfo=WINTER), code="REC")
    now = datetime(2026, 11, 9, 12, 0, tzinfo=WINTER)
    before = levels([received], now=now).step(Step.DIAGNOSIS)
    assert before is not None
    assert before.state is StepState.BREACHED
    arrived_late = case_event(
        "diagnosing",
        datetime(2026, 11, 4, 16, 0, tzinfo=WINTER),
        code="DIA",
        recorded_at=datetime(2026, 11, 9, 11, 0, tzinfo=UTC),
    )
    after = levels([arrived_late, received], now=now).step(Step.DIAGNOSIS)
    assert after is not None
    assert after.state is StepState.MET
    assert after.late_by is None


def test_order_and_duplicates_do_not_change_the_result() -> None:
    events = [
        parcel("in_transit", MONDAY + timedelta(days=1)),
        case_event("received", MONDAY + timedelta(days=2), code="REC"),
        case_event("diagnosing", MONDAY + timedelta(days=3), code="DIA"),
        case_event("quote_pending", MONDAY + timedelta(days=3, hours=1), code="DEV"),
        case_event("in_repair", MONDAY + timedelta(days=4), code="ACC"),
        case_event("waiting_parts", MONDAY + timedelta(days=4, hours=2), code="ATP"),
        part("shipped", MONDAY + timedelta(days=9)),
        case_event("repaired", MONDAY + timedelta(days=12), code="TER"),
    ]
    now = MONDAY + timedelta(days=13)
    expected = levels(events, now=now, coverage="legal_conformity")
    assert [s.step for s in expected.steps] == list(Step)
    shuffled = [*events, *events[:3]]
    random.Random(7).shuffle(shuffled)
    assert levels(shuffled, now=now, coverage="legal_conformity") == expected


def test_the_hub_s_own_breach_events_are_not_measured() -> None:
    verdict = Event(
        id="hub:service-level:x",
        case_ref="ME-000123",
        type=EventType.SERVICE_LEVEL,
        status=ServiceLevelStatus.BREACHED,
        occurred_at=MONDAY + timedelta(days=2),
        reported_by="hub",
        raw_code="pickup",
    )
    with_verdict = levels([verdict], now=MONDAY + timedelta(days=3))
    assert with_verdict == levels([], now=MONDAY + timedelta(days=3))


def test_now_must_carry_an_offset() -> None:
    with pytest.raises(ValueError, match="aware"):
        levels([], now=datetime(2026, 11, 3, 9, 0))
