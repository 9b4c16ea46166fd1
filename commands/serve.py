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

from typing import Annotated

import typer

from commands.common import DatabaseOption, NetworkOption
from hub.api.listen import GRACE_VARIABLE
from hub.sync import DELIVERIES_PER_RECEIVER, DELIVERIES_PER_RECEIVER_VARIABLE


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    database: DatabaseOption = None,
    network: NetworkOption = None,
    dispatch_every: Annotated[
        float,
        typer.Option(
            help="Seconds between two rounds of the dispatcher at most: a message queued "
            "by this process (a push's webhook) wakes it at once."
        ),
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
    deliveries_per_receiver: Annotated[
        int,
        typer.Option(
            envvar=DELIVERIES_PER_RECEIVER_VARIABLE,
            min=1,
            help="Outbox deliveries in flight at once to one retailer's webhook, per "
            "process; 1 sends one message at a time (a partner's connector always gets one "
            "at a time).",
        ),
    ] = DELIVERIES_PER_RECEIVER,
) -> None:
    """Serve the hub: API and pushes on HOST:PORT, connectors on schedule, the outbox sent."""
    from commands.serving import run_serving  # uvicorn, APScheduler, FastAPI: here only

    run_serving(
        host=host,
        port=port,
        database=database,
        network=network,
        dispatch_every=dispatch_every,
        lease_seconds=lease_seconds,
        grace_seconds=grace_seconds,
        deliveries_per_receiver=deliveries_per_receiver,
    )
