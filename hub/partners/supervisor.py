"""The run supervisor: one lifecycle for every kind of run.

A connector's scheduled run, `hub run NAME`, a retailer's drop folder, the recovery of
pushes, a replay: each is opened as a run record before any work, so a run that stops
early still leaves its trace; whatever stops it is classified by the hub's error
hierarchy, and an exception outside it (a bug, an unwrapped fault, a variable that is not
set) is a recorded failure, never a success and never a crash of the scheduler. Runs of
a connector also hold its lease while they go on, count their failures in a row there
(backing off after a passing one) and let alerting flag or pause the connector.

Replays are recorded but hold no lease: an operator replays a connector after fixing its
mapping, usually while it is paused, and a replay never counts towards its health.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from hub.config.alerting import AlertingSpec
from hub.errors import FatalError, HubError
from hub.logs import log_context
from hub.partners.alerts import after_run
from hub.partners.leases import LEASE, claim_lease, give_back_lease, keep_lease, release_lease
from hub.partners.runs import ReplayMark, RunCounts, finish_run, start_run
from hub.store.db import Database

logger = logging.getLogger(__name__)

MAX_MESSAGE = 1000
"""An unexpected error's text is kept for the operator, not a whole partner page."""


class RunCrashed(FatalError):
    """An exception outside the hub's error hierarchy ended a run."""


class Tally(Protocol):
    """What a run fills in as it goes: its record's id, counts, and what stopped it."""

    run_id: int
    counts: RunCounts
    error: HubError | None


T = TypeVar("T", bound=Tally)


def classify(error: Exception) -> HubError:
    """The hub's error for whatever stopped a run: its own as it is, any other a failure
    that stops the run (an operator must look: retrying a bug cannot help)."""
    if isinstance(error, HubError):
        return error
    text = f"unexpected {type(error).__name__}: {error}"
    return RunCrashed(text[:MAX_MESSAGE])


def recorded(
    database: Database,
    name: str,
    make: Callable[[int], T],
    work: Callable[[T], object],
    *,
    replay: ReplayMark | None = None,
    now: datetime | None = None,
) -> T:
    """Open the run record, do the work, close the record with what stopped it.

    ``make`` builds the run's tally from its record's id; ``work`` fills it in and may
    raise anything. An interruption (Ctrl-C) closes the record as failed, then goes on.
    """
    run_id = start_run(database, name, now=now, replay=replay)
    with log_context(run_id=run_id, connector=name):
        logger.info("%s: run %d started", name, run_id)
        tally = make(run_id)
        try:
            work(tally)
        except Exception as error:
            tally.error = classify(error)
            if not isinstance(error, HubError):
                logger.exception("%s: run %d stopped by an unexpected error", name, run_id)
        except BaseException:
            stopped = RunCrashed("the run was interrupted")
            finish_run(database, run_id, tally.counts, error=stopped)
            logger.warning("%s: run %d interrupted", name, run_id)
            raise
        finish_run(database, run_id, tally.counts, error=tally.error)
        if tally.error is None:
            logger.info("%s: run %d finished: %s", name, run_id, tally.counts)
        else:
            # Its kind and what to do, not its text: a partner's error may quote a record
            # (a name, a phone); the text is kept in the run record (`hub runs NAME`).
            kind, action = type(tally.error).__name__, tally.error.action.value
            logger.warning("%s: run %d failed (%s, %s)", name, run_id, kind, action)
    return tally


def run_leased(
    database: Database,
    name: str,
    owner: str,
    run: Callable[[], T],
    *,
    lease: timedelta = LEASE,
    alerting: AlertingSpec | None = None,
    ignore_backoff: bool = False,
    stopping: threading.Event | None = None,
) -> T | None:
    """``run`` (a recorded run) under the connector's lease, kept alive while it runs;
    None when another process holds it, it backs off, or it is paused.

    The lease counts the run's failure (or clears the count) and, after a passing one,
    makes the connector wait; with an ``alerting`` policy, the connector is then flagged
    or paused as the policy says (hub.partners.alerts). Should ``run`` itself raise (the
    database went away), the failure is still counted before the error goes on.
    Once ``stopping`` is set (SIGTERM), no run starts: the process is going away.

    A claim that closed runs a stopped process left open (hub.partners.leases) asks
    alerting first: were those the failures in a row that pause the connector, it is
    paused and not run, so that a run that keeps killing its process (a crash loop,
    which never reaches the end of a run where alerting is asked) stops being retried.
    """
    if stopping is not None and stopping.is_set():
        logger.info("%s: not started, the process is stopping", name)
        return None
    closed = claim_lease(database, name, owner, lease=lease, ignore_backoff=ignore_backoff)
    if closed is None:
        logger.info("%s: running elsewhere, backing off or paused; skipped", name)
        return None
    if closed and alerting is not None and after_run(database, name, alerting).paused:
        give_back_lease(database, name, owner)
        logger.info("%s: paused by alerting after abandoned runs; not started", name)
        return None
    stop = threading.Event()
    keeper = threading.Thread(
        target=keep_lease, args=(database, name, owner, lease, stop), daemon=True
    )
    keeper.start()
    error: HubError | None = None
    try:
        tally = run()
    except Exception as unexpected:
        error = classify(unexpected)
        raise
    else:
        error = tally.error
        return tally
    finally:
        stop.set()
        keeper.join()
        release_lease(database, name, owner, error)
        if alerting is not None:
            after_run(database, name, alerting)


@dataclass(frozen=True)
class RunSupervisor:
    """Every run of this hub process: its owner name on leases, how long a lease lasts
    without news, and the network's alerting policy."""

    database: Database
    owner: str
    alerting: AlertingSpec | None = None
    lease: timedelta = LEASE
    stopping: threading.Event | None = None
    """Set when the process stops: runs not started yet are not started."""

    def run(
        self,
        name: str,
        make: Callable[[int], T],
        work: Callable[[T], object],
        *,
        ignore_backoff: bool = False,
    ) -> T | None:
        """One run of a connector or drop folder: leased, recorded, alerted; None when
        the lease is not to be had (see `run_leased`)."""
        return run_leased(
            self.database,
            name,
            self.owner,
            lambda: recorded(self.database, name, make, work),
            lease=self.lease,
            alerting=self.alerting,
            ignore_backoff=ignore_backoff,
            stopping=self.stopping,
        )
