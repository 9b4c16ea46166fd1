"""Connector leases: across every hub process sharing the database, one run of a
connector at a time, and a wait before running again after a passing failure.

A lease row per connector (and one per hub-wide job, such as publishing service-level
breaches) says who holds it and until when; a process that dies loses its lease when
it expires. The same row carries the operator's (or alerting's) pause. The row's
reads and writes are in hub.store.leases; the lease's length and the backoff are here.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from hub.backoff import Backoff, Draw, random_draw
from hub.errors import HubError, NextAction, TransientError
from hub.store import leases
from hub.store.db import Database, StoreError

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
    meant now, not after the wait that follows a failure."""
    moment = now or datetime.now(UTC)
    with database.transaction() as connection:
        return leases.claim(
            connection,
            connector,
            owner,
            now=moment,
            until=moment + lease,
            ignore_backoff=ignore_backoff,
        )


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
