"""`hub serve`: the API, the partner push endpoints, the scheduler and the dispatcher.

Run one per machine, or several on the same PostgreSQL: leases share the work.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
import uvicorn

from commands.common import DatabaseOption, NetworkOption, out
from hub.api.proxies import server_config
from hub.bootstrap import open_hub, process_owner


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
) -> None:
    """Serve the hub: API and pushes on HOST:PORT, connectors on schedule, the outbox sent."""
    with open_hub(
        database=database,
        network=network,
        owner=process_owner(),
        serving=True,
        lease=timedelta(seconds=lease_seconds),
    ) as hub:
        scheduler = hub.scheduler(dispatch_every=timedelta(seconds=dispatch_every))
        scheduler.start()
        jobs = len(scheduler.get_jobs())
        out.print(f"hub serving on http://{host}:{port} as {hub.owner}; {jobs} jobs")
        for name, variables in hub.jobs.not_configured().items():
            out.print(f"{name}: not configured ({', '.join(variables)} not set)", markup=False)
        try:
            uvicorn.Server(server_config(hub.app(), host=host, port=port)).run()
        finally:
            scheduler.shutdown(wait=True)
