"""Postal addresses: of customers, and of partners' sites (a workshop, a warehouse)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00]*$"),
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Place(BaseModel):
    """Where an event happened: a depot, a relay point, a sorting centre, a workshop.

    Only what the partner said: every part is optional, and a country is kept as given
    (a carrier may write ``FRANCE`` as well as ``FR``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: ShortText | None = None
    name: ShortText | None = None
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, max_length=12)] | None = None
    city: ShortText | None = None
    country: ShortText | None = None

    def __str__(self) -> str:
        town = " ".join(part for part in (self.postcode, self.city) if part)
        parts = [self.name, town, self.country]
        return ", ".join(part for part in parts if part) or (self.id or "")


class Address(BaseModel):
    """A postal address: only what a carrier needs."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    line1: ShortText
    line2: ShortText | None = None
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=12)]
    city: ShortText
    country: CountryCode = "FR"
