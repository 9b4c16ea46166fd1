"""The canonical after-sales model. Imports nothing else of the hub.

Each name is loaded from its module on first use, so that importing one module of the
model (``hub.model.parties`` for a party's id) does not build every model's pydantic
classes: a command that reads the store starts without them (issue 17).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.model.address import Address
    from hub.model.case import Case, CustomerContact, Product
    from hub.model.event import Event, EventDetails, stable_event_id
    from hub.model.money import Money
    from hub.model.parties import Party, PartyReference, PartyRole
    from hub.model.statuses import (
        CaseRecordStatus,
        CaseStatus,
        EventType,
        Label,
        PartsOrderStatus,
        ServiceLevelStatus,
        ShipmentStatus,
    )
    from hub.model.terms import ContractLevel, Coverage, QuoteDecision, ServiceType, ShipmentLeg
    from hub.model.timeline import CaseState, derive_case_state, event_order_key, order_key
    from hub.model.work import PartsOrder, PartsOrderLine, Quote, Shipment, Visit, VisitSlot
else:
    _MODULE_OF = {
        "Address": "address",
        "Case": "case",
        "CaseRecordStatus": "statuses",
        "CaseState": "timeline",
        "CaseStatus": "statuses",
        "ContractLevel": "terms",
        "Coverage": "terms",
        "CustomerContact": "case",
        "Event": "event",
        "EventDetails": "event",
        "EventType": "statuses",
        "Label": "statuses",
        "Money": "money",
        "PartsOrder": "work",
        "PartsOrderLine": "work",
        "PartsOrderStatus": "statuses",
        "Party": "parties",
        "PartyReference": "parties",
        "PartyRole": "parties",
        "Product": "case",
        "Quote": "work",
        "QuoteDecision": "terms",
        "ServiceLevelStatus": "statuses",
        "ServiceType": "terms",
        "Shipment": "work",
        "ShipmentLeg": "terms",
        "ShipmentStatus": "statuses",
        "Visit": "work",
        "VisitSlot": "work",
        "derive_case_state": "timeline",
        "event_order_key": "timeline",
        "order_key": "timeline",
        "stable_event_id": "event",
    }

    def __getattr__(name: str) -> Any:
        """A model name, imported from its module on first use (then kept here)."""
        module = _MODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(f"hub.model.{module}"), name)
        globals()[name] = value
        return value


__all__ = [
    "Address",
    "Case",
    "CaseRecordStatus",
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
