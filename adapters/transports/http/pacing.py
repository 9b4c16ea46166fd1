"""Pacing requests to a partner: the client-side rate limiter, and how long a partner's
Retry-After asks us to wait. Both take their clocks as arguments, so tests run through
rate limits and maintenance windows without sleeping.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC

__all__ = ["ClientRateLimiter", "Clock", "Sleep", "parse_retry_after"]

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class ClientRateLimiter:
    """Spaces requests at least ``1 / requests_per_second`` apart, so we stay under a
    partner's limit instead of learning it from 429s.

    The spacing is stretched by ``margin`` (1 % by default): a partner counting a sliding
    window that includes its boundary, or a clock a hair off, would otherwise see one
    request too many at exactly the limit.
    """

    def __init__(
        self,
        requests_per_second: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        margin: float = 0.01,
    ) -> None:
        if not requests_per_second > 0:
            raise ValueError("requests_per_second must be positive")
        self.interval = (1.0 + margin) / requests_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def wait(self) -> float:
        """Block until this request's slot; returns how long it waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date.

    ``now`` is the wall clock (Unix seconds) an HTTP date is measured against. A date in
    the past means 0; an unreadable value means None (the caller backs off on its own).
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT even when they say "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
