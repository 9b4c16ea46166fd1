"""The port a server is asked to listen on, checked before anything starts: a port in
use is one line naming it and the option that changes it, not uvicorn's error after the
hub has started (or a demo's traceback)."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from types import FrameType

import uvicorn

from hub.errors import ConfigurationError

logger = logging.getLogger("hub.serve")

GRACE_VARIABLE = "HUB_SHUTDOWN_GRACE"
"""Seconds a stopping process has to finish its work (`--grace-seconds`)."""


def require_free_port(host: str, port: int) -> None:
    """Refuse in one line a port something already listens on, before anything starts
    (raises ConfigurationError naming the port); port 0 (any free one) always passes."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise ConfigurationError(
                f"port {port} on {host} is already in use (another hub, or another "
                f"program): give another with --port, e.g. --port {port + 1}"
            ) from None


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
