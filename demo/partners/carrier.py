"""ColisExpress, simulated: every pickup it accepted travels (or gets lost), one scan a
round, each event pushed, signed, at best effort.
"""

from __future__ import annotations

from datetime import datetime

from demo.partners.common import (
    CARRIER_OFFSET,
)
from demo.story import DemoCase, Path
from simulators.colis_express import ColisExpressSimulator, PushFaults

PUSH_FAULTS = PushFaults(skip_rate=0.15, duplicate_rate=0.1)
"""Best-effort pushes, as the carrier's sheet warns: some never come, some come twice."""


_INBOUND_CODES = ("ENR", "PCH", "TRI", "LIV")
_LOST_CODES = ("ENR", "PCH", "ANO")
_LABELS = {"ANO": "Anomalie : colis perdu au centre de tri"}


class Carrier:
    """ColisExpress: every pickup it accepted travels (or gets lost), one scan a round."""

    def __init__(self, simulator: ColisExpressSimulator, cases: dict[str, DemoCase]) -> None:
        self.simulator = simulator
        self.cases = cases
        self._scans: dict[str, int] = {}
        simulator.push_faults = PUSH_FAULTS

    def _codes(self, reference: str) -> tuple[str, ...]:
        case = self.cases.get(reference)
        if case is not None and case.path is Path.LOST_PARCEL:
            return _LOST_CODES
        return _INBOUND_CODES

    def act(self, now: datetime) -> int:
        moved = 0
        for pickup in self.simulator.received_pickups:
            codes = self._codes(pickup.reference)
            done = self._scans.get(pickup.reference, 0)
            if done >= len(codes):
                continue
            code = codes[done]
            self.simulator.add_event(
                pickup.tracking_number, code, now + CARRIER_OFFSET, label=_LABELS.get(code)
            )
            self._scans[pickup.reference] = done + 1
            moved += 1
        if self.simulator.push_url is not None:
            self.simulator.push_pending()
        return moved

    def scanned(self, reference: str, code: str) -> bool:
        """Whether the parcel of ``reference`` has had this scan (the world's truth)."""
        codes = self._codes(reference)
        done = self._scans.get(reference, 0)
        return code in codes[:done]

    def delivered_to_repairer(self, reference: str) -> bool:
        return self.scanned(reference, "LIV")

    def collected_back(self, reference: str) -> bool:
        return self.scanned(f"{reference}-R", "PCH")

    def return_parcel(self, reference: str) -> tuple[str, str] | None:
        number = self.tracking_number(f"{reference}-R")
        return ("ColisExpress", number) if number else None

    def tracking_number(self, reference: str) -> str | None:
        return self.simulator.tracking_number_for(reference)
