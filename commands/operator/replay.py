"""``hub replay``: archived messages processed again through today's mapping, one message
or a connector's since a date, with a progress bar and a one-line summary."""

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from commands.common import (
    DatabaseOption,
    JsonOption,
    NetworkOption,
    err,
    open_database,
    out,
    write_json,
)
from commands.operator.shared import network_of, operator_name
from hub.errors import ConfigurationError
from hub.operators.jsonable import as_json

if TYPE_CHECKING:
    from hub.partners.replay import ReplayReport

# What the command uses is imported in its body, so that `hub --help` starts fast.


def _since(text: str) -> datetime:
    """A date (its midnight in the operators' zone, the one every table shows times in)
    or a time with its offset; a time without one is ambiguous."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            from hub.config.home import time_zone

            return datetime(day.year, day.month, day.day, tzinfo=time_zone())
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ConfigurationError(
            f"--since {text!r} is neither a date (2026-11-03) nor a time with its offset "
            "(2026-11-03T09:00+01:00)"
        ) from error
    if moment.tzinfo is None:
        raise ConfigurationError(
            f"--since {text!r} has no offset: write 2026-11-03T09:00Z or …T09:00+01:00"
        )
    return moment


def replay_command(
    message: Annotated[
        int | None, typer.Option("--message", help="An archived message id.")
    ] = None,
    connector: Annotated[
        str | None, typer.Option("--connector", help="Replay this connector's messages …")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="… received since this date or time.")
    ] = None,
    network: NetworkOption = None,
    database: DatabaseOption = None,
    as_json_: JsonOption = False,
) -> None:
    """Process archived messages again through today's mapping; only what is new is stored."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from hub.operators.listings import require_known
    from hub.partners.replay import messages_since, replay_connector, replay_message

    opened = network_of(network)
    db = open_database(database)
    requested_by = operator_name()
    if message is not None:
        if connector is not None or since is not None:
            raise ConfigurationError("give either --message, or --connector with --since")
        report = replay_message(db, opened, message, requested_by=requested_by)
    elif connector is not None and since is not None:
        require_known(opened.config, connector)
        start = _since(since)
        total = len(messages_since(db, connector, start))
        with Progress(
            TextColumn("[bold]replaying[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=as_json_,
        ) as progress:
            task = progress.add_task(connector, total=total)
            report = replay_connector(
                db,
                opened,
                connector,
                start,
                requested_by=requested_by,
                on_message=lambda _id: progress.advance(task),
            )
    else:
        raise ConfigurationError("give --message ID, or --connector NAME with --since DATE")
    _print_replay(report, as_json_)


def _print_replay(report: "ReplayReport", as_json_: bool) -> None:
    counts = report.counts
    if as_json_:
        write_json(
            {
                "run_id": report.run_id,
                "connector": report.connector,
                "messages": report.message_ids,
                "counts": as_json(counts),
                "remapped": report.remapped,
                "error": None if report.error is None else report.error.message,
            }
        )
    else:
        out.print(
            f"replay run {report.run_id} of {report.connector}: {len(report.message_ids)} "
            f"message(s), {counts.records_read} record(s), {counts.events_stored} new event(s) "
            f"({report.remapped} now mapped), {counts.duplicates} already stored, "
            f"{counts.unmapped} unmapped, {counts.rejected} rejected"
        )
    if report.error is not None:
        err.print(f"[red]replay failed[/red]: {report.error.message}")
        raise typer.Exit(1)
