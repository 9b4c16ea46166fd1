"""Every simulated partner together, acting in a round's order: carriers, suppliers,
repairers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from demo.partners.alpes_fret import AlpesFret
from demo.partners.carrier import Carrier
from demo.partners.elec_distrib import ElecDistrib
from demo.partners.relais_direct import RelaisDirect
from demo.partners.repair_network import RepairNetwork
from demo.partners.repar_ouest import ReparOuest
from demo.partners.supplier import PartsSupplier
from demo.partners.workshop import Workshop
from demo.partners.world import Acting, World


@dataclass
class Partners:
    """Every simulated partner, in the order they act within a round.

    The named ones are what the demo observes at the end (what each holds); ``world``
    lists every carrier and supplier (the repairers ask it), ``repairers`` every repairer.
    """

    carrier: Carrier
    supplier: PartsSupplier
    workshop: Workshop
    repair_network: RepairNetwork
    world: World
    repairers: list[Acting]
    alpes_fret: AlpesFret | None = None
    activity: list[int] = field(default_factory=list)
    elec_distrib: ElecDistrib | None = None
    repar_ouest: ReparOuest | None = None
    relay_carrier: RelaisDirect | None = None
    """Relais Direct (also among ``world.carriers``), observed at the end."""

    def waiting_until(self) -> datetime | None:
        """The story's next date, when nothing else can happen before it."""
        return self.world.waiting_until()

    def act(self, now: datetime) -> int:
        """One round of the partners' work; how many things they reported."""
        acting: list[Acting] = [*self.world.carriers, *self.world.suppliers, *self.repairers]
        done = sum(party.act(now) for party in acting)
        self.activity.append(done)
        return done
