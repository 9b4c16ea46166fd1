"""Deriving a case's state from its events: a pure function of the event *set*.

Events arrive late, twice and out of order, so nothing here may depend on arrival.
The timeline is the events without duplicates, sorted by when they happened; the
current status is the last case status in that order. Because "last" is a maximum
over a set, a late event slots into the past and cannot drag the status backwards,
and the store can keep the maximum incrementally.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.model.event import Event, EventType
from hub.model.statuses import CaseStatus, PartsOrderStatus, ShipmentStatus

OrderKey = tuple[datetime, int, str]


def order_key(occurred_at: datetime, status_rank: int, event_id: str) -> OrderKey:
    """Total order of events: instant in UTC, then usual-path rank, then id.

    The rank only breaks ties between events stamped with the same instant (a workshop
    writing REC and DIA in the same minute); the id makes the order total.
    """
    return (occurred_at.astimezone(UTC), status_rank, event_id)


def event_order_key(event: Event) -> OrderKey:
    rank = -1 if event.status is None else event.status.rank
    return order_key(event.occurred_at, rank, event.id)


@dataclass(frozen=True)
class CaseState:
    """Everything derived from a case's events."""

    status: CaseStatus | None
    status_at: datetime | None
    status_event_id: str | None
    timeline: tuple[Event, ...]
    shipments: dict[str, ShipmentStatus] = field(default_factory=dict)
    parts: dict[str, PartsOrderStatus] = field(default_factory=dict)
    unmapped: int = 0


def unique_events(events: Iterable[Event]) -> list[Event]:
    """One event per id; if two copies differ, the earliest recorded one is the fact."""
    chosen: dict[str, Event] = {}
    for event in events:
        kept = chosen.get(event.id)
        if kept is None or _copy_key(event) < _copy_key(kept):
            chosen[event.id] = event
    return list(chosen.values())


def _copy_key(event: Event) -> tuple[datetime, str]:
    return (event.recorded_at.astimezone(UTC), event.model_dump_json())


def derive_case_state(events: Iterable[Event]) -> CaseState:
    """The case's timeline and current statuses, whatever order the events came in."""
    timeline = tuple(sorted(unique_events(events), key=event_order_key))
    status: CaseStatus | None = None
    status_at: datetime | None = None
    status_event_id: str | None = None
    shipments: dict[str, ShipmentStatus] = {}
    parts: dict[str, PartsOrderStatus] = {}
    unmapped = 0
    for event in timeline:
        if event.status is None:
            unmapped += 1
        elif isinstance(event.status, CaseStatus):
            status, status_at, status_event_id = event.status, event.occurred_at, event.id
        elif event.type is EventType.SHIPMENT_STATUS and event.subject:
            assert isinstance(event.status, ShipmentStatus)
            shipments[event.subject] = event.status
        elif event.type is EventType.PARTS_ORDER_STATUS and event.subject:
            assert isinstance(event.status, PartsOrderStatus)
            parts[event.subject] = event.status
    return CaseState(
        status=status,
        status_at=status_at,
        status_event_id=status_event_id,
        timeline=timeline,
        shipments=shipments,
        parts=parts,
        unmapped=unmapped,
    )
