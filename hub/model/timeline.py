"""Deriving a case's state from its events: a pure function of the event *set*.

Events arrive late, twice and out of order, so nothing here may depend on arrival.
The timeline is the events without duplicates, sorted by when they happened; the
current status is the last case status in that order. Because "last" is a maximum
over a set, a late event slots into the past and cannot drag the status backwards,
and the store can keep the maximum incrementally. The status *after* an event (what a
webhook says beside it) is the same rule at that event's place: ``status_as_of``.

The rules read an event through ``TimelineEvent``, which the canonical model's ``Event``
and a stored row read without pydantic (hub.store.stored_events) both satisfy: the
ingestion and the API derive a case's state from models, `hub cases show` from rows,
by the same functions (issue 17).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Generic, Protocol, TypeVar

from hub.model.statuses import AnyStatus, CaseStatus, EventType, PartsOrderStatus, ShipmentStatus

OrderKey = tuple[datetime, int, str]

Mark = TypeVar("Mark")


class TimelineEvent(Protocol):
    """What the timeline's rules read of an event (read-only)."""

    @property
    def id(self) -> str: ...

    @property
    def type(self) -> EventType: ...

    @property
    def status(self) -> AnyStatus | None: ...

    @property
    def occurred_at(self) -> datetime: ...

    @property
    def recorded_at(self) -> datetime: ...

    @property
    def subject(self) -> str | None: ...


Kept = TypeVar("Kept", bound=TimelineEvent)
"""An event as its caller holds it (a model, a stored row): given back as it came."""


def order_key(occurred_at: datetime, status_rank: int, event_id: str) -> OrderKey:
    """Total order of events: instant in UTC, then usual-path rank, then id.

    The rank only breaks ties between events stamped with the same instant (a workshop
    writing REC and DIA in the same minute); the id makes the order total.
    """
    return (occurred_at.astimezone(UTC), status_rank, event_id)


def event_order_key(event: TimelineEvent) -> OrderKey:
    rank = -1 if event.status is None else event.status.rank
    return order_key(event.occurred_at, rank, event.id)


def status_as_of(
    status_keys: Sequence[OrderKey], statuses: Sequence[Mark], key: OrderKey | None = None
) -> Mark | None:
    """The case's status once the event at ``key`` is in its timeline: the latest of its
    case statuses at or before ``key`` in the case's order (the current one when ``key``
    is None). The one statement of the rule, over plain values so that a caller holding
    stored rows needs no models: ``status_keys`` are the order keys of the case's
    case-status events, sorted, ``statuses`` what each one set (a status, or the event),
    in the same order. A late event slots into the past, so what it reports changes
    nothing after it; an unmapped one sets nothing.
    """
    found = len(status_keys) if key is None else bisect_right(status_keys, key)
    return statuses[found - 1] if found else None


def status_after(timeline: Iterable[TimelineEvent], event: TimelineEvent) -> CaseStatus | None:
    """The case's status once ``event`` is in its ``timeline`` (sorted, as
    ``derive_case_state`` gives it): what a webhook says beside the event."""
    keys: list[OrderKey] = []
    statuses: list[CaseStatus] = []
    for kept in timeline:
        if isinstance(kept.status, CaseStatus):
            keys.append(event_order_key(kept))
            statuses.append(kept.status)
    return status_as_of(keys, statuses, event_order_key(event))


@dataclass(frozen=True)
class CaseState(Generic[Kept]):
    """Everything derived from a case's events (the events as they were given)."""

    status: CaseStatus | None
    status_at: datetime | None
    status_event_id: str | None
    timeline: tuple[Kept, ...]
    shipments: dict[str, ShipmentStatus] = field(default_factory=dict)
    parts: dict[str, PartsOrderStatus] = field(default_factory=dict)
    unmapped: int = 0


def unique_events(events: Iterable[Kept]) -> list[Kept]:
    """One event per id; if two copies differ, the earliest recorded one is the fact."""
    chosen: dict[str, Kept] = {}
    for event in events:
        kept = chosen.get(event.id)
        if kept is None or _copy_key(event) < _copy_key(kept):
            chosen[event.id] = event
    return list(chosen.values())


def _copy_key(event: TimelineEvent) -> tuple[datetime, str]:
    """Copies recorded at the same instant are told apart by their whole text (``repr``:
    a model's or a stored row's, every field), so that the one kept never depends on the
    order they came in. The store keeps one row per id: its rows never meet here."""
    return (event.recorded_at.astimezone(UTC), repr(event))


def derive_case_state(events: Iterable[Kept]) -> CaseState[Kept]:
    """The case's timeline and current statuses, whatever order the events came in."""
    keyed = sorted(((event_order_key(e), e) for e in unique_events(events)), key=itemgetter(0))
    status_keys: list[OrderKey] = []
    status_marks: list[tuple[CaseStatus, Kept]] = []
    shipments: dict[str, ShipmentStatus] = {}
    parts: dict[str, PartsOrderStatus] = {}
    unmapped = 0
    for key, event in keyed:
        if event.status is None:
            unmapped += 1
        elif isinstance(event.status, CaseStatus):
            status_keys.append(key)
            status_marks.append((event.status, event))
        elif event.type is EventType.SHIPMENT_STATUS and event.subject:
            assert isinstance(event.status, ShipmentStatus)
            shipments[event.subject] = event.status
        elif event.type is EventType.PARTS_ORDER_STATUS and event.subject:
            assert isinstance(event.status, PartsOrderStatus)
            parts[event.subject] = event.status
    current = status_as_of(status_keys, status_marks)
    return CaseState(
        status=None if current is None else current[0],
        status_at=None if current is None else current[1].occurred_at,
        status_event_id=None if current is None else current[1].id,
        timeline=tuple(event for _, event in keyed),
        shipments=shipments,
        parts=parts,
        unmapped=unmapped,
    )
