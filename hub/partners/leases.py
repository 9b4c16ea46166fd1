"""Connector leases: across every hub process sharing the database, one run of a
connector at a time, and a wait before running again after a passing failure.

A lease row per connector (and one per hub-wide job, such as publishing service-level
breaches) says who holds it and until when; a process that dies loses its lease when
it expires. The same row carries the operator's (or alerting's) pause. The row's
reads and writes are in hub.store.leases; the lease's length and the backoff are here,
and what becomes of the run a dead process left open (`close_abandoned_runs`).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from hub.backoff import Backoff, Draw, random_draw
from hub.errors import HubError, NextAction, TransientError
from hub.store import leases, runs
from hub.store.db import Connection, Database, StoreError

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""How long a connector stays taken without news from its run.

A running connector renews its lease every third of this (`keep_lease`), so a long run
keeps it however long it takes, and a process that dies frees it within this time.
"""

RUN_BACKOFF = Backoff(
    base=timedelta(minutes=1).total_seconds(), cap=timedelta(hours=1).total_seconds()
)
"""The wait before a connector runs again after a passing failure, by failures in a row."""


ABANDONED = "abandoned"
"""How the error of a run closed by `close_abandoned_runs` begins."""
TOOK_THE_LEASE = "took the lease"
"""What a claim that closes abandoned runs did, in their error."""


def acquire_lease(
    database: Database,
    connector: str,
    owner: str,
    *,
    now: datetime | None = None,
    lease: timedelta = LEASE,
    ignore_backoff: bool = False,
) -> bool:
    """Take the connector for one run, unless another process has it, it backs off, or an
    operator (or alerting) paused it. ``ignore_backoff``: an operator's run by hand is
    meant now, not after the wait that follows a failure. A claim won also closes, in its
    transaction, the runs a stopped process left open (`close_abandoned_runs`)."""
    closed = claim_lease(
        database, connector, owner, now=now, lease=lease, ignore_backoff=ignore_backoff
    )
    return closed is not None


def claim_lease(
    database: Database,
    connector: str,
    owner: str,
    *,
    now: datetime | None = None,
    lease: timedelta = LEASE,
    ignore_backoff: bool = False,
) -> list[int] | None:
    """`acquire_lease`, saying more: None when the lease is not to be had, else the ids
    of the runs a stopped process had left open and the claim closed (most often none)."""
    moment = now or datetime.now(UTC)
    with database.transaction() as connection:
        claimed = leases.claim(
            connection,
            connector,
            owner,
            now=moment,
            until=moment + lease,
            ignore_backoff=ignore_backoff,
        )
        if claimed is None:
            return None
        doing = TOOK_THE_LEASE if claimed.won else "came to run the paused connector"
        closed = close_abandoned_runs(
            connection, connector, owner, claimed, now=moment, doing=doing
        )
    said_closed(connector, closed)
    return closed if claimed.won else None


def close_lapsed_runs(
    connection: Connection, connector: str, by: str, *, now: datetime
) -> list[int]:
    """When ``by`` pauses the connector: if its lease's owner stopped (its lease ran out,
    never released), clear it from the row and close the runs it left open, as the claim
    that would have taken the connector over does (`close_abandoned_runs`); their ids.
    A paused connector is never claimed: without this, the run would stay open until the
    resume. Never a live owner's run: its lease has not run out."""
    lapsed = leases.end_lapsed_lease(connection, connector, now=now)
    if lapsed is None:
        return []
    return close_abandoned_runs(
        connection, connector, by, lapsed, now=now, doing="paused the connector"
    )


def said_closed(connector: str, closed: list[int]) -> None:
    """Log each run closed as abandoned (after the commit that closed it)."""
    for run_id in closed:
        logger.warning("%s: run %d was abandoned by a stopped process; closed", connector, run_id)


def close_abandoned_runs(
    connection: Connection,
    connector: str,
    owner: str,
    claimed: leases.Claimed,
    *,
    now: datetime,
    doing: str = TOOK_THE_LEASE,
) -> list[int]:
    """Close as failed the connector's runs still marked running when ``owner`` has just
    won its lease (``claimed``: what the lease row held); their ids. Or, the connector
    paused, when ``owner`` has just cleared from its row an owner whose lease ran out
    (``claimed.won`` False; `close_lapsed_runs`): the same runs, for the same reason.
    ``doing`` says what ``owner`` was doing, in the closed runs' error.

    Why such a run can only be a stopped process's: a run of a connector is opened under
    its lease (hub.partners.supervisor; replays, which hold none, and hours of pushes,
    closed as they are written, are left out), one at a time, and its process renews the
    lease until it closes the run. A claim wins only once the lease has run out or been
    released; so nobody is running the connector now, and a record still open was left
    by a process that stopped (SIGKILL, power loss) or could not write its end. The run
    record does not say which process opened it, and needs not: whoever held the lease
    last (``claimed.previous_owner``, this very owner included: a restarted container
    keeps its host name and pid) is no longer running it.

    When it ended: the latest one, left by the owner whose lease ran out, at that lease's
    end (it stopped renewing a lease length before). An older one (left before this hub
    closed such runs, and already followed by other runs) ended before the next run
    began, the one bound the records give; one found with the lease released, when the
    claim finds it. It counts as a failed run in a row, like any run that did not finish
    its work: a process that keeps dying in a connector's run (a crash loop) shows as
    failing in `hub status`, the console and /metrics, and alerting, asked when a claim
    closed such runs (hub.partners.supervisor.run_leased), pauses it.
    A run that was in fact still going (its process cut off from the database for a
    whole lease) writes its real end over this one when it finishes.
    """
    closed: list[int] = []
    finder = f"{owner} {doing}"
    for run in runs.open_own_runs(connection, connector, before=now):
        previous, until = claimed.previous_owner, claimed.previous_until
        if run.next_started_at is not None:
            ended = run.next_started_at
            text = (
                f"{ABANDONED}: its process stopped before the next run began at "
                f"{_instant(ended)}; found open when {finder}"
            )
        elif previous is not None and until is not None and until >= run.started_at:
            ended = until
            who = "its own owner again" if previous == owner else owner
            found = f"taken over by {who}" if claimed.won else f"found open when {finder}"
            text = (
                f"{ABANDONED}: its process ({previous}) stopped renewing the lease, which "
                f"ran out at {_instant(ended)}; {found}"
            )
        else:
            ended = now
            text = (
                f"{ABANDONED}: its process stopped without closing it; found open when "
                f"{finder} at {_instant(now)}"
            )
        if runs.close_abandoned_run(connection, run.id, finished_at=ended, error_message=text):
            closed.append(run.id)
    return closed


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def renew_lease(
    database: Database,
    connector: str,
    owner: str,
    *,
    now: datetime | None = None,
    lease: timedelta = LEASE,
) -> bool:
    """Push a held lease forward; False when this owner no longer holds it."""
    moment = now or datetime.now(UTC)
    with database.transaction() as connection:
        return leases.renew(connection, connector, owner, until=moment + lease)


def keep_lease(
    database: Database, connector: str, owner: str, lease: timedelta, stop: threading.Event
) -> None:
    """Renew the lease every third of its length until the run is over (`stop` is set)."""
    while not stop.wait(lease.total_seconds() / 3):
        try:
            if not renew_lease(database, connector, owner, lease=lease):
                logger.warning("%s: lease lost by %s while running", connector, owner)
                return
        except StoreError:  # a passing database error: try again at the next beat
            logger.exception("%s: could not renew the lease", connector)


def give_back_lease(database: Database, connector: str, owner: str) -> None:
    """Free a lease taken for a run that did not start: its failures in a row and its
    backoff stay as they were."""
    with database.transaction() as connection:
        leases.give_back(connection, connector, owner)


def release_lease(
    database: Database,
    connector: str,
    owner: str,
    error: HubError | None,
    *,
    now: datetime | None = None,
    draw: Draw = random_draw,
) -> None:
    """Give the connector back; after a passing failure it waits before running again
    (`RUN_BACKOFF`, never shorter than the partner asked)."""
    moment = now or datetime.now(UTC)
    with database.transaction() as connection:
        counted = leases.failures_in_a_row(connection, connector)
        failures = 0 if error is None else counted + 1
        not_before = None
        if error is not None and error.action is NextAction.RETRY:
            retry_after = error.retry_after if isinstance(error, TransientError) else None
            wait = RUN_BACKOFF.wait(failures, retry_after=retry_after, draw=draw)
            not_before = moment + timedelta(seconds=wait)
        leases.release(connection, connector, owner, failures=failures, not_before=not_before)
