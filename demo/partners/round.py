"""Every simulated partner together, acting in a round's order: carrier, supplier,
repairers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from demo.partners.carrier import Carrier
from demo.partners.repair_network import RepairNetwork
from demo.partners.supplier import PartsSupplier
from demo.partners.workshop import Workshop


@dataclass
class Partners:
    """Every simulated partner, in the order they act within a round."""

    carrier: Carrier
    supplier: PartsSupplier
    workshop: Workshop
    repair_network: RepairNetwork
    activity: list[int] = field(default_factory=list)

    def waiting_until(self) -> datetime | None:
        """The story's next date, when nothing else can happen before it."""
        return self.supplier.waiting_until()

    def act(self, now: datetime) -> int:
        """One round of the partners' work; how many things they reported."""
        done = self.carrier.act(now)
        done += self.supplier.act(now)
        done += self.workshop.act(now)
        done += self.repair_network.act(now)
        self.activity.append(done)
        return done
