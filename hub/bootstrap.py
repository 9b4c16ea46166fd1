"""The composition root: the hub of one process, built once, the same way whichever
command runs it.

`hub serve`, `hub run`, `hub serve-api` and `hub demo` all build a `Hub` here: the
database, the network (connectors.yaml), the senders that keep connections to
retailers' webhooks, the run supervisor (leases, run records, alerting), the jobs and
their scheduler, and the API app with its console. Nothing connects until used.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from hub.clock import Clock, system_clock
from hub.closing import Closing
from hub.config.home import hub_clock
from hub.config.variables import database_url, network_file
from hub.errors import ConfigurationError, TransientError
from hub.logs import masker
from hub.partners.leases import LEASE
from hub.store.db import Database, StoreError
from hub.store.migrate import current_revision, head_revision, known_revision
from hub.sync import DELIVERIES_PER_RECEIVER

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from fastapi import FastAPI

    from hub.partners.ingest.report import RunReport
    from hub.partners.network import Network
    from hub.partners.schedule import HubJobs
    from hub.sync.delivery import Deliveries
    from hub.sync.outbox import Dispatcher

# The jobs, the outbox and the API are imported where a Hub builds them: the commands
# that only open the database (`hub status`, listings) start without them (issue 17).


@dataclass(frozen=True)
class Retries:
    """How the outbox retries a message that could not be sent (the demo's story runs in
    minutes, so it retries in seconds where `hub serve` waits up to an hour)."""

    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 3600.0


OUTBOX_BATCH = 100
"""Messages a dispatcher claims at once (and tops up as they go): all of them must be
sent within the lease, at ``DELIVERIES_PER_RECEIVER`` at a time."""


def process_owner(prefix: str = "") -> str:
    """This process's name on leases and outbox claims: host and pid."""
    return f"{prefix}{socket.gethostname()}:{os.getpid()}"


class Hub(Closing):
    """The hub of one process. Close it (or use it as a context manager) to close the
    senders' connections."""

    def __init__(
        self,
        database: Database,
        network: Network | None,
        *,
        owner: str,
        lease: timedelta = LEASE,
        retries: Retries = Retries(),
        clock: Clock = system_clock,
        deliveries_per_receiver: int = DELIVERIES_PER_RECEIVER,
    ) -> None:
        from hub.partners.schedule import HubJobs
        from hub.partners.supervisor import RunSupervisor
        from hub.sync.delivery import ConnectorBatches, Deliveries, Senders
        from hub.sync.failures import tell_retailer_of_failures
        from hub.sync.outbox import Bell, Dispatcher

        queued = Bell()
        self.queued = queued
        """This process's bell: every write path of the network rings it once a message
        it queued has committed, and the dispatcher's loop wakes on it."""
        if network is not None:
            network = network.ringing(queued.ring)
        self.database = database
        self.clock = clock
        """The hub's one clock, handed to service levels, the console and the API."""
        self.network = network
        self.stopping = threading.Event()
        """Set when the process is asked to stop (SIGTERM): no new run, no new claim,
        and /readyz answers 503 so that the load balancer stops sending work."""
        self.senders = Senders()
        alerting = None if network is None else network.config.alerting
        self.supervisor = RunSupervisor(
            database, owner, alerting=alerting, lease=lease, stopping=self.stopping
        )
        self._jobs: HubJobs | None = None
        self._dispatcher: Dispatcher | None = None
        self._deliveries: Deliveries | None = None
        if network is not None:
            masker.add_variables(secret_variables_of(network))
            deliveries = Deliveries(database, network, self.senders)
            dispatcher = Dispatcher(
                database,
                deliveries,
                owner=owner,
                max_attempts=retries.max_attempts,
                base_delay=retries.base_delay,
                max_delay=retries.max_delay,
                lease_seconds=lease.total_seconds(),
                together=ConnectorBatches(database, network),
                stopping=self.stopping,
                on_dead=tell_retailer_of_failures(network.config, queued.ring),
                concurrency=deliveries_per_receiver,
                batch_size=OUTBOX_BATCH,
                prefetch=deliveries.prefetch,
                overlaps=deliveries.overlaps,
                bell=queued,
            )
            self._dispatcher = dispatcher
            self._deliveries = deliveries
            self._jobs = HubJobs(network, self.supervisor, dispatcher, clock=clock)

    @property
    def owner(self) -> str:
        return self.supervisor.owner

    @property
    def jobs(self) -> HubJobs:
        """The jobs; only a hub with a network has any."""
        if self._jobs is None:
            raise ConfigurationError("no network file: the hub has no connectors to run")
        return self._jobs

    def app(self) -> FastAPI:
        """The retailer API, the partners' push endpoints and the operator console."""
        from hub.api.app import create_app  # FastAPI only for the commands that serve

        return create_app(self.database, self.network, stopping=self.stopping, clock=self.clock)

    def scheduler(self, *, dispatch_every: timedelta = timedelta(seconds=5)) -> BackgroundScheduler:
        """Every job on its schedule (not started yet); the webhooks' clients built."""
        from hub.partners.schedule import build_scheduler

        if self._deliveries is not None:
            self._deliveries.warm()

        return build_scheduler(self.jobs, dispatch_every=dispatch_every)

    def run_now(self, name: str) -> RunReport | None:
        """An operator's run of a connector or drop folder: leased like a scheduled one,
        but not kept waiting by the backoff that follows a failure."""
        self.jobs.check_runnable(name)
        return self.jobs.run(name, ignore_backoff=True)

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.close()
        self.senders.close()


def secret_variables_of(network: Network) -> list[str]:
    """Every environment variable the network names for a secret: their values are
    masked in the logs, whatever logs them."""
    config = network.config
    names = [name for spec in config.connectors for name in spec.secret_names().values()]
    names += [name for drop in config.case_imports for name in drop.secret_names().values()]
    return names + [webhook.secret_env for webhook in config.webhooks]


MIGRATE_HINT = "run `hub up` (or `hub db upgrade`) to migrate it"


def require_schema(database: Database) -> None:
    """A command on a database without the hub's schema would fail at its first query
    with a traceback, after creating an empty SQLite file: refuse it in one line instead,
    creating nothing."""
    file = database.sqlite_file()
    if file is not None and not file.exists():
        raise ConfigurationError(f"no database at {file}: run `hub up` to create it")
    if _revision(database) is None:
        raise ConfigurationError(f"{database.safe_url()} has no hub schema: run `hub up`")


def require_current_schema(database: Database) -> None:
    """Serving an old schema would fail at the first query: say what to do instead."""
    require_schema(database)
    current, head = _revision(database), head_revision(database)
    if current is not None and current != head and not known_revision(database, current):
        raise ConfigurationError(
            f"database schema is at {current}, which this release does not know: a newer "
            "release migrated it; deploy that release (never serve an older one on it)"
        )
    if current != head:
        raise ConfigurationError(
            f"database schema is at {current or 'nothing'}, not {head}: {MIGRATE_HINT}"
        )


def _revision(database: Database) -> str | None:
    """The schema's revision; an unreachable database is a passing fault, said in a line."""
    try:
        return current_revision(database)
    except StoreError as error:
        reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or ["?"])[0]
        raise TransientError(f"cannot reach {database.safe_url()}: {reason}") from error


def open_database(url: str | None = None, *, schema_required: bool = True) -> Database:
    """The database from its URL (default $HUB_DATABASE_URL), refused unless it holds the
    hub's schema; ``schema_required=False`` for the commands that create or inspect it."""
    database = Database(url or database_url())
    if schema_required:
        require_schema(database)
    return database


def open_hub(
    *,
    database: str | None,
    network: Path | None,
    owner: str,
    network_required: bool = True,
    serving: bool = False,
    lease: timedelta = LEASE,
    deliveries_per_receiver: int = DELIVERIES_PER_RECEIVER,
) -> Hub:
    """The hub from the settings: the database URL (default $HUB_DATABASE_URL) and the
    network file (default $HUB_CONNECTORS or connectors.yaml). ``serving``: refuse a
    database whose schema is behind the code. Without ``network_required``, a missing
    network file leaves the hub without connectors (the API alone)."""
    db = open_database(database)
    if serving:
        require_current_schema(db)
    path = network or network_file()
    from hub.partners.network import open_network  # the commands that read the store alone

    partners = open_network(path) if network_required or path.exists() else None
    return Hub(
        db,
        partners,
        owner=owner,
        lease=lease,
        clock=hub_clock(),
        deliveries_per_receiver=deliveries_per_receiver,
    )
