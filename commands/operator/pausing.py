"""``hub pause`` and ``hub resume``: stop a connector on every hub process, and let it
run again."""

from typing import Annotated

import typer

from commands.common import DatabaseOption, NetworkOption, open_database, out
from commands.operator.shared import network_of, operator_name
from hub.errors import ConflictError

# What a command uses is imported in its body, so that `hub --help` starts fast.


def pause(
    connector: Annotated[str, typer.Argument(help="The connector's name.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for whoever looks next.")],
    by: Annotated[str | None, typer.Option(help="Who pauses it (default: your login).")] = None,
    network: NetworkOption = None,
    database: DatabaseOption = None,
) -> None:
    """Stop running a connector on any hub process until `hub resume`."""
    from hub.operators.listings import require_known
    from hub.operators.status import network_status
    from hub.partners.alerts import pause_connector

    opened = network_of(network)
    require_known(opened.config, connector)
    current = network_status(open_database(database), opened).connector(connector)
    if current.direction == "out":
        raise ConflictError(
            f"connector {connector!r} only sends: its messages wait in the outbox and go out "
            "when due; see `hub dead-letters`"
        )
    state = pause_connector(
        open_database(database), connector, reason=reason, by=by or operator_name()
    )
    out.print(f"{connector} paused by {state.by}: {state.reason}", markup=False, highlight=False)


def resume(
    connector: Annotated[str, typer.Argument(help="The connector's name.")],
    network: NetworkOption = None,
    database: DatabaseOption = None,
) -> None:
    """Let a paused connector run again; its failures in a row start again from zero."""
    from hub.operators.listings import require_known
    from hub.partners.alerts import resume_connector

    require_known(network_of(network).config, connector)
    resume_connector(open_database(database), connector)
    out.print(f"{connector} resumed")
