"""Retention, as the operator runs it (`hub retention [--dry-run]`) and the scheduled job
applies it: per kind of data, what is past its period (``retention:`` in connectors.yaml)
and the oldest row kept; then removal, a batch per transaction, with a pause between
batches for the hub's other writers (SQLite has one writer at a time). Closed cases past
``anonymise_closed_cases_after`` lose their customer's personal data the way the erasure
API does it (hub.retailers.erasure).

What the hub still needs is never due, whatever its age: hub.store.retention says what.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hub.config.retention import RetentionSpec
from hub.errors import HubError
from hub.operators.retention_plan import ANONYMISE, KindPlan, plan_of
from hub.partners.leases import acquire_lease, release_lease
from hub.retailers.erasure import anonymise_closed_cases, finish_unfinished
from hub.store import retention as store
from hub.store.db import Database
from hub.store.retention import ConnectionRetentionReads

logger = logging.getLogger(__name__)

__all__ = [
    "ANONYMISE",
    "LEASE_NAME",
    "KindPlan",
    "RetentionResult",
    "apply_retention",
    "retention_leased",
    "retention_plan",
]

LEASE_NAME = "retention"
"""One process applies retention at a time."""


def retention_plan(
    database: Database, spec: RetentionSpec, *, now: datetime | None = None
) -> list[KindPlan]:
    """What `hub retention` would remove now, kind by kind (a kind kept forever: 0); the
    dry run reads the same without SQLAlchemy (hub.store.plain_reads.retention_reads)."""
    return plan_of(ConnectionRetentionReads(database), spec, now or datetime.now(UTC))


@dataclass
class RetentionResult:
    """What one application removed, and whether it got through everything due."""

    removed: dict[str, int] = field(default_factory=dict)
    anonymised: list[str] = field(default_factory=list)
    finished_erasures: list[str] = field(default_factory=list)
    complete: bool = True


def apply_retention(
    database: Database,
    spec: RetentionSpec,
    *,
    now: datetime | None = None,
    stopping: threading.Event | None = None,
    budget: timedelta | None = None,
) -> RetentionResult:
    """Remove what is due, kind by kind, ``spec.batch_size`` rows per transaction; stop
    early (``complete`` False) when the process is stopping or ``budget`` is spent: the
    next run goes on where this one stopped."""
    moment = now or datetime.now(UTC)
    deadline = None if budget is None else time.monotonic() + budget.total_seconds()
    result = RetentionResult()

    def must_stop() -> bool:
        late = deadline is not None and time.monotonic() > deadline
        return late or (stopping is not None and stopping.is_set())

    result.finished_erasures = finish_unfinished(database)
    for kind in store.KINDS:
        period = spec.period(kind)
        if period is None:
            continue
        removed = 0
        while True:
            if must_stop():
                result.complete = False
                break
            with database.transaction() as connection:
                count = store.remove_batch(connection, kind, moment - period, spec.batch_size)
            removed += count
            if count < spec.batch_size:
                break
            database.let_writers_in()
        result.removed[kind] = removed
        if not result.complete:
            return result
    period = spec.period(ANONYMISE)
    while period is not None and not must_stop():
        done = anonymise_closed_cases(database, closed_for=period, now=moment, limit=10)
        result.anonymised += done
        if not done:
            break
    if period is not None and must_stop():
        result.complete = False
    return result


def retention_leased(
    database: Database,
    spec: RetentionSpec,
    owner: str,
    *,
    lease: timedelta,
    stopping: threading.Event | None = None,
) -> RetentionResult | None:
    """The scheduled job: under the "retention" lease (None when another process holds
    it), within half the lease, so that the lease never runs out under it."""
    if stopping is not None and stopping.is_set():
        return None
    if not acquire_lease(database, LEASE_NAME, owner, lease=lease):
        return None
    error: HubError | None = None
    try:
        result = apply_retention(database, spec, stopping=stopping, budget=lease / 2)
    except HubError as exc:
        error = exc
        raise
    finally:
        release_lease(database, LEASE_NAME, owner, error)
    removed = {kind: count for kind, count in result.removed.items() if count}
    if removed or result.anonymised:
        logger.info(
            "retention: removed %s; %d case(s) anonymised%s",
            ", ".join(f"{count} {kind}" for kind, count in removed.items()) or "nothing",
            len(result.anonymised),
            "" if result.complete else " (more next time)",
        )
    return result
