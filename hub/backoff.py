"""One backoff policy for every retry in the hub: a partner's HTTP request, an outbox
message, a connector run that failed for a passing reason.

Waits double with each failure in a row, from ``base`` up to ``cap``, with "equal
jitter": half of each step is fixed and half drawn at random, so waits keep growing
but processes (or messages) that failed together do not come back in step. What a
partner asked for (Retry-After) is a floor, never shortened.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

Draw = Callable[[], float]
"""A draw in [0, 1): random in production, fixed in tests that check exact waits."""

_RANDOM = random.Random()  # noqa: S311 - spreads retries apart, guards no secret


def random_draw() -> float:
    """A fresh draw in [0, 1)."""
    return _RANDOM.random()


MAX_EXPONENT = 62
"""Doubling stops counting here: the cap applies long before, and 2.0 ** n stays finite."""


@dataclass(frozen=True)
class Backoff:
    """Exponential waits in seconds after failures in a row, capped, jittered one way."""

    base: float
    cap: float

    def step(self, failures: int) -> float:
        """The un-jittered wait after ``failures`` failures in a row (the first: ``base``)."""
        exponent = min(max(failures - 1, 0), MAX_EXPONENT)
        return min(self.cap, self.base * 2.0**exponent)

    def wait(
        self, failures: int, *, retry_after: float | None = None, draw: Draw = random_draw
    ) -> float:
        """Seconds to wait: within [step / 2, step], and at least ``retry_after``."""
        step = self.step(failures)
        wait = step / 2 + draw() * step / 2
        return wait if retry_after is None else max(wait, retry_after)
