"""What a simulated repairer can see of the world: whether the product reached it, the
part came, the parcel back was collected, asked of every simulated carrier and supplier.

The repairers do not know which carrier or supplier the hub chose for a case (that is the
routing's business, connectors.yaml): they ask each of them, as a workshop looks at what
the drivers bring, whoever they work for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class Acting(Protocol):
    """A simulated partner: one round of its work, and how many things it reported."""

    def act(self, now: datetime) -> int: ...


class ParcelCarrier(Acting, Protocol):
    """A carrier party, answering for the parcels of the cases it carries."""

    def delivered_to_repairer(self, reference: str) -> bool:
        """The case's product reached its repairer."""
        ...

    def collected_back(self, reference: str) -> bool:
        """The parcel back to the customer was collected at the repairer's."""
        ...

    def return_parcel(self, reference: str) -> tuple[str, str] | None:
        """The carrier's name and tracking number of the parcel back, if it carries it."""
        ...


class PartsShipper(Acting, Protocol):
    """A parts supplier party, answering for the parts ordered for a case."""

    def part_delivered(self, reference: str) -> bool:
        """A part ordered for the case reached its repairer."""
        ...

    def waiting_until(self) -> datetime | None:
        """The story's next date for this supplier (a backorder's return), if any."""
        ...


@dataclass
class World:
    """Every simulated carrier and supplier, in the order they act within a round."""

    carriers: list[ParcelCarrier] = field(default_factory=list)
    suppliers: list[PartsShipper] = field(default_factory=list)

    def delivered_to_repairer(self, reference: str) -> bool:
        return any(carrier.delivered_to_repairer(reference) for carrier in self.carriers)

    def collected_back(self, reference: str) -> bool:
        return any(carrier.collected_back(reference) for carrier in self.carriers)

    def return_parcel(self, reference: str) -> tuple[str, str] | None:
        parcels = (carrier.return_parcel(reference) for carrier in self.carriers)
        return next((parcel for parcel in parcels if parcel is not None), None)

    def part_delivered(self, reference: str) -> bool:
        return any(supplier.part_delivered(reference) for supplier in self.suppliers)

    def waiting_until(self) -> datetime | None:
        dates = [d for s in self.suppliers if (d := s.waiting_until()) is not None]
        return min(dates) if dates else None
