"""Relais Direct, simulated: the relay carrier of the cases the hub's routing gives it.

The hub books nothing with Relais Direct (``sync.not_sent``): the customer drops the
product at a relay counter, and the workshop hands the parcel back to the carrier's
driver. So this party follows the world rather than messages: for each case routed to
it, one step a round, the product is taken in at the customer's relay (``PEC``, with the
case's reference as ``RefClient``), travels (``TRA``) and is handed to the workshop
(``REM`` at its address); once the repairer has finished, the parcel back is taken at the
workshop (``PEC``), travels, waits at the customer's relay (``DEP``) and is handed to the
customer (``REM`` at the relay, signed).

Once in the story the customer drops the product at the counter before declaring the
case: the relay's receipt carries no reference, only its tracking number, which the
customer gives the retailer; the retailer records it on the case as Relais Direct's
reference (``references`` when the case is opened), and the hub links the parcel's
events through it (the routing made Relais Direct the case's carrier).

Each round's events go out as one batch (ISO-8859-1, the key in ``X-RD-Cle``); a seeded
share of batches is lost, and only the hub's SOAP tracking pull finds their events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from demo.partners.common import CARRIER_OFFSET
from demo.partners.repairer import Repairer
from demo.story import START, DemoCase
from simulators.relais_direct import PushRun, RelaisDirectSimulator, Relay

NAME = "Relais Direct"
LOSE_RATE = 0.3
"""Share of batches lost on the carrier's side: found again by the SOAP pull."""
RELAYS = (
    Relay("R0452", "Tabac de la Gare", "69003", "LYON"),
    Relay("R1187", "Presse Saint-Michel", "38000", "GRENOBLE"),
    Relay("R0731", "Épicerie du Parc", "69100", "VILLEURBANNE"),
    Relay("R2210", "Café des Sports", "38300", "BOURGOIN-JALLIEU"),
)
WORKSHOP_SIGNATORY = "ATELIER - RECEPTION"

# (code, at a relay?, signed?) for each leg, one a round.
_OUTBOUND = (("PEC", True, False), ("TRA", False, False), ("REM", False, True))
_BACK = (("PEC", False, False), ("TRA", False, False), ("DEP", True, False), ("REM", True, True))


@dataclass
class _Journey:
    """A case's two parcels and how far each has gone."""

    case: DemoCase
    relay: Relay
    outbound: str
    back: str | None = None
    outbound_done: int = 0
    back_done: int = 0


def counter_drop_off(cases: Sequence[DemoCase], carried: Callable[[DemoCase], bool]) -> str | None:
    """The case whose product the customer drops at the counter before declaring it: the
    first one the carrier carries (none when the routing gives it no case)."""
    return next((case.reference for case in cases if carried(case)), None)


class RelaisDirect:
    """Relais Direct's relays and drivers, for the cases the routing gives it."""

    def __init__(
        self,
        simulator: RelaisDirectSimulator,
        cases: Sequence[DemoCase],
        carried: Callable[[DemoCase], bool],
        counter: str | None = None,
    ) -> None:
        self.simulator = simulator
        self.repairers: list[Repairer] = []
        """Who the parcels go to: a parcel back is taken once its repairer has finished."""
        self.runs: list[PushRun] = []
        simulator.lose_rate = LOSE_RATE
        self._journeys: dict[str, _Journey] = {}
        for case in cases:
            if not carried(case):
                continue
            relay = RELAYS[case.index % len(RELAYS)]
            # A counter drop-off carries no reference: only its number links it.
            number = simulator.add_parcel(None if case.reference == counter else case.reference)
            self._journeys[case.reference] = _Journey(case, relay, number)
        self.counter = counter

    def counter_number(self) -> str | None:
        """The counter receipt's tracking number, which the retailer records on the case."""
        if self.counter is None:
            return None
        return self._journeys[self.counter].outbound

    def references(self) -> list[str]:
        return list(self._journeys)

    def act(self, now: datetime) -> int:
        """One step of each parcel that can move, pushed as one batch."""
        if now <= START:
            return 0  # the customers drop their products once their cases are open
        at = now + CARRIER_OFFSET
        moved = 0
        for journey in self._journeys.values():
            if journey.outbound_done < len(_OUTBOUND):
                self._scan(journey.outbound, _OUTBOUND[journey.outbound_done], journey, at)
                journey.outbound_done += 1
                moved += 1
            elif journey.back is None and self._finished(journey.case.reference):
                journey.back = self.simulator.add_parcel(journey.case.reference)
                self._scan(journey.back, _BACK[0], journey, at)
                journey.back_done = 1
                moved += 1
            elif journey.back is not None and journey.back_done < len(_BACK):
                self._scan(journey.back, _BACK[journey.back_done], journey, at)
                journey.back_done += 1
                moved += 1
        if self.simulator.push_url is not None:
            self.runs.append(self.simulator.push_pending())
        return moved

    def _scan(
        self, number: str, step: tuple[str, bool, bool], journey: _Journey, at: datetime
    ) -> None:
        code, at_relay, signed = step
        signatory = None
        if signed:
            signatory = journey.case.document()["customer"]["name"] if at_relay else None
            signatory = signatory or WORKSHOP_SIGNATORY
        self.simulator.add_event(
            number, code, at, relay=journey.relay if at_relay else None, signatory=signatory
        )

    def _finished(self, reference: str) -> bool:
        return any(repairer.awaiting_collection(reference) for repairer in self.repairers)

    # -- what the repairers ask (demo.partners.world.ParcelCarrier) --------------------

    def delivered_to_repairer(self, reference: str) -> bool:
        journey = self._journeys.get(reference)
        return journey is not None and journey.outbound_done >= len(_OUTBOUND)

    def collected_back(self, reference: str) -> bool:
        journey = self._journeys.get(reference)
        return journey is not None and journey.back_done >= 1

    def return_parcel(self, reference: str) -> tuple[str, str] | None:
        journey = self._journeys.get(reference)
        if journey is None or journey.back is None:
            return None
        return (NAME, journey.back)

    # -- what the demo observes --------------------------------------------------------

    def latest(self) -> dict[str, str]:
        """Each parcel's latest event code, as the carrier knows it."""
        return {
            parcel.number: max(parcel.events, key=lambda e: e.at).code
            for parcel in self.simulator.parcels()
            if parcel.events
        }

    def batches(self) -> tuple[int, int]:
        """Batches acknowledged, and batches lost (found by the SOAP pull)."""
        acknowledged = sum(len(run.acknowledged) for run in self.runs)
        lost = sum(len(run.lost) for run in self.runs)
        return acknowledged, lost
