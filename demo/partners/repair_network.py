"""TechniService, simulated: the repair orders posted to its API, each step a change in
its feed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from demo.partners.common import (
    REPAIRER_OFFSET,
)
from demo.partners.repairer import Repairer
from demo.partners.world import World
from demo.story import PARIS, DemoCase, Step
from simulators.techniservice.app import TechniServiceSimulator
from simulators.techniservice.repairs import Part, Quote, Tracking, Visit

_TECHNISERVICE_CODES = {
    Step.RECEIVED: "10",
    Step.VISIT_SCHEDULED: "12",
    Step.ON_SITE: "14",
    Step.DIAGNOSING: "20",
    Step.QUOTE: "25",
    Step.QUOTE_ACCEPTED: "27",
    Step.QUOTE_DECLINED: "28",
    Step.WAITING_PARTS: "30",
    Step.IN_REPAIR: "40",
    Step.REPAIRED: "50",
    Step.NOT_REPAIRABLE: "55",
    Step.SHIPPED_BACK: "60",
    Step.HOME_DONE: "70",
}


class RepairNetwork(Repairer):
    """TechniService: the orders posted to its API, each step a change in its feed."""

    def __init__(
        self,
        simulator: TechniServiceSimulator,
        cases: dict[str, DemoCase],
        world: World,
    ) -> None:
        super().__init__(cases, world)
        self.simulator = simulator

    def orders(self) -> list[str]:
        return [order.order_ref for order in self.simulator.received_orders]

    def held(self) -> Counter[str]:
        return Counter(self.orders())

    def act(self, now: datetime) -> int:
        at = (now + REPAIRER_OFFSET).astimezone(PARIS)
        steps = self.next_steps()
        for case, step in steps:
            repair_id = self.simulator.repair_id_for(case.reference)
            assert repair_id is not None, "a repair this simulator was given has an id"
            tracking = None
            if step is Step.SHIPPED_BACK:
                parcel = self.world.return_parcel(case.reference)
                tracking = Tracking(*parcel) if parcel else None
            self.simulator.add_change(
                repair_id,
                None,
                _TECHNISERVICE_CODES[step],
                at,
                quote=Quote(case.quote_amount) if step is Step.QUOTE else None,
                visit=(
                    Visit((at + timedelta(days=2)).date(), "AM", "T-041")
                    if step is Step.VISIT_SCHEDULED
                    else None
                ),
                parts=[Part(case.part_sku, 1)] if step is Step.WAITING_PARTS else (),
                tracking=tracking,
            )
        return len(steps)
