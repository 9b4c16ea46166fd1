"""The port a server is asked to listen on, checked before anything starts: a port in
use is one line naming it and the option that changes it, not uvicorn's error after the
hub has started (or a demo's traceback)."""

from __future__ import annotations

import errno
import socket

from hub.errors import ConfigurationError

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
