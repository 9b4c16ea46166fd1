"""How `hub serve` runs once its options are read: uvicorn, the scheduler and the stop
on SIGTERM (the module docstring of commands.serve tells the whole story). Apart from the
command so that only `hub serve` imports uvicorn, APScheduler and FastAPI (issue 17)."""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from commands.common import out
from hub.api.graceful import GracefulServer
from hub.api.listen import require_free_port
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


def run_serving(
    *,
    host: str,
    port: int,
    database: str | None,
    network: Path | None,
    dispatch_every: float,
    lease_seconds: float,
    grace_seconds: float,
    deliveries_per_receiver: int,
) -> None:
    """Serve until stopped, then give back what is held within the grace period."""
    configure_logging(default="info")
    require_free_port(host, port)
    with open_hub(
        database=database,
        network=network,
        owner=process_owner(),
        serving=True,
        lease=timedelta(seconds=lease_seconds),
        deliveries_per_receiver=deliveries_per_receiver,
    ) as hub:
        # The app first: its imports take seconds on a busy machine, and the dispatcher's
        # threads, started with the scheduler, would slow them down further.
        app = hub.app()
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
            app,
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
