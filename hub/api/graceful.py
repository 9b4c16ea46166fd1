"""uvicorn's server that tells the rest of the process when a stop is asked; apart from
hub.api.listen so that commands naming the grace variable do not import uvicorn."""

from __future__ import annotations

import logging
import threading
import time
from types import FrameType

import uvicorn

logger = logging.getLogger("hub.serve")


class GracefulServer(uvicorn.Server):
    """uvicorn's server, which also tells the rest of the process the moment a stop is
    asked, so that /readyz answers 503 and the scheduler's work stops while HTTP requests
    are still answered (`hub serve` and `hub serve-api` alike)."""

    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self.stopping = stopping
        self.asked_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.asked_at is None:
            self.asked_at = time.monotonic()
            logger.info("signal %s: stopping (no new work; what is held is given back)", sig)
        self.stopping.set()
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        """Also stop when the stop was asked before uvicorn listened for it: a SIGTERM
        between `hub serve`'s own handler and uvicorn's only set ``stopping``, and the
        server would otherwise serve on with its scheduler stopped."""
        if self.stopping.is_set() and not self.should_exit:
            if self.asked_at is None:
                self.asked_at = time.monotonic()
                logger.info("stopping: asked before the server listened")
            self.should_exit = True
        return await super().on_tick(counter)
