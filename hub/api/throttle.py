"""Slowing down guesses at the operator credential, wherever it is presented.

The console's login form and the ``Authorization: Bearer`` header (on ``/metrics`` and
``/console``) share one throttle with one policy (hub.api.operator_auth): each client
address may fail a few times in a window; after that it is answered 429 with
``Retry-After`` until the oldest failure leaves the window, whatever it sends (a right
token too, so a guesser learns nothing). A success clears the address's failures. The
count lives in the process: with several ``hub serve`` processes behind a balancer each
counts apart, which still bounds guessing to ``limit`` x processes per window; the
token's length does the rest.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

FAILURES_ALLOWED = 5
WINDOW_SECONDS = 15 * 60
ADDRESSES_KEPT = 10_000
"""Memory stays bounded under a spray from many addresses: the stalest are forgotten."""


class LoginThrottle:
    """Failed operator credentials per client address, in a sliding window."""

    def __init__(
        self,
        *,
        limit: int = FAILURES_ALLOWED,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds this address must wait before trying again; None when it may try now."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.limit:
                return None
            return max(1, int(failures[0] + self.window - self._clock()) + 1)

    def failed(self, address: str) -> None:
        with self._lock:
            failures = self._recent(address)
            failures.append(self._clock())
            self._failures[address] = failures
            self._failures.move_to_end(address)
            while len(self._failures) > ADDRESSES_KEPT:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address, deque())
        horizon = self._clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures
