"""A case's service levels from its events: a pure function, no database, no clock.

Each step starts at one canonical event and ends at the first later event that shows
it done (the rules, step by step, are in docs/service-levels.md). Events are read in
timeline order (hub.model.timeline), so late, duplicated and out-of-order events give
the same result as the same events in order, and a late event that happened before the
deadline closes its step as met. Deadlines count Paris dates (hub.sla.business_days).

The rules read a case and its events through the protocols below, which the canonical
model's ``Case`` and ``Event`` and the store's rows read without pydantic
(hub.store.measured_rows) both satisfy: one statement of every rule, whichever the
caller holds (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from hub.model.statuses import (
    FINAL_CASE_STATUSES,
    CaseStatus,
    EventType,
    PartsOrderStatus,
    ShipmentStatus,
)
from hub.model.terms import ContractLevel, Coverage, QuoteDecision, ServiceType, ShipmentLeg
from hub.model.timeline import (
    OrderKey,
    TimelineEvent,
    event_order_key,
    order_key,
    unique_events,
)
from hub.sla.business_days import PARIS
from hub.sla.levels import CONTRACT_LEVELS, LEGAL, LEGAL_ALLOWANCE, Allowance, Step


class CaseFacts(Protocol):
    """What the rules read of a case: whose it is, what pays, what is asked, when."""

    @property
    def reference(self) -> str: ...

    @property
    def retailer(self) -> str: ...

    @property
    def coverage(self) -> Coverage: ...

    @property
    def service(self) -> ServiceType: ...

    @property
    def opened_at(self) -> datetime: ...


class MeasuredShipment(Protocol):
    @property
    def leg(self) -> ShipmentLeg | None: ...


class MeasuredQuote(Protocol):
    @property
    def decision(self) -> QuoteDecision | None: ...


class MeasuredDetails(Protocol):
    """What the rules read of an event's details: a parcel's way, a quote's answer."""

    @property
    def shipment(self) -> MeasuredShipment | None: ...

    @property
    def quote(self) -> MeasuredQuote | None: ...


class MeasuredEvent(TimelineEvent, Protocol):
    """What the rules read of an event: the timeline's part and its details."""

    @property
    def details(self) -> MeasuredDetails: ...


class StepState(StrEnum):
    MET = "met"
    """Ended before its deadline."""
    RUNNING = "running"
    """Not ended, deadline still ahead."""
    BREACHED = "breached"
    """Ended at or after its deadline, or still running past it."""


@dataclass(frozen=True)
class StepLevel:
    """One step of a case measured against its deadline.

    ``deadline`` is exclusive: the step is due *before* it (midnight in Paris at the end
    of the last allowed day). ``late_by`` is how far past it the step ended, or, while
    it runs, how far past it ``now`` is; None when not late.
    """

    step: Step
    basis: str
    """The contract level that sets the deadline ("gold"...), or "legal"."""
    allowance: Allowance
    started_at: datetime
    start_event_id: str | None
    deadline: datetime
    ended_at: datetime | None
    end_event_id: str | None
    state: StepState
    late_by: timedelta | None

    @property
    def breached(self) -> bool:
        return self.state is StepState.BREACHED


@dataclass(frozen=True)
class CaseServiceLevels:
    """Every started step of a case, in the order of the sheet, as of ``now``."""

    case_ref: str
    retailer: str
    level: ContractLevel | None
    """None when the retailer has no contract level: only the legal rule applies."""
    coverage: Coverage
    now: datetime
    steps: tuple[StepLevel, ...]

    @property
    def breaches(self) -> tuple[StepLevel, ...]:
        return tuple(step for step in self.steps if step.breached)

    def step(self, step: Step) -> StepLevel | None:
        return next((level for level in self.steps if level.step is step), None)


@dataclass(frozen=True)
class _Mark:
    """Where a step starts or ends: an instant, its place in the timeline, its event."""

    at: datetime
    key: OrderKey
    event_id: str | None

    @classmethod
    def of(cls, key: OrderKey, event: MeasuredEvent) -> _Mark:
        return cls(event.occurred_at, key, event.id)


Predicate = Callable[[MeasuredEvent], bool]
Timeline = Sequence[tuple[OrderKey, MeasuredEvent]]
"""The measured events with their timeline keys, computed once, in timeline order."""

FINAL = FINAL_CASE_STATUSES

PICKED_UP = frozenset(
    {
        CaseStatus.IN_TRANSIT_TO_REPAIRER,
        CaseStatus.RECEIVED,
        CaseStatus.DIAGNOSING,
        CaseStatus.QUOTE_PENDING,
        CaseStatus.WAITING_PARTS,
        CaseStatus.IN_REPAIR,
        CaseStatus.REPAIRED,
        CaseStatus.NOT_REPAIRABLE,
        CaseStatus.QUOTE_DECLINED,
        CaseStatus.RETURN_IN_TRANSIT,
        CaseStatus.READY_FOR_PICKUP,
        CaseStatus.DELIVERED,
    }
)
"""Case statuses that can only come once the parcel has left the customer."""

CARRIER_HAS_IT = frozenset(
    {
        ShipmentStatus.PICKED_UP,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.FAILED_ATTEMPT,
        ShipmentStatus.AVAILABLE_FOR_PICKUP,
        ShipmentStatus.DELIVERED,
    }
)
"""Tracking statuses that say the carrier holds (or held) the parcel."""

DIAGNOSED = PICKED_UP - {CaseStatus.IN_TRANSIT_TO_REPAIRER, CaseStatus.RECEIVED}
"""Diagnosing, or any later stage of the workshop's path (a skipped diagnosing event)."""

REPAIR_DONE = frozenset(
    {
        CaseStatus.REPAIRED,
        CaseStatus.NOT_REPAIRABLE,
        CaseStatus.RETURN_IN_TRANSIT,
        CaseStatus.READY_FOR_PICKUP,
        CaseStatus.DELIVERED,
    }
)

WORK_RESUMED = REPAIR_DONE | {CaseStatus.IN_REPAIR}
"""After waiting for parts, the workshop going on says the part came."""

PART_ORDERED = frozenset(
    {PartsOrderStatus.PLACED, PartsOrderStatus.ACKNOWLEDGED, PartsOrderStatus.BACKORDERED}
)
PART_ANSWERED = frozenset(
    {PartsOrderStatus.SHIPPED, PartsOrderStatus.DELIVERED, PartsOrderStatus.CANCELLED}
)
"""Shipped (or delivered), or cancelled: nothing is left for the supplier to ship."""

SENT_BACK = frozenset(
    {
        CaseStatus.REPAIRED,
        CaseStatus.NOT_REPAIRABLE,
        CaseStatus.QUOTE_DECLINED,
        CaseStatus.RETURN_IN_TRANSIT,
    }
)
"""Once one of these is reached, a parcel delivered is the way back to the customer."""

AT_CUSTOMER = frozenset({CaseStatus.READY_FOR_PICKUP, CaseStatus.DELIVERED})
PARCEL_ARRIVED = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.AVAILABLE_FOR_PICKUP})
REFUSED = frozenset({CaseStatus.NOT_REPAIRABLE, CaseStatus.QUOTE_DECLINED})


def _case_in(statuses: Iterable[CaseStatus]) -> Predicate:
    wanted = frozenset(statuses)
    return lambda event: event.type is EventType.CASE_STATUS and event.status in wanted


def _parts_in(statuses: frozenset[PartsOrderStatus]) -> Predicate:
    return lambda event: event.type is EventType.PARTS_ORDER_STATUS and event.status in statuses


def _leg(event: MeasuredEvent) -> ShipmentLeg | None:
    shipment = event.details.shipment
    return None if shipment is None else shipment.leg


def _first(timeline: Timeline, predicate: Predicate, after: _Mark | None) -> _Mark | None:
    """The first event matching ``predicate`` that comes after ``after`` in the timeline."""
    for key, event in timeline:
        if (after is None or key > after.key) and predicate(event):
            return _Mark.of(key, event)
    return None


def _earliest(*marks: _Mark | None) -> _Mark | None:
    present = [mark for mark in marks if mark is not None]
    return min(present, key=lambda mark: mark.key) if present else None


def _opening(case: CaseFacts, timeline: Timeline) -> _Mark:
    """The case's opening: its ``created`` event, or the case's own opening instant."""
    created = _first(timeline, _case_in({CaseStatus.CREATED}), None)
    event_id = None if created is None else created.event_id
    return _Mark(case.opened_at, order_key(case.opened_at, -1, ""), event_id)


def _pickup(case: CaseFacts, timeline: Timeline) -> tuple[_Mark | None, _Mark | None]:
    start = _first(timeline, _case_in({CaseStatus.PICKUP_REQUESTED}), None)
    if start is None and case.service is ServiceType.WORKSHOP_REPAIR:
        start = _opening(case, timeline)  # the hub orders the pickup as the case opens
    if start is None:
        return None, None

    return start, _first(timeline, _picked_up, start)


_PICKED_UP_OR_SETTLED = _case_in(PICKED_UP | FINAL)


def _picked_up(event: MeasuredEvent) -> bool:
    if event.type is EventType.SHIPMENT_STATUS:
        return event.status in CARRIER_HAS_IT and _leg(event) in (None, ShipmentLeg.TO_REPAIRER)
    return _PICKED_UP_OR_SETTLED(event)


def _diagnosis(timeline: Timeline) -> tuple[_Mark | None, _Mark | None]:
    start = _first(timeline, _case_in({CaseStatus.RECEIVED}), None)
    if start is None:
        return None, None
    return start, _first(timeline, _case_in(DIAGNOSED | FINAL), start)


def _quote_accepted(event: MeasuredEvent) -> bool:
    quote = event.details.quote
    return quote is not None and quote.decision is QuoteDecision.ACCEPTED


def _repair(timeline: Timeline) -> tuple[_Mark | None, _Mark | None]:
    """From the quote's acceptance: an event whose quote says accepted, or else (as the
    partners' mappings say it: ACC, code 27) the first ``in_repair`` after a quote."""
    start = _first(timeline, _quote_accepted, None)
    if start is None:
        quoted = _first(timeline, _case_in({CaseStatus.QUOTE_PENDING}), None)
        if quoted is not None:
            start = _first(timeline, _case_in({CaseStatus.IN_REPAIR}), quoted)
    if start is None:
        return None, None
    return start, _first(timeline, _case_in(REPAIR_DONE | FINAL), start)


def _parts(timeline: Timeline) -> tuple[_Mark | None, _Mark | None]:
    start = _earliest(
        _first(timeline, _case_in({CaseStatus.WAITING_PARTS}), None),
        _first(timeline, _parts_in(PART_ORDERED), None),
    )
    if start is None:
        return None, None

    return start, _first(timeline, _part_answered, start)


_PART_SHIPPED_OR_CANCELLED = _parts_in(PART_ANSWERED)
_WORK_RESUMED_OR_SETTLED = _case_in(WORK_RESUMED | FINAL)


def _part_answered(event: MeasuredEvent) -> bool:
    return _PART_SHIPPED_OR_CANCELLED(event) or _WORK_RESUMED_OR_SETTLED(event)


def _total(case: CaseFacts, timeline: Timeline) -> tuple[_Mark, _Mark | None]:
    """From opening until the product is back with the customer, or the case is settled."""
    start = _opening(case, timeline)
    resolved = set(AT_CUSTOMER | FINAL)
    if case.service is ServiceType.HOME_INTERVENTION:
        resolved |= {CaseStatus.REPAIRED, CaseStatus.NOT_REPAIRABLE}  # nothing to carry back
    sent_back = _first(timeline, _case_in(SENT_BACK), start)
    resolved_status = _case_in(resolved)

    def back_with_customer(event: MeasuredEvent) -> bool:
        if event.type is EventType.SHIPMENT_STATUS:
            if event.status not in PARCEL_ARRIVED:
                return False
            leg = _leg(event)
            if leg is ShipmentLeg.TO_CUSTOMER:
                return True
            return leg is None and sent_back is not None and event_order_key(event) > sent_back.key
        return resolved_status(event)

    return start, _first(timeline, back_with_customer, start)


def _legal(case: CaseFacts, timeline: Timeline) -> tuple[_Mark, _Mark | None]:
    """From opening until the product is back in conformity (repaired), or the case is
    settled (exchanged, refunded, credit note, closed, cancelled)."""
    start = _opening(case, timeline)
    refused = False
    for key, event in timeline:
        if key <= start.key or event.type is not EventType.CASE_STATUS:
            continue
        if event.status in REFUSED:
            refused = True
        elif event.status is CaseStatus.REPAIRED or event.status in FINAL:
            return start, _Mark.of(key, event)
        elif event.status in REPAIR_DONE and not refused:
            return start, _Mark.of(key, event)  # sent back repaired without a "repaired" event
    return start, None


def _measure(
    step: Step,
    basis: str,
    allowance: Allowance,
    start: _Mark,
    end: _Mark | None,
    now: datetime,
) -> StepLevel:
    deadline = allowance.deadline(start.at).astimezone(PARIS)
    if end is not None:
        late = end.at.astimezone(UTC) - deadline.astimezone(UTC)
        state = StepState.BREACHED if late >= timedelta(0) else StepState.MET
    else:
        late = now.astimezone(UTC) - deadline.astimezone(UTC)
        state = StepState.BREACHED if late >= timedelta(0) else StepState.RUNNING
    return StepLevel(
        step=step,
        basis=basis,
        allowance=allowance,
        started_at=start.at,
        start_event_id=start.event_id,
        deadline=deadline,
        ended_at=None if end is None else end.at,
        end_event_id=None if end is None else end.event_id,
        state=state,
        late_by=late if state is StepState.BREACHED else None,
    )


def measurable(events: Iterable[MeasuredEvent]) -> list[tuple[OrderKey, MeasuredEvent]]:
    """The case's timeline for service levels: mapped events, the hub's own words (its
    verdicts, corrections and erasures of the case's record) left out."""
    own = (EventType.SERVICE_LEVEL, EventType.CASE_RECORD)
    kept = (e for e in events if e.status is not None and e.type not in own)
    return sorted(((event_order_key(e), e) for e in unique_events(kept)), key=lambda p: p[0])


def compute_service_levels(
    case: CaseFacts,
    events: Iterable[MeasuredEvent],
    level: ContractLevel | None,
    *,
    now: datetime,
) -> CaseServiceLevels:
    """Each started step of the case with its deadline, end and state as of ``now``.

    ``level`` is the retailer's contract level (None: only the legal rule, which applies
    when the case is covered by the legal conformity warranty).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    timeline = measurable(events)
    found: dict[Step, tuple[_Mark | None, _Mark | None]] = {
        Step.PICKUP: _pickup(case, timeline),
        Step.DIAGNOSIS: _diagnosis(timeline),
        Step.REPAIR: _repair(timeline),
        Step.PARTS: _parts(timeline),
        Step.TOTAL: _total(case, timeline),
    }
    steps: list[StepLevel] = []
    if level is not None:
        for step, allowance in CONTRACT_LEVELS[level].items():
            start, end = found[step]
            if start is not None:
                steps.append(_measure(step, level.value, allowance, start, end, now))
    if case.coverage is Coverage.LEGAL_CONFORMITY:
        start, end = _legal(case, timeline)
        steps.append(_measure(Step.LEGAL, LEGAL, LEGAL_ALLOWANCE, start, end, now))
    return CaseServiceLevels(
        case_ref=case.reference,
        retailer=case.retailer,
        level=level,
        coverage=case.coverage,
        now=now,
        steps=tuple(steps),
    )
