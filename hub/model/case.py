"""The after-sales case (dossier SAV) and what it is about."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from hub.model.address import Address, ShortText
from hub.model.parties import PartyId, PartyReference, Reference
from hub.model.terms import LEGAL_EXTENSION_MONTHS as LEGAL_EXTENSION_MONTHS
from hub.model.terms import LEGAL_REPAIR_DAYS as LEGAL_REPAIR_DAYS
from hub.model.terms import ContractLevel as ContractLevel
from hub.model.terms import Coverage as Coverage
from hub.model.terms import ServiceType as ServiceType

Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=r"^[^\x00]*$"),
]
SerialNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00]*$"),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 .()-]{6,20}$")]


class Product(BaseModel):
    """The product under repair, as sold."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    brand: ShortText
    model: ShortText
    serial_number: SerialNumber | None = None
    category: ShortText | None = None
    purchase_date: date | None = None
    delivery_date: date | None = None

    @model_validator(mode="after")
    def _delivered_after_purchase(self) -> Self:
        if self.purchase_date and self.delivery_date and self.delivery_date < self.purchase_date:
            raise ValueError("delivery_date is before purchase_date")
        return self


class CustomerContact(BaseModel):
    """The end customer. Personal data: keep only what the work needs."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: ShortText
    phone: Phone | None = None
    email: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
        ]
        | None
    ) = None
    address: Address | None = None


class Case(BaseModel):
    """A retailer's after-sales case: what failed, who pays, what must be done.

    Its status is not stored here: it is derived from the case's events.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    reference: Reference = Field(description="The hub's case reference, e.g. ME-000123.")
    retailer: PartyId
    product: Product
    coverage: Coverage
    service: ServiceType
    fault: Text = Field(description="The fault as the customer declared it.")
    customer: CustomerContact
    contract_level: ContractLevel = ContractLevel.BRONZE
    opened_at: AwareDatetime
    promised_by: AwareDatetime | None = Field(
        default=None, description="A deadline the retailer promised its customer, if any."
    )
    references: tuple[PartyReference, ...] = Field(
        default=(), description="Every party's own reference for this case."
    )

    @model_validator(mode="after")
    def _one_reference_per_party(self) -> Self:
        parties = [ref.party for ref in self.references]
        if len(parties) != len(set(parties)):
            raise ValueError("a party has more than one reference for the case")
        return self

    def legal_repair_deadline(self) -> datetime | None:
        """When the legal conformity warranty's 30 days run out, if it applies."""
        if self.coverage is not Coverage.LEGAL_CONFORMITY:
            return None
        return self.opened_at + timedelta(days=LEGAL_REPAIR_DAYS)

    def reference_of(self, party: str) -> str | None:
        """The given party's own reference for this case."""
        return next((ref.reference for ref in self.references if ref.party == party), None)
