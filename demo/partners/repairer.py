"""What both simulated repairers do alike: work through the repair orders they received,
one step a round, each step waiting for the world (the product, the part, the parcel).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter

from demo.partners.world import World
from demo.story import DemoCase, Step


class Repairer(ABC):
    """A repairer working through the repair orders it received, one step a round.

    A step waits for the world: the product must have arrived (workshop), the part must
    have been delivered (after waiting for parts), the parcel back must have been
    picked up (before reporting it shipped).
    """

    def __init__(self, cases: dict[str, DemoCase], world: World) -> None:
        self.cases = cases
        self.world = world
        self._done: dict[str, int] = {}

    @abstractmethod
    def orders(self) -> list[str]:
        """The case references of the repair orders received so far, in arrival order."""

    @abstractmethod
    def held(self) -> Counter[str]:
        """Each case reference as many times as its repair order was received."""

    def _ready(self, case: DemoCase, step: Step, previous: Step | None) -> bool:
        if previous is None and case.service == "workshop_repair":
            return self.world.delivered_to_repairer(case.reference)
        if previous is Step.WAITING_PARTS:
            return self.world.part_delivered(case.reference)
        if step is Step.SHIPPED_BACK:
            return self.world.collected_back(case.reference)
        return True

    def awaiting_collection(self, reference: str) -> bool:
        """The case's work is done here and its parcel back waits for the carrier (a
        carrier booked outside the hub, at a relay counter, comes for it)."""
        case = self.cases.get(reference)
        done = self._done.get(reference, 0)
        return (
            case is not None
            and 0 < done < len(case.steps)
            and (case.steps[done] is Step.SHIPPED_BACK)
        )

    def next_steps(self) -> list[tuple[DemoCase, Step]]:
        """The step each case can take now, marked as taken."""
        due = []
        for reference in dict.fromkeys(self.orders()):
            case = self.cases.get(reference)
            if case is None:
                continue
            done = self._done.get(reference, 0)
            if done >= len(case.steps):
                continue
            previous = case.steps[done - 1] if done else None
            step = case.steps[done]
            if self._ready(case, step, previous):
                self._done[reference] = done + 1
                due.append((case, step))
        return due
