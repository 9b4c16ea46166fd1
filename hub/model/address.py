"""Postal addresses: of customers, and of partners' sites (a workshop, a warehouse)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00]*$"),
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Address(BaseModel):
    """A postal address: only what a carrier needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line1: ShortText
    line2: ShortText | None = None
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=12)]
    city: ShortText
    country: CountryCode = "FR"
