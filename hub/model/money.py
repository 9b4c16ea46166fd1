"""Amounts of money: a decimal and its currency, never a bare float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Money(BaseModel):
    """An amount with its ISO 4217 currency; amounts keep cents exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    amount: Annotated[Decimal, Field(max_digits=12, decimal_places=2)]
    currency: CurrencyCode
