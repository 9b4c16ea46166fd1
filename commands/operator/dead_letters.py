"""``hub dead-letters``: outbox messages that gave up, listed, or sent again."""

from typing import Annotated

import typer

from commands.common import (
    DatabaseOption,
    JsonOption,
    at,
    open_database,
    open_plain,
    out,
    unbroken,
    write_json,
)
from hub.errors import ConfigurationError
from hub.operators.jsonable import as_json

# What a command uses is imported in its body, so that `hub --help` starts fast.

dead_letters_app = typer.Typer(
    help="Outbox messages that gave up: list them, or retry them.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@dead_letters_app.callback()
def list_dead_letters(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    database: DatabaseOption = None,
    as_json_: JsonOption = False,
) -> None:
    """Messages that could not be delivered, with their last error."""
    if ctx.invoked_subcommand is not None:
        return
    show_dead_letters(target, database, as_json_)


def show_dead_letters(target: str | None, database: str | None, as_json_: bool) -> None:
    """The one listing of dead letters (`hub dead-letters` and `hub outbox dead-letters`)."""
    from rich.table import Table

    from hub.store.plain_reads import dead_letters  # no SQLAlchemy (issue 17)

    with open_plain(database) as db:
        rows, waiting = dead_letters(db, target)
    if as_json_:
        for row in rows:
            write_json(
                {
                    "id": row.id,
                    "target": row.target,
                    "kind": row.kind,
                    "case_ref": row.case_ref,
                    "attempts": row.attempts,
                    "created_at": as_json(row.created_at),
                    "last_error": row.last_error,
                    "holds_back": [message.id for message in waiting.get(row.id, [])],
                }
            )
        return
    if not rows:
        out.print("No dead letter: every message went out or waits its turn.")
        return
    table = unbroken(
        Table("id", "target", "message", "case", "attempts", "created", "last error", "holds back"),
        "case",
    )
    for row in rows:
        table.add_row(
            str(row.id),
            row.target,
            row.kind,
            row.case_ref or "",
            str(row.attempts),
            at(row.created_at, seconds=False),
            row.last_error or "",
            ", ".join(f"#{m.id} {m.kind} to {m.target}" for m in waiting.get(row.id, [])),
        )
    out.print(table, markup=False, highlight=False)
    out.print(f"{len(rows)} dead letter(s); `hub dead-letters retry ID` or `--all` sends again")


@dead_letters_app.command("retry")
def retry_dead_letters(
    message_id: Annotated[int | None, typer.Argument(help="The dead letter's id.")] = None,
    retry_all: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    database: DatabaseOption = None,
) -> None:
    """Send dead letters again, now, with fresh attempts (the dispatcher sends them)."""
    from hub.sync.outbox import dead_letters, replay

    db = open_database(database)
    if (message_id is None) == (not retry_all):
        raise ConfigurationError("give a dead letter's ID, or --all")
    ids = [row.id for row in dead_letters(db)] if retry_all else [message_id]
    for one in ids:
        assert one is not None
        replay(db, one)
    out.print(f"{len(ids)} message(s) due again")
