"""The scheduler: every connector on its schedule, the dispatcher, never a run twice at once.

APScheduler fires the jobs; a lease row per connector in the database makes sure that,
across every hub process sharing the database, one run of a connector happens at a time
(a process that dies loses its lease when it expires). A run that fails for a passing
reason makes the connector back off before its next run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import or_, update
from sqlalchemy.exc import SQLAlchemyError

from hub.config.connector_spec import (
    ConnectorSpec,
    HttpPushTransportSpec,
    ScheduleSpec,
    parse_duration,
)
from hub.errors import HubError, NextAction, TransientError
from hub.mapping.spec import InboundSpec
from hub.partners.alerts import AlertingSpec, after_run
from hub.partners.connectors import Network, case_import_transport
from hub.partners.ingest import RunReport
from hub.retailers.case_import_runs import run_case_import
from hub.sla.publish import EVERY as SERVICE_LEVELS_EVERY
from hub.sla.publish import LEASE_NAME as SERVICE_LEVELS_LEASE
from hub.sla.publish import publish_leased
from hub.store.db import Database
from hub.store.tables import connector_leases
from hub.store.upsert import insert_ignoring_conflicts
from hub.sync.delivery import ConnectorBatches, Senders, deliver_any
from hub.sync.outbox import Dispatcher

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""How long a connector stays taken without news from its run.

A running connector renews its lease every third of this (`keep_lease`), so a long run
keeps it however long it takes, and a process that dies frees it within this time.
"""
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)


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
        connection.execute(
            insert_ignoring_conflicts(connection, connector_leases, "connector"),
            {"connector": connector, "failures": 0},
        )
        conditions = [
            connector_leases.c.connector == connector,
            or_(connector_leases.c.lease_until.is_(None), connector_leases.c.lease_until < moment),
            connector_leases.c.paused_at.is_(None),
        ]
        if not ignore_backoff:
            conditions.append(
                or_(
                    connector_leases.c.not_before.is_(None), connector_leases.c.not_before <= moment
                )
            )
        taken = connection.execute(
            update(connector_leases)
            .where(*conditions)
            .values(owner=owner, lease_until=moment + lease)
        )
        return taken.rowcount == 1


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
        renewed = connection.execute(
            update(connector_leases)
            .where(connector_leases.c.connector == connector, connector_leases.c.owner == owner)
            .values(lease_until=moment + lease)
        )
        return renewed.rowcount == 1


def keep_lease(
    database: Database, connector: str, owner: str, lease: timedelta, stop: threading.Event
) -> None:
    """Renew the lease every third of its length until the run is over (`stop` is set)."""
    while not stop.wait(lease.total_seconds() / 3):
        try:
            if not renew_lease(database, connector, owner, lease=lease):
                logger.warning("%s: lease lost by %s while running", connector, owner)
                return
        except SQLAlchemyError:  # a passing database error: try again at the next beat
            logger.exception("%s: could not renew the lease", connector)


def backoff(failures: int, retry_after: float | None = None) -> timedelta:
    """Doubling waits after failures in a row, never shorter than the partner asked."""
    wait: timedelta = min(BACKOFF_BASE * (2 ** max(failures - 1, 0)), BACKOFF_MAX)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


def release_lease(
    database: Database,
    connector: str,
    owner: str,
    error: HubError | None,
    *,
    now: datetime | None = None,
) -> None:
    """Give the connector back; after a passing failure it waits before running again."""
    moment = now or datetime.now(UTC)
    with database.transaction() as connection:
        current = connection.execute(
            connector_leases.select().where(connector_leases.c.connector == connector)
        ).one()
        failures = 0 if error is None else int(current.failures) + 1
        not_before = None
        if error is not None and error.action is NextAction.RETRY:
            retry_after = error.retry_after if isinstance(error, TransientError) else None
            not_before = moment + backoff(failures, retry_after)
        connection.execute(
            update(connector_leases)
            .where(connector_leases.c.connector == connector, connector_leases.c.owner == owner)
            .values(owner=None, lease_until=None, failures=failures, not_before=not_before)
        )


def run_leased(
    database: Database,
    name: str,
    owner: str,
    run: Callable[[], RunReport],
    *,
    lease: timedelta = LEASE,
    alerting: AlertingSpec | None = None,
    ignore_backoff: bool = False,
) -> RunReport | None:
    """One run under the connector's lease, kept alive while it runs; None when taken.

    With an ``alerting`` policy, the connector is flagged or paused after the run as the
    policy says (hub.partners.alerts).
    """
    if not acquire_lease(database, name, owner, lease=lease, ignore_backoff=ignore_backoff):
        logger.info("%s: running elsewhere, backing off or paused; skipped", name)
        return None
    stop = threading.Event()
    keeper = threading.Thread(
        target=keep_lease, args=(database, name, owner, lease, stop), daemon=True
    )
    keeper.start()
    report: RunReport | None = None
    try:
        report = run()
        return report
    finally:
        stop.set()
        keeper.join()
        release_lease(database, name, owner, None if report is None else report.error)
        if alerting is not None and report is not None:
            after_run(database, name, alerting)


def _trigger(schedule: ScheduleSpec) -> IntervalTrigger | CronTrigger:
    jitter = int(parse_duration(schedule.jitter).total_seconds()) if schedule.jitter else None
    if schedule.every is not None:
        seconds = int(parse_duration(schedule.every).total_seconds())
        return IntervalTrigger(seconds=seconds, jitter=jitter, timezone=UTC)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=UTC)


def _reads(spec: ConnectorSpec, network: Network) -> bool:
    if isinstance(spec.transport, HttpPushTransportSpec):
        return False
    return isinstance(network.connector(spec.name).message, InboundSpec)


def build_scheduler(
    database: Database,
    network: Network,
    *,
    owner: str,
    dispatch_every: timedelta = timedelta(seconds=5),
    lease: timedelta = timedelta(seconds=60),
) -> BackgroundScheduler:
    """Jobs for every scheduled reading connector and drop folder, and the dispatcher.

    Outbound connectors are not polled: the dispatcher sends their messages when due.
    """
    scheduler = BackgroundScheduler(timezone=UTC)
    config = network.config
    for spec in config.connectors:
        if not spec.enabled or spec.schedule is None or not _reads(spec, network):
            continue
        connector = network.connector(spec.name)
        scheduler.add_job(
            run_leased,
            _trigger(spec.schedule),
            args=(database, spec.name, owner, lambda c=connector: c.run(database)),
            kwargs={"lease": lease, "alerting": config.alerting},
            id=spec.name,
            max_instances=1,
            coalesce=True,
        )
    hook = network.sync_hook()
    for drop in config.case_imports:
        if not drop.enabled or drop.schedule is None:
            continue
        scheduler.add_job(
            run_leased,
            _trigger(drop.schedule),
            args=(
                database,
                drop.name,
                owner,
                lambda d=drop: run_case_import(
                    database, d.name, case_import_transport(d), d.retailer, on_stored=hook
                ),
            ),
            kwargs={"lease": lease, "alerting": config.alerting},
            id=drop.name,
            max_instances=1,
            coalesce=True,
        )
    senders = Senders()
    dispatcher = Dispatcher(
        database,
        lambda row: deliver_any(database, network, row, senders),
        owner=owner,
        lease_seconds=lease.total_seconds(),
        together=ConnectorBatches(database, network),
    )
    scheduler.add_job(
        dispatcher.run_until_idle,
        IntervalTrigger(seconds=max(dispatch_every.total_seconds(), 0.1), timezone=UTC),
        id="dispatcher",
        max_instances=1,
        coalesce=True,
    )
    for spec in config.connectors:
        if spec.enabled and isinstance(spec.transport, HttpPushTransportSpec):
            connector = network.connector(spec.name)
            scheduler.add_job(  # pushes archived but never stored by a process that died
                run_leased,
                args=(database, spec.name, owner, lambda c=connector: c.run(database)),
                kwargs={"lease": lease},
                id=f"{spec.name}-recovery",
            )
    scheduler.add_job(  # breached steps published to their retailers, once each
        publish_leased,
        IntervalTrigger(seconds=SERVICE_LEVELS_EVERY.total_seconds(), timezone=UTC),
        args=(database, network, owner),
        kwargs={"lease": lease},
        id=SERVICE_LEVELS_LEASE,
        max_instances=1,
        coalesce=True,
    )
    return scheduler
