"""The hub's jobs and the scheduler that fires them: every reading connector and drop
folder on its schedule, the dispatcher, the service-level check, retention, the feed's
stored statuses.

`HubJobs` is each job callable on its own, so the demo drives the very same work on its
own clock; every run goes through the run supervisor (lease, run record, error
classification, alerting: hub.partners.supervisor). APScheduler only decides when.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from hub.clock import Clock, system_clock
from hub.config.connector_spec import (
    CaseImportSpec,
    ConnectorSpec,
    ScheduleSpec,
    parse_duration,
)
from hub.config.secrets import missing_secrets
from hub.errors import ConfigurationError
from hub.logs import log_context
from hub.mapping.spec import InboundSpec
from hub.operators.retention import LEASE_NAME as RETENTION_LEASE
from hub.operators.retention import RetentionResult, retention_leased
from hub.partners.connectors import Network, case_import_transport
from hub.partners.ingest.report import RunReport
from hub.partners.supervisor import RunSupervisor
from hub.retailers.case_import_runs import import_drop_folder
from hub.retailers.feed import fill_feed_statuses
from hub.sla.publish import EVERY as SERVICE_LEVELS_EVERY
from hub.sla.publish import LEASE_NAME as SERVICE_LEVELS_LEASE
from hub.sla.publish import PublishResult, publish_leased
from hub.sync.outbox import Dispatcher, DispatchResult
from hub.sync.requirements import route_check

logger = logging.getLogger(__name__)

FEED_STATUSES_EVERY = timedelta(seconds=5)
"""How often the feed's new entries get their status-after stored; a page computes it for
those not stored yet, so this only bounds how many a page may have to compute."""


@dataclass(frozen=True)
class HubJobs:
    """The hub's recurring work over one network, one method per job."""

    network: Network
    supervisor: RunSupervisor
    dispatcher: Dispatcher
    clock: Clock = system_clock
    """The hub's one clock: breaches are looked for as of its "now"."""

    def check_runnable(self, name: str) -> None:
        """Refuse, before any lease or record, a name that is no drop folder and no
        connector that reads (an operator's typo, an outbound connector)."""
        if self.network.config.case_import(name) is not None:
            return
        if not self.network.connector(name).inbound:
            raise ConfigurationError(f"connector {name!r} only sends; it has nothing to run")

    def run(self, name: str, *, ignore_backoff: bool = False) -> RunReport | None:
        """One supervised run of a connector or a retailer's drop folder; None when the
        lease is not to be had. Everything the run needs (its mapping, its transport and
        the secrets it reads) is built inside it, so a failure there is recorded."""
        database = self.supervisor.database
        drop = self.network.config.case_import(name)
        if drop is not None:
            partner = drop.retailer

            def work(report: RunReport) -> None:
                transport = case_import_transport(drop)
                hook = self.network.sync_hook()
                check = route_check(self.network)
                import_drop_folder(
                    database, transport, drop.retailer, report, on_stored=hook, route_check=check
                )

        else:
            partner = self.network.connector(name).spec.partner

            def work(report: RunReport) -> None:
                self.network.connector(name).read(database, report)

        with log_context(connector=name, partner=partner):
            return self.supervisor.run(
                name, partial(RunReport, connector=name), work, ignore_backoff=ignore_backoff
            )

    def dispatch(self) -> DispatchResult:
        """Send every outbox message due, until none is."""
        return self.dispatcher.run_until_idle()

    def serve_outbox(self, every: float, halt: threading.Event) -> None:
        """The dispatcher's loop, for as long as the scheduler runs: a round whenever a
        message is queued in this process, and every ``every`` seconds anyway (messages
        queued by other processes, retries coming due)."""
        self.dispatcher.serve(every, halt=halt)

    def publish_breaches(self, *, now: datetime | None = None) -> PublishResult | None:
        """Publish the service-level breaches not published yet, under their lease (not
        once the process is stopping)."""
        supervisor = self.supervisor
        if supervisor.stopping is not None and supervisor.stopping.is_set():
            return None
        return publish_leased(
            supervisor.database,
            self.network,
            supervisor.owner,
            lease=supervisor.lease,
            now=now or self.clock(),
        )

    def fill_feed_statuses(self) -> int | None:
        """Store the status-after of the feed's entries that can have it now (not once
        the process is stopping). No lease: two processes at once store the same values."""
        supervisor = self.supervisor
        if supervisor.stopping is not None and supervisor.stopping.is_set():
            return None
        return fill_feed_statuses(supervisor.database, stopping=supervisor.stopping)

    def apply_retention(self) -> RetentionResult | None:
        """Remove what is past its retention period, under the "retention" lease (not once
        the process is stopping); a batch per transaction, within half the lease."""
        supervisor = self.supervisor
        return retention_leased(
            supervisor.database,
            self.network.config.retention,
            supervisor.owner,
            lease=supervisor.lease,
            stopping=supervisor.stopping,
        )

    def reading(self) -> list[str]:
        """The connectors polled on their schedule: those that read, pushes excepted."""
        return [
            spec.name
            for spec in self.network.config.connectors
            if spec.enabled
            and not spec.pushed
            and isinstance(self.network.connector(spec.name).message, InboundSpec)
        ]

    def not_configured(self) -> dict[str, list[str]]:
        """Each connector and drop folder whose secrets this process lacks -> the
        environment variables to set (a partner added before its credentials came)."""
        config = self.network.config
        specs: list[ConnectorSpec | CaseImportSpec] = [*config.connectors, *config.case_imports]
        missing = {s.name: missing_secrets(s.secret_names()) for s in specs if s.enabled}
        return {name: variables for name, variables in missing.items() if variables}


def _trigger(schedule: ScheduleSpec) -> IntervalTrigger | CronTrigger:
    jitter = int(parse_duration(schedule.jitter).total_seconds()) if schedule.jitter else None
    if schedule.every is not None:
        seconds = int(parse_duration(schedule.every).total_seconds())
        return IntervalTrigger(seconds=seconds, jitter=jitter, timezone=UTC)
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=UTC)


class HubScheduler(BackgroundScheduler):  # type: ignore[misc]  # APScheduler is untyped
    """A scheduler that tells its long-running job (the dispatcher's loop) to end before
    it shuts down and waits for its jobs."""

    def __init__(self, *, before_shutdown: Callable[[], None], **options: object) -> None:
        super().__init__(**options)
        self._before_shutdown = before_shutdown

    def shutdown(self, wait: bool = True) -> None:
        self._before_shutdown()
        super().shutdown(wait=wait)


def build_scheduler(
    jobs: HubJobs, *, dispatch_every: timedelta = timedelta(seconds=5)
) -> BackgroundScheduler:
    """Jobs for every scheduled reading connector and drop folder, and the dispatcher.

    Outbound connectors are not polled: the dispatcher sends their messages when due,
    woken by each message queued in this process and every ``dispatch_every`` anyway.
    One whose secrets are not set here is still scheduled, and said so in the log: each
    run records its failure, naming the variables, so that every hub process sharing the
    database shows it not configured (`hub status`), and alerting flags, then pauses it
    with that reason, as for any connector that cannot do its work.
    """
    halt = threading.Event()
    scheduler = HubScheduler(before_shutdown=halt.set, timezone=UTC)
    config = jobs.network.config
    for name, variables in jobs.not_configured().items():
        logger.warning("%s is not configured: %s not set", name, ", ".join(variables))
    every = {spec.name: spec.schedule for spec in config.connectors if spec.schedule}
    for name in jobs.reading():
        schedule = every.get(name)
        if schedule is not None:
            scheduler.add_job(
                jobs.run, _trigger(schedule), args=(name,), id=name, max_instances=1, coalesce=True
            )
    for drop in config.case_imports:
        if drop.enabled and drop.schedule is not None:
            scheduler.add_job(
                jobs.run,
                _trigger(drop.schedule),
                args=(drop.name,),
                id=drop.name,
                max_instances=1,
                coalesce=True,
            )
    scheduler.add_job(  # started once, it runs until the scheduler shuts down
        jobs.serve_outbox,
        args=(max(dispatch_every.total_seconds(), 0.1), halt),
        id="dispatcher",
        misfire_grace_time=None,
    )
    for spec in config.connectors:
        if spec.enabled and spec.pushed:
            # pushes archived but never stored by a process that died: once, at the start
            scheduler.add_job(jobs.run, args=(spec.name,), id=f"{spec.name}-recovery")
    scheduler.add_job(  # breached steps published to their retailers, once each
        jobs.publish_breaches,
        IntervalTrigger(seconds=SERVICE_LEVELS_EVERY.total_seconds(), timezone=UTC),
        id=SERVICE_LEVELS_LEASE,
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(  # each feed entry's status-after stored once it is final
        jobs.fill_feed_statuses,
        IntervalTrigger(seconds=FEED_STATUSES_EVERY.total_seconds(), timezone=UTC),
        id="feed-statuses",
        max_instances=1,
        coalesce=True,
    )
    retention_every = parse_duration(config.retention.every).total_seconds()
    scheduler.add_job(  # old data removed, closed cases anonymised, a batch at a time
        jobs.apply_retention,
        IntervalTrigger(seconds=retention_every, timezone=UTC),
        id=RETENTION_LEASE,
        max_instances=1,
        coalesce=True,
    )
    return scheduler
