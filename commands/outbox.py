"""The outbox: send what is due now, list dead letters, replay or discard one."""

from typing import Annotated

import typer

from commands.common import DatabaseOption, JsonOption, NetworkOption, open_database, out
from commands.operator.dead_letters import show_dead_letters

# What a command uses is imported in its body, so that `hub --help` starts fast.

app = typer.Typer(
    help="Messages waiting to go out to partners and retailers.", no_args_is_help=True
)


@app.command("dispatch")
def dispatch(
    network: NetworkOption = None,
    database: DatabaseOption = None,
    owner: Annotated[str, typer.Option(help="This dispatcher's name in the leases.")] = "cli",
) -> None:
    """Deliver every message that is due now, retrying and dead-lettering as configured."""
    from hub.bootstrap import open_hub

    with open_hub(database=database, network=network, owner=owner) as hub:
        result = hub.jobs.dispatch()
    out.print(
        f"{result.delivered} delivered, {result.retried} to retry later, "
        f"{result.dead} dead-lettered"
    )


@app.command("dead-letters")
def list_dead_letters(
    database: DatabaseOption = None,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Messages that could not be delivered, with the last error; replay or discard them."""
    show_dead_letters(target, database, as_json)


@app.command("replay")
def replay_message(message_id: int, database: DatabaseOption = None) -> None:
    """Send a dead-lettered message again (attempts reset, due now)."""
    from hub.sync.outbox import replay

    replay(open_database(database), message_id)
    out.print(f"message {message_id} is due again")


@app.command("discard")
def discard_message(message_id: int, database: DatabaseOption = None) -> None:
    """Give up on a message for good; later messages of its case can then go out."""
    from hub.sync.outbox import discard

    discard(open_database(database), message_id)
    out.print(f"message {message_id} discarded")
