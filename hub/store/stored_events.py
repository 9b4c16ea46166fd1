"""A stored event as the rules read it, without pydantic: what `hub cases show` lists and
what the service levels measure (hub.model.timeline and hub.sla.compute take it as they
take the canonical model's ``Event``). Its values were validated on the way in; a read
gives them back typed, as the model would hold them, and checks nothing again (issue 17).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hub.model.statuses import STATUS_SETS, AnyStatus, EventType, Label
from hub.model.terms import QuoteDecision, ShipmentLeg

__all__ = [
    "StoredDetails",
    "StoredEvent",
    "StoredQuote",
    "StoredShipment",
    "measured_event",
    "stored_details",
    "stored_event",
]


@dataclass(frozen=True, slots=True)
class StoredShipment:
    """Of a stored parcel, what the service levels read: which way it travels."""

    leg: ShipmentLeg | None


@dataclass(frozen=True, slots=True)
class StoredQuote:
    """Of a stored quote, what the service levels read: its answer."""

    decision: QuoteDecision | None
    """None where the quote was left at the model's default (pending): details are
    stored without their defaults (hub.store.bulk.details_json)."""


@dataclass(frozen=True, slots=True)
class StoredDetails:
    """An event's details as stored (what differs from the model's defaults), with the
    parcel's way and the quote's answer read out of them once."""

    written: Mapping[str, Any]
    shipment: StoredShipment | None
    quote: StoredQuote | None


_NO_DETAILS = StoredDetails({}, None, None)


def stored_details(written: Mapping[str, Any] | None) -> StoredDetails:
    """The details column's document (None: nothing came with the status)."""
    if not written:
        return _NO_DETAILS
    shipment = written.get("shipment")
    quote = written.get("quote")
    return StoredDetails(
        written,
        None if shipment is None else StoredShipment(_leg(shipment.get("leg"))),
        None if quote is None else StoredQuote(_decision(quote.get("decision"))),
    )


def _leg(value: str | None) -> ShipmentLeg | None:
    return None if value is None else ShipmentLeg(value)


def _decision(value: str | None) -> QuoteDecision | None:
    return None if value is None else QuoteDecision(value)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event read from the ``events`` table: the model's ``Event`` fields, typed."""

    id: str
    case_ref: str | None
    partner_ref: str | None
    type: EventType
    status: AnyStatus | None
    occurred_at: datetime
    """With the offset the partner gave, as the model holds it."""
    recorded_at: datetime
    reported_by: str
    raw_code: str | None
    raw_label: str | None
    subject: str | None
    details: StoredDetails

    @property
    def unmapped(self) -> bool:
        """True when no mapping knew the partner's code (as ``Event.unmapped``)."""
        return self.status is None

    @property
    def label(self) -> Label | None:
        return None if self.status is None else self.status.label


def stored_event(row: Any) -> StoredEvent:
    """The event of a row with the ``events`` table's columns by name."""
    return _event(row, row.partner_ref, row.raw_label)


def measured_event(row: Any) -> StoredEvent:
    """The event of a row of the measured columns (hub.store.service_levels), which
    leave out the partner's reference and raw label: the service levels read neither."""
    return _event(row, None, None)


def _event(row: Any, partner_ref: str | None, raw_label: str | None) -> StoredEvent:
    event_type = EventType(row.type)
    status = row.status
    zone = timezone(timedelta(minutes=row.occurred_offset_minutes))
    return StoredEvent(
        id=row.event_id,
        case_ref=row.case_ref,
        partner_ref=partner_ref,
        type=event_type,
        status=None if status is None else STATUS_SETS[event_type](status),
        occurred_at=row.occurred_at.astimezone(zone),
        recorded_at=row.recorded_at,
        reported_by=row.reported_by,
        raw_code=row.raw_code,
        raw_label=raw_label,
        subject=row.subject,
        details=stored_details(row.details),
    )
