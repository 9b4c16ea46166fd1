"""Alerting: a connector that keeps failing is flagged, then paused, so it stops hammering
a partner (or filling the run records) until an operator has looked.

Flags are worked out from the run records whenever someone looks (``flags_for``), so every
hub process and every screen agrees. Pausing is the one thing alerting writes: after each
run, ``after_run`` pauses a connector with ``pause_after_failures`` failed runs in a row,
with the last error as the reason. ``resume_connector`` (an operator) clears the pause and
starts the count of failures in a row again from zero.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.config.alerting import AlertingSpec
from hub.errors import ConfigurationError, ConflictError
from hub.partners.flags import flags_for
from hub.partners.leases import close_lapsed_runs, said_closed
from hub.store import leases, runs
from hub.store.db import Database
from hub.store.leases import PauseState

__all__ = [
    "ALERTING",
    "AlertOutcome",
    "PauseState",
    "after_run",
    "flags_for",
    "pause_connector",
    "resume_connector",
]

logger = logging.getLogger(__name__)

ALERTING = "alerting"
"""Who paused a connector when no operator did."""

MAX_REASON = 500
"""A pause reason is a sentence and the start of the error, not a partner's HTML page."""

NO_ERROR_MESSAGE = "no error message recorded"


def pause_connector(
    database: Database, connector: str, *, reason: str, by: str, now: datetime | None = None
) -> PauseState:
    """Pause the connector: no hub process takes it until it is resumed.

    A run already going on finishes; pausing a paused connector keeps the first reason.
    A run whose process stopped (its lease ran out) is closed as abandoned now, as the
    claim that takes a connector over closes it: a paused connector is not claimed.
    A blank reason is refused (ConfigurationError), from the console as from the CLI:
    whoever finds the connector paused needs to know why.
    """
    moment = now or datetime.now(UTC)
    text = reason.strip()[:MAX_REASON]
    if not text:
        raise ConfigurationError(
            f"pausing {connector!r} needs a reason: say why, for whoever looks next"
        )
    with database.transaction() as connection:
        leases.pause(connection, connector, reason=text, by=by, at=moment)
        state = leases.pause_state(connection, connector)
        closed = close_lapsed_runs(connection, connector, by, now=moment)
    said_closed(connector, closed)
    assert state is not None
    return state


def resume_connector(database: Database, connector: str, *, now: datetime | None = None) -> None:
    """Clear the pause, the backoff and the failures in a row; the schedule takes over."""
    moment = now or datetime.now(UTC)
    with database.transaction() as connection:
        if not leases.resume(connection, connector, at=moment):
            raise ConflictError(f"connector {connector!r} is not paused")


@dataclass(frozen=True)
class AlertOutcome:
    """What alerting made of a connector after a run."""

    consecutive_failures: int
    flagged: bool
    paused: PauseState | None


def after_run(
    database: Database, connector: str, policy: AlertingSpec, *, now: datetime | None = None
) -> AlertOutcome:
    """Called after each run: flag, and pause after too many failed runs in a row."""
    with database.reading() as connection:
        failures = runs.consecutive_failures(connection, connector)
        already = leases.pause_state(connection, connector)
        message, action = runs.last_failure(connection, connector) if failures else ("", "")
        last_error = message or NO_ERROR_MESSAGE
        last_action = action or "unknown"
    # The logs name the error's class only: its text may quote a partner's record (a
    # customer's name in a rejected line), which belongs in the database, not the logs.
    flagged = failures >= policy.flag_after_failures
    if flagged:
        logger.warning(
            "%s: %d failed runs in a row (last error: %s)", connector, failures, last_action
        )
    limit = policy.pause_after_failures
    if already is None and limit is not None and failures >= limit:
        reason = f"paused after {failures} failed runs in a row: {last_error}"
        paused = pause_connector(database, connector, reason=reason, by=ALERTING, now=now)
        logger.error(
            "%s: paused after %d failed runs in a row (last error: %s)",
            connector,
            failures,
            last_action,
        )
        return AlertOutcome(failures, flagged, paused)
    return AlertOutcome(failures, flagged, already)
