"""A run's report (what it read, stored, and the error that stopped it), and a run
recorded without the scheduler's lease, for tests and tools."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from hub.errors import HubError
from hub.partners.ingest.message import MessageOutcome
from hub.partners.runs import RunCounts
from hub.partners.supervisor import recorded
from hub.store.db import Database


@dataclass
class RunReport:
    """What one run read and stored, and the error that stopped it (hub.partners.supervisor)."""

    run_id: int
    connector: str
    counts: RunCounts = field(default_factory=RunCounts)
    messages: list[MessageOutcome] = field(default_factory=list)
    error: HubError | None = None

    def add(self, outcome: MessageOutcome) -> None:
        """One message's outcome counted in the run."""
        self.messages.append(outcome)
        self.counts.add(outcome.counts)


def recorded_run(
    database: Database,
    connector: str,
    work: Callable[[RunReport], object],
    *,
    now: datetime | None = None,
) -> RunReport:
    """``work`` as a recorded run of the connector, without its lease (tests, tools)."""
    return recorded(database, connector, partial(RunReport, connector=connector), work, now=now)
