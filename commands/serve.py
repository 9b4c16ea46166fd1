"""`hub serve`: the API, the partner push endpoints, the scheduler and the dispatcher.

Run one per machine, or several on the same PostgreSQL: leases share the work.

On SIGTERM (a deploy, an orchestrator scaling down) the process stops taking work and
gives back what it holds before it exits: /readyz answers 503 and the listening socket
closes, requests in flight are answered, no connector run and no outbox claim starts,
the delivery in flight is finished and marked, the messages claimed but not sent yet
are handed back at once, and a connector run in progress finishes and frees its lease.
All of it within the grace period (``--grace-seconds``, $HUB_SHUTDOWN_GRACE), then exit
0; past it, the process exits 1 and what it still holds waits for its lease to expire.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from datetime import timedelta
from typing import Annotated

import typer
from apscheduler.schedulers.background import BackgroundScheduler

from commands.common import DatabaseOption, NetworkOption, out
from hub.api.listen import GRACE_VARIABLE, GracefulServer, require_free_port
from hub.api.proxies import server_config
from hub.bootstrap import open_hub, process_owner
from hub.logs import configure_logging

logger = logging.getLogger("hub.serve")


def stop_jobs(scheduler: BackgroundScheduler, seconds: float) -> bool:
    """Stop firing jobs and wait up to ``seconds`` for those running (each sees the stop
    and returns what it holds); False when some are still running then."""
    waiting = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
    waiting.start()
    waiting.join(max(seconds, 0.0))
    return not waiting.is_alive()


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    database: DatabaseOption = None,
    network: NetworkOption = None,
    dispatch_every: Annotated[
        float, typer.Option(help="Seconds between two rounds of the dispatcher.")
    ] = 5.0,
    lease_seconds: Annotated[
        float,
        typer.Option(
            help="How long a claim of this process lasts without news: an outbox message "
            "while it is sent, a connector while it runs (renewed as it goes on)."
        ),
    ] = 60.0,
    grace_seconds: Annotated[
        float,
        typer.Option(
            envvar=GRACE_VARIABLE,
            help="On SIGTERM, how long to finish requests, deliveries and runs in flight "
            "before exiting anyway.",
        ),
    ] = 30.0,
) -> None:
    """Serve the hub: API and pushes on HOST:PORT, connectors on schedule, the outbox sent."""
    configure_logging(default="info")
    require_free_port(host, port)
    with open_hub(
        database=database,
        network=network,
        owner=process_owner(),
        serving=True,
        lease=timedelta(seconds=lease_seconds),
    ) as hub:
        scheduler = hub.scheduler(dispatch_every=timedelta(seconds=dispatch_every))
        # uvicorn restores this handler after its own, and raises the signal it caught
        # again: a second stop request changes nothing, it does not kill the process.
        signal.signal(signal.SIGTERM, lambda _sig, _frame: hub.stopping.set())
        scheduler.start()
        jobs = len(scheduler.get_jobs())
        out.print(f"hub serving on http://{host}:{port} as {hub.owner}; {jobs} jobs")
        for name, variables in hub.jobs.not_configured().items():
            out.print(f"{name}: not configured ({', '.join(variables)} not set)", markup=False)
        config = server_config(
            hub.app(),
            host=host,
            port=port,
            log_config=None,  # uvicorn's lines go through the hub's own (hub.logs),
            log_level=None,  # at the levels HUB_LOG_LEVEL gives
            timeout_graceful_shutdown=max(math.ceil(grace_seconds), 1),
        )
        server = GracefulServer(config, hub.stopping)
        try:
            server.run()
        finally:
            hub.stopping.set()
            began = server.asked_at if server.asked_at is not None else time.monotonic()
            left = grace_seconds - (time.monotonic() - began)
            stopped = stop_jobs(scheduler, left)
        if not stopped:
            logger.error(
                "grace period of %ss over with work still running: its leases expire "
                "within %ss and another process takes it over",
                grace_seconds,
                lease_seconds,
            )
            logging.shutdown()
            os._exit(1)  # the running job's thread would keep the interpreter alive
        logger.info("stopped: nothing held any more")
