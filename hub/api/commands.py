"""`hub retailers …` (tenants and their API keys) and `hub serve-api`.

Register both on the main command line with ``register(app)``. A key's value is printed
once, when it is issued; afterwards only its id exists anywhere.
"""

import math
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from hub.api.listen import GRACE_VARIABLE

if TYPE_CHECKING:
    from hub.retailers.tenants import IssuedKey
    from hub.store.db import Database

# What a command uses is imported in its body, so that `hub --help` and the commands that
# serve nothing start without FastAPI and uvicorn (issue 17).

retailers_app = typer.Typer(help="Retailers (API tenants) and their keys.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: listed by id, never by value.", no_args_is_help=True)
retailers_app.add_typer(keys_app, name="keys")

out = Console()

DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="Database URL (default: $HUB_DATABASE_URL).")
]
RetailerArgument = Annotated[str, typer.Argument(help="The retailer's party id or exact name.")]


def _database(url: str | None) -> "Database":
    from hub.bootstrap import open_database

    return open_database(url)


def _print_key(key: "IssuedKey") -> None:
    out.print(f"API key [bold]{key.id}[/bold] for {key.retailer_id}:")
    out.print(key.token, markup=False, highlight=False, soft_wrap=True)
    out.print("[yellow]Store it now: the hub keeps only its hash and cannot show it again.")


@retailers_app.command("add")
def retailers_add(
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'Maison Électro'.")],
    prefix: Annotated[str, typer.Option("--prefix", help="Case reference prefix, e.g. ME-.")],
    retailer_id: Annotated[
        str | None, typer.Option("--id", help="Party id (default: the name in lower-case-dashes).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Make a retailer a tenant of the API and print its first key, once."""
    from hub.retailers.tenants import add_retailer

    with _database(database).transaction() as connection:
        retailer, key = add_retailer(
            connection, name=name, case_prefix=prefix, party_id=retailer_id
        )
    out.print(f"retailer {retailer.id} ({retailer.name}), case prefix {retailer.case_prefix}")
    _print_key(key)


@keys_app.command("create")
def keys_create(retailer: RetailerArgument, database: DatabaseOption = None) -> None:
    """Issue another key for a retailer (to rotate: create, switch, then revoke the old)."""
    from hub.retailers.tenants import find_retailer, issue_key

    with _database(database).transaction() as connection:
        key = issue_key(connection, find_retailer(connection, retailer).id)
    _print_key(key)


@keys_app.command("list")
def keys_list(retailer: RetailerArgument, database: DatabaseOption = None) -> None:
    """A retailer's keys by id, with when each was created, last used and revoked."""
    from rich.table import Table

    from hub.config.home import time_zone
    from hub.operators.times import shown
    from hub.retailers.tenants import find_retailer
    from hub.store.tenants import list_keys

    with _database(database).reading() as connection:
        tenant = find_retailer(connection, retailer)
        keys = list_keys(connection, tenant.id)
    table = Table("key id", "created", "last used", "revoked", title=f"API keys of {tenant.id}")
    zone = time_zone()
    for key in keys:
        table.add_row(
            key.id,
            shown(key.created_at, zone),
            shown(key.last_used_at, zone) if key.last_used_at else "never",
            shown(key.revoked_at, zone) if key.revoked_at else "",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id `keys list` shows.")],
    database: DatabaseOption = None,
) -> None:
    """Revoke a key: every request with it answers 401 from now on."""
    from hub.config.home import time_zone
    from hub.operators.times import shown
    from hub.retailers.tenants import revoke_key

    with _database(database).transaction() as connection:
        key = revoke_key(connection, key_id)
    assert key.revoked_at is not None
    when = shown(key.revoked_at, time_zone())
    out.print(f"key {key.id} of {key.retailer_id} revoked at {when}")


@retailers_app.command("endpoints")
def retailers_endpoints(retailer: RetailerArgument, database: DatabaseOption = None) -> None:
    """The webhook endpoints a retailer registered through the API (never their secrets):
    where the hub POSTs its events, beside connectors.yaml's webhook."""
    from rich.table import Table

    from hub.retailers.tenants import find_retailer
    from hub.retailers.webhook_endpoints import list_endpoints

    with _database(database).reading() as connection:
        tenant = find_retailer(connection, retailer)
        endpoints = []
        after: str | None = None
        while True:
            page = list_endpoints(connection, tenant, after=after, limit=100)
            endpoints += page.items
            if page.next_cursor is None:
                break
            after = page.next_cursor
    if not endpoints:
        out.print(f"{tenant.id} has registered no webhook endpoint through the API.")
        return
    table = Table(title=f"Webhook endpoints of {tenant.id}")
    table.add_column("id", no_wrap=True)  # copied whole into other commands
    table.add_column("url", no_wrap=True)
    for heading in ("events", "enabled", "created", "previous secret until"):
        table.add_column(heading)
    for endpoint in endpoints:
        until = endpoint.previous_secret_expires_at
        table.add_row(
            endpoint.id,
            endpoint.url,
            ", ".join(endpoint.event_types),
            "yes" if endpoint.enabled else "no",
            endpoint.created_at.isoformat(timespec="seconds"),
            until.isoformat(timespec="seconds") if until else "",
            style=None if endpoint.enabled else "dim",
        )
    out.print(table)


def serve_api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    database: DatabaseOption = None,
    network: Annotated[
        Path | None, typer.Option(help="The network file, for partner push endpoints.")
    ] = None,
    grace_seconds: Annotated[
        float,
        typer.Option(
            envvar=GRACE_VARIABLE,
            help="On SIGTERM, how long to finish the requests in flight before exiting anyway.",
        ),
    ] = 30.0,
) -> None:
    """Serve the retailer API and partner pushes (uvicorn) on HOST:PORT.

    On SIGTERM, as `hub serve`: /readyz answers 503, the socket closes, and the requests
    in flight are answered within the grace period."""
    from hub.api.graceful import GracefulServer
    from hub.api.listen import require_free_port
    from hub.api.proxies import server_config
    from hub.bootstrap import open_hub, process_owner

    require_free_port(host, port)
    with open_hub(
        database=database,
        network=network,
        owner=process_owner(),
        network_required=False,
        serving=True,
    ) as hub:
        config = server_config(
            hub.app(),
            host=host,
            port=port,
            timeout_graceful_shutdown=max(math.ceil(grace_seconds), 1),
        )
        # uvicorn restores this handler after its own and raises the signal it caught
        # again: the process then exits 0 once its requests are answered, not by SIGTERM.
        signal.signal(signal.SIGTERM, lambda _sig, _frame: hub.stopping.set())
        GracefulServer(config, hub.stopping).run()


def register(app: typer.Typer) -> None:
    """Add `retailers` and `serve-api` to the main command line."""
    app.add_typer(retailers_app, name="retailers")
    app.command("serve-api")(serve_api)
