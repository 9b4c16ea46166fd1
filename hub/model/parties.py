"""The parties of a case and the references each keeps for it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.model.address import Address

PartyId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$"
    ),
]
"""A party's identifier in the hub, e.g. ``atelier-dupont`` (lower case, stable)."""

Reference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[^\x00]*$"),
]
"""Somebody's own reference for an object (a case number, an order id)."""


class PartyRole(StrEnum):
    """What a party does in the network."""

    RETAILER = "retailer"
    REPAIRER = "repairer"
    CARRIER = "carrier"
    PARTS_SUPPLIER = "parts_supplier"
    INSURER = "insurer"
    REFURBISHER = "refurbisher"
    MANUFACTURER = "manufacturer"
    HUB = "hub"


class Party(BaseModel):
    """A company in the network. Partners are shared by every retailer."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: PartyId
    role: PartyRole
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    address: Address | None = Field(
        default=None, description="Where parcels and parts for this party go."
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None


class PartyReference(BaseModel):
    """One party's own reference for a case (the workshop's case number, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    party: PartyId
    reference: Reference
