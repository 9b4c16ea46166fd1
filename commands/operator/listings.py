"""Operator commands: the network's health, runs, rejects, pause and resume, replay,
dead letters. Every listing takes ``--json`` for scripts (one document for ``status``,
JSON lines for the others)."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from commands.common import DatabaseOption, NetworkOption, err, network_path, open_database, out
from hub.errors import ConfigurationError, ConflictError
from hub.operators.jsonable import as_json
from hub.operators.listings import (
    recent_rejects,
    recent_runs,
    replay_run_ids,
    require_known,
    unmapped_codes,
)
from hub.operators.status import ConnectorState, ConnectorStatus, network_status
from hub.partners.alerts import pause_connector, resume_connector
from hub.partners.connectors import Network, open_network
from hub.partners.replay import ReplayReport, messages_since, replay_connector, replay_message
from hub.partners.runs import RunOutcome, RunRecord
from hub.store.case_links import unlinked_events
from hub.sync.outbox import dead_letters, replay

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output, for scripts.")]

STATE_STYLE = {
    ConnectorState.OK: "green",
    ConnectorState.FAILING: "red",
    ConnectorState.PAUSED: "magenta",
    ConnectorState.BACKING_OFF: "yellow",
    ConnectorState.NEVER_RUN: "dim",
    ConnectorState.DISABLED: "dim",
    ConnectorState.NOT_CONFIGURED: "yellow",
}


def _write_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    delta = now - moment
    return f"{_span(delta)} ago" if delta >= timedelta() else f"in {_span(-delta)}"


def _span(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}"
    return f"{seconds // 86400}d"


def _network(network: NetworkOption) -> Network:
    return open_network(network_path(network))


def status(
    network: NetworkOption = None, database: DatabaseOption = None, as_json_: JsonOption = False
) -> None:
    """Every connector: state, last run, lag since last success, rows, next run; the outbox."""
    current = network_status(open_database(database), _network(network))
    if as_json_:
        _write_json(as_json(current))
        return
    now = current.generated_at
    table = Table(title="Connectors")
    table.add_column("connector", no_wrap=True)
    for heading in ("dir", "state", "last run", "lag", "read", "rejected", "unmapped"):
        table.add_column(heading)
    table.add_column("next run")
    table.add_column("flags", ratio=1)
    for connector in current.connectors:
        table.add_row(
            connector.name,
            connector.direction,
            f"[{STATE_STYLE[connector.state]}]{connector.state.value}[/]",
            _last_run_text(connector, now),
            _span(connector.lag),
            str(connector.records_read),
            str(connector.rejected),
            str(connector.unmapped),
            _ago(connector.next_run_at, now) if connector.next_run_at else "-",
            _flags_text(connector),
        )
    out.print(table)
    box = current.outbox
    oldest = f", oldest pending {_ago(box.oldest_pending_at, now)}" if box.oldest_pending_at else ""
    dead_style = "red" if box.dead else "green"
    out.print(
        f"Outbox: {box.pending} pending{oldest}, [{dead_style}]{box.dead} dead letter(s)[/], "
        f"{box.delivered} delivered"
    )


def _last_run_text(connector: ConnectorStatus, now: datetime) -> str:
    run = connector.last_run
    if run is None:
        return "-"
    style = {RunOutcome.SUCCEEDED: "green", RunOutcome.FAILED: "red"}.get(run.outcome, "yellow")
    return f"[{style}]{run.outcome.value}[/] {_ago(run.started_at, now)}"


def _flags_text(connector: ConnectorStatus) -> str:
    parts = list(connector.flags)
    if connector.paused_reason:
        parts.insert(0, connector.paused_reason)
    return "; ".join(parts)


def runs(
    connector: Annotated[str, typer.Argument(help="The connector's name.")],
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 20,
    network: NetworkOption = None,
    database: DatabaseOption = None,
    as_json_: JsonOption = False,
) -> None:
    """A connector's runs, newest first: when, outcome, what it read, stored and rejected."""
    require_known(_network(network).config, connector)
    db = open_database(database)
    records = recent_runs(db, connector, limit)
    replays = replay_run_ids(db, [record.id for record in records])
    if as_json_:
        for record in records:
            _write_json({**as_json(record), "replay": record.id in replays})
        return
    table = Table(
        "run",
        "started",
        "took",
        "outcome",
        "messages",
        "records",
        "stored",
        "dup.",
        "unmapped",
        "rejected",
        "error",
        title=f"Runs of {connector}",
    )
    for record in records:
        table.add_row(*_run_row(record, record.id in replays))
    out.print(table)


def _run_row(record: RunRecord, is_replay: bool) -> list[str]:
    counts = record.counts
    took = "-" if record.finished_at is None else _span(record.finished_at - record.started_at)
    outcome = record.outcome.value + (" (replay)" if is_replay else "")
    return [
        str(record.id),
        record.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        took,
        outcome,
        f"{counts.messages_read}/{counts.messages_seen}",
        str(counts.records_read),
        str(counts.events_stored),
        str(counts.duplicates),
        str(counts.unmapped),
        str(counts.rejected),
        record.error_message or "",
    ]


def rejects(
    connector: Annotated[str, typer.Argument(help="The connector's name.")],
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 100,
    network: NetworkOption = None,
    database: DatabaseOption = None,
    as_json_: JsonOption = False,
) -> None:
    """The records a connector rejected: where, why, and the raw line as it came."""
    require_known(_network(network).config, connector)
    found = recent_rejects(open_database(database), connector, limit=limit)
    if as_json_:
        for reject in found:
            _write_json(as_json(reject))
        return
    table = Table(
        "run", "source", "line", "field", "reason", "raw", title=f"Rejects of {connector}"
    )
    for reject in found:
        table.add_row(
            str(reject.run_id or "-"),
            reject.source,
            str(reject.line or "-"),
            reject.field or "",
            reject.reason,
            reject.raw or "",
        )
    out.print(table, markup=False, highlight=False)


def unmapped(database: DatabaseOption = None, as_json_: JsonOption = False) -> None:
    """Partner codes no mapping knows yet, by party and code: add them, then `hub replay`."""
    codes = unmapped_codes(open_database(database))
    if as_json_:
        for code in codes:
            _write_json(as_json(code))
        return
    table = Table("party", "type", "code", "label", "events", "first seen", "last seen", "e.g.")
    for code in codes:
        table.add_row(
            code.reported_by,
            code.event_type,
            code.raw_code or "",
            code.raw_label or "",
            str(code.count),
            code.first_seen.strftime("%Y-%m-%d %H:%M"),
            code.last_seen.strftime("%Y-%m-%d %H:%M"),
            code.example_case_ref or "",
        )
    out.print(table, markup=False, highlight=False)


def unlinked(
    party: Annotated[str | None, typer.Option(help="Only this party's events.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 200,
    database: DatabaseOption = None,
    as_json_: JsonOption = False,
) -> None:
    """Events stored without a case, and why: a case not opened yet, nothing known, or a
    link refused (several candidate cases, a case never sent to that partner)."""
    db = open_database(database)
    with db.transaction() as connection:
        found = unlinked_events(connection, party=party, limit=limit)
    if as_json_:
        for event in found:
            _write_json(as_json(event))
        return
    table = Table("party", "type", "code", "partner ref", "case ref", "occurred", "why")
    for event in found:
        table.add_row(
            event.reported_by,
            event.type,
            event.raw_code or "",
            event.partner_ref or "",
            event.case_ref or "",
            event.occurred_at.strftime("%Y-%m-%d %H:%M"),
            event.reason,
        )
    out.print(table, markup=False, highlight=False)


def _operator_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def pause(
    connector: Annotated[str, typer.Argument(help="The connector's name.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for whoever looks next.")],
    by: Annotated[str | None, typer.Option(help="Who pauses it (default: your login).")] = None,
    network: NetworkOption = None,
    database: DatabaseOption = None,
) -> None:
    """Stop running a connector on any hub process until `hub resume`."""
    opened = _network(network)
    require_known(opened.config, connector)
    current = network_status(open_database(database), opened).connector(connector)
    if current.direction == "out":
        raise ConflictError(
            f"connector {connector!r} only sends: its messages wait in the outbox and go out "
            "when due; see `hub dead-letters`"
        )
    state = pause_connector(
        open_database(database), connector, reason=reason, by=by or _operator_name()
    )
    out.print(f"{connector} paused by {state.by}: {state.reason}", markup=False, highlight=False)


def resume(
    connector: Annotated[str, typer.Argument(help="The connector's name.")],
    network: NetworkOption = None,
    database: DatabaseOption = None,
) -> None:
    """Let a paused connector run again; its failures in a row start again from zero."""
    require_known(_network(network).config, connector)
    resume_connector(open_database(database), connector)
    out.print(f"{connector} resumed")


def _since(text: str) -> datetime:
    """A date (midnight UTC) or a time with its offset; a time without one is ambiguous."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
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
    opened = _network(network)
    db = open_database(database)
    requested_by = _operator_name()
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


def _print_replay(report: ReplayReport, as_json_: bool) -> None:
    counts = report.counts
    if as_json_:
        _write_json(
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
    rows = dead_letters(open_database(database), target)
    if as_json_:
        for row in rows:
            _write_json(
                {
                    "id": row.id,
                    "target": row.target,
                    "kind": row.kind,
                    "case_ref": row.case_ref,
                    "attempts": row.attempts,
                    "created_at": as_json(row.created_at),
                    "last_error": row.last_error,
                }
            )
        return
    table = Table("id", "target", "message", "case", "attempts", "created", "last error")
    for row in rows:
        table.add_row(
            str(row.id),
            row.target,
            row.kind,
            row.case_ref or "",
            str(row.attempts),
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            row.last_error or "",
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
    db = open_database(database)
    if (message_id is None) == (not retry_all):
        raise ConfigurationError("give a dead letter's ID, or --all")
    ids = [row.id for row in dead_letters(db)] if retry_all else [message_id]
    for one in ids:
        assert one is not None
        replay(db, one)
    out.print(f"{len(ids)} message(s) due again")


def register(app: typer.Typer) -> None:
    """Add the operator commands to the `hub` application."""
    app.command("status")(status)
    app.command("runs")(runs)
    app.command("rejects")(rejects)
    app.command("unmapped")(unmapped)
    app.command("unlinked")(unlinked)
    app.command("pause")(pause)
    app.command("resume")(resume)
    app.command("replay")(replay_command)
    app.add_typer(dead_letters_app, name="dead-letters")
