"""The faults TechniService's sheet warns about, behind switches: a wrong key (401),
the rate limit (429), maintenance windows (503) and expired feed tokens (410); what every
call goes through first."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from simulators.server import Maintenance, RateLimiter
from simulators.techniservice.documents import plain_error
from simulators.techniservice.repairs import RepairLog

SEVEN_DAYS = 7 * 24 * 3600.0


class FaultSwitches(RepairLog):
    """The fault switches of :class:`~simulators.techniservice.app.TechniServiceSimulator`
    (a layer of it), and the gate every call passes."""

    rate_limiter: RateLimiter
    maintenance: Maintenance

    def _reset_faults(
        self, api_key: str, page_size: int, rate_limit: int | None, token_ttl: float
    ) -> None:
        """Every fault off: the right key, the sheet's rate limit, no maintenance."""
        with self._lock:
            self.api_key = api_key
            self.page_size = page_size
            self.token_ttl = token_ttl
            self.duplicate_at_page_boundary = False
            self.rate_limit = rate_limit
            self.maintenance.end()

    @property
    def rate_limit(self) -> int | None:
        """Accepted requests per ``rate_window`` seconds; ``None`` for no limit."""
        return self.rate_limiter.limit

    @rate_limit.setter
    def rate_limit(self, limit: int | None) -> None:
        self.rate_limiter.limit = limit
        self.rate_limiter.reset()

    def start_maintenance(
        self,
        *,
        requests: int | None = None,
        seconds: float | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer 503 to the next ``requests`` calls and/or for ``seconds`` on the clock.

        Retry-After announces ``retry_after`` if given, else what is left of the span, else 1.
        """
        self.maintenance.start(
            self.clock(), requests=requests, seconds=seconds, retry_after=retry_after
        )

    def end_maintenance(self) -> None:
        """Back in service at once."""
        self.maintenance.end()

    def expire_tokens(self) -> None:
        """Make every token issued so far answer 410 Gone, as if seven days had passed."""
        with self._lock:
            self._tokens.clear()

    def _gate(self, request: Request) -> Response | None:
        """What every call goes through first: maintenance, then the key, then the rate."""
        now = self.clock()
        wait = self.maintenance.check(now)
        if wait is not None:
            return plain_error(503, "MAINTENANCE", "Service under maintenance", wait)
        given = request.headers.get("x-api-key", "")
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            return plain_error(401, "UNAUTHORIZED", "Missing or invalid X-Api-Key")
        wait = self.rate_limiter.check(now)
        if wait is not None:
            return plain_error(429, "RATE_LIMITED", "Too many requests", wait)
        return None
