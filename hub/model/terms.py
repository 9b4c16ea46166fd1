"""The model's enumerations that the service-level rules read, without pydantic.

What pays for a case, what the retailer asks, its contract level, which way a parcel
travels and a quote's answer: hub.sla measures stored rows with them as well as the
canonical model's classes (hub.model.case and hub.model.work give the same names), so a
command that only reads the store builds no model class (issue 17).
"""

from __future__ import annotations

from enum import StrEnum

LEGAL_REPAIR_DAYS = 30
"""C. conso. L217-10: a product under legal conformity warranty is repaired within 30 days."""

LEGAL_EXTENSION_MONTHS = 6
"""C. conso. L217-13: a repair under legal warranty extends it by six months."""


class Coverage(StrEnum):
    """What pays for the after-sales service."""

    LEGAL_CONFORMITY = "legal_conformity"
    COMMERCIAL_WARRANTY = "commercial_warranty"
    INSURANCE = "insurance"
    NONE = "none"


class ServiceType(StrEnum):
    """What the retailer asks the network to do."""

    WORKSHOP_REPAIR = "workshop_repair"
    HOME_INTERVENTION = "home_intervention"
    EXCHANGE = "exchange"
    REFUND = "refund"
    CREDIT_NOTE = "credit_note"


class ContractLevel(StrEnum):
    """The retailer's service-level contract; it sets each step's deadline."""

    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class ShipmentLeg(StrEnum):
    """Which way a parcel travels."""

    TO_REPAIRER = "to_repairer"
    TO_CUSTOMER = "to_customer"
    PART_TO_REPAIRER = "part_to_repairer"


class QuoteDecision(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
