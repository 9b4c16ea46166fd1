"""What the partners do on a case: shipments, quotes, parts orders and home visits."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from hub.model.money import Money
from hub.model.parties import PartyId, Reference
from hub.model.statuses import PartsOrderStatus, ShipmentStatus
from hub.model.terms import QuoteDecision as QuoteDecision
from hub.model.terms import ShipmentLeg as ShipmentLeg

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
TrackingNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=4, max_length=64)
]


class Shipment(BaseModel):
    """A parcel of a case, with its own tracking status."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    carrier: PartyId | None = Field(default=None, description="The carrier's party id if known.")
    carrier_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None
    ) = None
    tracking_number: TrackingNumber
    leg: ShipmentLeg | None = None
    status: ShipmentStatus | None = None


class Quote(BaseModel):
    """A repairer's quote for an out-of-warranty repair, amount including VAT."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    amount_incl_tax: Money
    description: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None
    ) = None
    decision: QuoteDecision = QuoteDecision.PENDING


class PartsOrderLine(BaseModel):
    """One part on an order: the supplier's SKU and how many."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    line_no: Annotated[int, Field(ge=1)]
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=999)] = 1
    status: PartsOrderStatus = PartsOrderStatus.PLACED
    eta: dt.date | None = None


class PartsOrder(BaseModel):
    """Parts ordered from a supplier for a case, shipped to the repairer."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: Reference = Field(description="The hub's order id; never reused.")
    case_reference: Reference
    supplier: PartyId
    ship_to: PartyId = Field(description="The repairer the parts go to.")
    lines: tuple[PartsOrderLine, ...] = Field(min_length=1)
    created_at: AwareDatetime


class VisitSlot(StrEnum):
    MORNING = "am"
    AFTERNOON = "pm"
    ALL_DAY = "all_day"


class Visit(BaseModel):
    """A home intervention: when, and by whom."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    date: dt.date
    slot: VisitSlot = VisitSlot.ALL_DAY
    technician: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = (
        None
    )
