"""The canonical after-sales model. Imports nothing else of the hub."""

from hub.model.address import Address
from hub.model.case import (
    Case,
    ContractLevel,
    Coverage,
    CustomerContact,
    Product,
    ServiceType,
)
from hub.model.event import Event, EventDetails, EventType, stable_event_id
from hub.model.money import Money
from hub.model.parties import Party, PartyReference, PartyRole
from hub.model.statuses import (
    CaseStatus,
    Label,
    PartsOrderStatus,
    PersonalDataStatus,
    ServiceLevelStatus,
    ShipmentStatus,
)
from hub.model.timeline import CaseState, derive_case_state, event_order_key, order_key
from hub.model.work import (
    PartsOrder,
    PartsOrderLine,
    Quote,
    QuoteDecision,
    Shipment,
    ShipmentLeg,
    Visit,
    VisitSlot,
)

__all__ = [
    "Address",
    "Case",
    "CaseState",
    "CaseStatus",
    "ContractLevel",
    "Coverage",
    "CustomerContact",
    "Event",
    "EventDetails",
    "EventType",
    "Label",
    "Money",
    "PartsOrder",
    "PartsOrderLine",
    "PartsOrderStatus",
    "Party",
    "PartyReference",
    "PartyRole",
    "PersonalDataStatus",
    "Product",
    "Quote",
    "QuoteDecision",
    "ServiceLevelStatus",
    "ServiceType",
    "Shipment",
    "ShipmentLeg",
    "ShipmentStatus",
    "Visit",
    "VisitSlot",
    "derive_case_state",
    "event_order_key",
    "order_key",
    "stable_event_id",
]
