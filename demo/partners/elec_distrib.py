"""Élec Distrib, simulated: answers the purchase orders posted to its API, one step a
round, in its order events; a part it ships travels with ColisExpress.

The parcel is handed to the ColisExpress simulator (the world's truth) under the hub's
order id, the reference Élec Distrib prints on its labels; the carrier scans it on its
way and pushes its events, and the hub's ColisExpress parcel pull tracks it because the
shipped event names the carrier. The part has reached the repairer when the carrier
delivered it: that is what :meth:`ElecDistrib.part_delivered` answers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from demo.partners.common import CARRIER_OFFSET, SUPPLIER_OFFSET
from demo.partners.supplier import BACKORDER_DELAY
from demo.story import PARIS, DemoCase, PartAnswer
from simulators.colis_express import ColisExpressSimulator
from simulators.elec_distrib import ElecDistribSimulator, Order

PARCEL = "parcel"
"""A step of the parcel at the carrier (scanned by ColisExpress), not an order event."""

_STEPS = {
    PartAnswer.SHIPPED: ("order.accepted", "order.shipped", PARCEL, PARCEL, "order.delivered"),
    PartAnswer.BACKORDERED: (
        "order.accepted",
        "order.backordered",
        "order.shipped",
        PARCEL,
        PARCEL,
        "order.delivered",
    ),
    PartAnswer.OBSOLETE: ("order.cancelled",),
}
_SCANS = ("TRI", "LIV")
"""The carrier's scans after the pickup at the distributor (PCH, when shipped)."""


@dataclass
class Shipment:
    """One order's progress at the distributor, and its parcel at the carrier."""

    order: Order
    answer: PartAnswer
    done: int = 0
    not_before: datetime | None = None
    tracking_number: str | None = None
    scans: int = 0

    @property
    def steps(self) -> tuple[str, ...]:
        return _STEPS[self.answer]


class ElecDistrib:
    """Élec Distrib: each order it holds moves one step a round, as the story says."""

    def __init__(
        self,
        simulator: ElecDistribSimulator,
        carrier: ColisExpressSimulator,
        cases: dict[str, DemoCase],
    ) -> None:
        self.simulator = simulator
        self.carrier = carrier
        self.cases = cases
        self.shipments: dict[str, Shipment] = {}

    def _answer(self, order: Order) -> PartAnswer:
        case = self.cases.get(order.case_reference)
        return (case.part_answer if case is not None else None) or PartAnswer.SHIPPED

    def act(self, now: datetime) -> int:
        for order in self.simulator.orders:
            if order.order_id not in self.shipments:
                self.shipments[order.order_id] = Shipment(order, self._answer(order))
        at = (now + SUPPLIER_OFFSET).astimezone(PARIS)
        moved = 0
        for shipment in self.shipments.values():
            if shipment.done >= len(shipment.steps):
                continue
            if shipment.not_before is not None and now < shipment.not_before:
                continue
            self._step(shipment, shipment.steps[shipment.done], now, at)
            shipment.done += 1
            moved += 1
        return moved

    def _step(self, shipment: Shipment, step: str, now: datetime, at: datetime) -> None:
        order = shipment.order
        if step == PARCEL:
            assert shipment.tracking_number is not None, "a parcel travels once shipped"
            code = _SCANS[shipment.scans]
            self.carrier.add_event(shipment.tracking_number, code, now + CARRIER_OFFSET)
            shipment.scans += 1
            return
        data: dict[str, str] = {}
        if step == "order.backordered":
            shipment.not_before = now + BACKORDER_DELAY
            data["eta"] = (at + BACKORDER_DELAY).date().isoformat()
        elif step == "order.shipped":
            # Handed to the carrier first, which numbers it: the hub asks the carrier
            # about it once it hears of it.
            tracking = self.carrier.add_parcel(order.customer_order_ref)
            self.carrier.add_event(tracking, "PCH", at)
            shipment.tracking_number = tracking
            eta = (at + 2 * CARRIER_OFFSET).date().isoformat()
            data.update(carrier="COLIS_EXPRESS", tracking_number=tracking, eta=eta)
        elif step == "order.cancelled":
            data["reason"] = "OBSOLETE"
        self.simulator.add_event(order.order_id, step, at, data)

    def part_delivered(self, reference: str) -> bool:
        """Whether a part ordered for the case has reached its repairer: the carrier
        delivered its parcel."""
        return any(
            shipment.order.case_reference == reference and shipment.scans >= len(_SCANS)
            for shipment in self.shipments.values()
        )

    def waiting_until(self) -> datetime | None:
        """When the next backordered part comes back in stock, if one is awaited."""
        dates = [
            shipment.not_before
            for shipment in self.shipments.values()
            if shipment.not_before is not None and shipment.done < len(shipment.steps)
        ]
        return min(dates) if dates else None

    def held(self) -> Counter[str]:
        """Every purchase order the distributor accepted, by our order id in it."""
        return Counter(order.customer_order_ref for order in self.simulator.orders)
