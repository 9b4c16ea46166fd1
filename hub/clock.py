"""The hub's one clock: what "now" is for service levels, the console, the API and the CLI.

A hub in production reads the system clock. The demo plays a story in simulated time
(November, two hours a round): measuring its deadlines against the machine's date made
the console say "31 d late" while the summary said "no breaches". So every part of a
hub asks the clock it was handed by the composition root, and the demo's clock, which
it moves round by round, is also written to a file in its home, where the CLI pointed
at that home reads it (hub.config.home).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hub.errors import ConfigurationError

Clock = Callable[[], datetime]
"""Anything answering the current instant, aware."""


def system_clock() -> datetime:
    """The machine's time, in UTC: the clock of every hub but the demo's."""
    return datetime.now(UTC)


class SharedClock:
    """A clock set by its owner (the demo's story) and kept in a file for other
    processes: calling it answers the instant last set."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._now = start
        self.set(start)

    def set(self, moment: datetime) -> None:
        """Move the clock; written beside, then renamed, so a reader never sees half."""
        if moment.tzinfo is None:
            raise ValueError("the hub's clock holds aware instants only")
        with self._lock:
            self._now = moment.astimezone(UTC)
            partial = self.path.with_name(self.path.name + ".tmp")
            partial.write_text(self._now.isoformat() + "\n", encoding="utf-8")
            os.replace(partial, self.path)

    def __call__(self) -> datetime:
        with self._lock:
            return self._now


class FileClock:
    """Another process's shared clock, read from its file at each call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> datetime:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(
                f"{self.path}: cannot read the hub's clock ({exc.strerror}); is its demo "
                "still running, or its home moved?"
            ) from exc
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ConfigurationError(
                f"{self.path}:1: the hub's clock is not an ISO 8601 instant: {text!r}"
            ) from exc
        if moment.tzinfo is None:
            raise ConfigurationError(f"{self.path}:1: the hub's clock has no UTC offset")
        return moment.astimezone(UTC)
