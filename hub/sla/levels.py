"""The contract levels of the retailers' sheet and the 30-day legal rule, as data.

Each level gives every step an allowance: business days for the steps of the work,
calendar days for the whole case. French consumer law adds one rule above every
contract: a product under legal conformity warranty is brought back into conformity
within 30 days of the request (C. conso. L217-10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hub.model.terms import LEGAL_REPAIR_DAYS, ContractLevel
from hub.sla.business_days import business_deadline, calendar_deadline


class Step(StrEnum):
    """A measured stretch of a case (see docs/service-levels.md for starts and ends)."""

    PICKUP = "pickup"
    DIAGNOSIS = "diagnosis"
    REPAIR = "repair"
    PARTS = "parts"
    TOTAL = "total"
    LEGAL = "legal"

    @property
    def description(self) -> str:
        return STEP_DESCRIPTIONS[self]


STEP_DESCRIPTIONS: dict[Step, str] = {
    Step.PICKUP: "pickup requested → picked up",
    Step.DIAGNOSIS: "received → diagnosis",
    Step.REPAIR: "quote accepted → repaired",
    Step.PARTS: "parts ordered → shipped",
    Step.TOTAL: "total case",
    Step.LEGAL: "legal conformity: back in conformity within 30 days",
}

LEGAL = "legal"
"""The basis of the legal rule's deadline, where a contract step names its level."""


@dataclass(frozen=True)
class Allowance:
    """How long a step may take: business days, or calendar days."""

    days: int
    business: bool

    def deadline(self, start: datetime) -> datetime:
        if self.business:
            return business_deadline(start, self.days)
        return calendar_deadline(start, self.days)

    def __str__(self) -> str:
        if self.business and self.days == 0:
            return "same business day"
        unit = "business day" if self.business else "day"
        return f"{self.days} {unit}{'' if self.days == 1 else 's'}"


def _level(
    pickup: int, diagnosis: int, repair: int, parts: int, total: int
) -> dict[Step, Allowance]:
    return {
        Step.PICKUP: Allowance(pickup, business=True),
        Step.DIAGNOSIS: Allowance(diagnosis, business=True),
        Step.REPAIR: Allowance(repair, business=True),
        Step.PARTS: Allowance(parts, business=True),
        Step.TOTAL: Allowance(total, business=False),
    }


CONTRACT_LEVELS: dict[ContractLevel, dict[Step, Allowance]] = {
    ContractLevel.BRONZE: _level(3, 5, 10, 5, 30),
    ContractLevel.SILVER: _level(2, 3, 7, 3, 21),
    ContractLevel.GOLD: _level(1, 2, 5, 2, 15),
    ContractLevel.PLATINUM: _level(0, 1, 3, 1, 10),
}
"""The retailers' sheet, "Service levels (per contract)"; Platinum's pickup is same day."""

LEGAL_ALLOWANCE = Allowance(LEGAL_REPAIR_DAYS, business=False)
