"""`hub serve`: the API, the partner push endpoints, the scheduler and the dispatcher.

Run one per machine, or several on the same PostgreSQL: leases share the work.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Annotated

import typer
import uvicorn

from commands.common import DatabaseOption, NetworkOption, network_path, open_database, out
from hub.api.app import create_app
from hub.api.proxies import server_config
from hub.errors import ConfigurationError
from hub.partners.connectors import open_network
from hub.partners.schedule import build_scheduler
from hub.store.migrate import current_revision, head_revision


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
    db = open_database(database)
    if current_revision(db) != head_revision(db):
        raise ConfigurationError("the database schema is not up to date: run `hub db upgrade`")
    partners = open_network(network_path(network))
    owner = f"{socket.gethostname()}:{os.getpid()}"
    scheduler = build_scheduler(
        db,
        partners,
        owner=owner,
        dispatch_every=timedelta(seconds=dispatch_every),
        lease=timedelta(seconds=lease_seconds),
    )
    scheduler.start()
    out.print(f"hub serving on http://{host}:{port} as {owner}; {len(scheduler.get_jobs())} jobs")
    try:
        uvicorn.Server(server_config(create_app(db, partners), host=host, port=port)).run()
    finally:
        scheduler.shutdown(wait=True)
