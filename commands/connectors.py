"""Connectors: check the network file, list connectors, run one, ingest a local file."""

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from commands.common import (
    DatabaseOption,
    NetworkOption,
    err,
    network_path,
    open_database,
    out,
    outline_to_read,
    settle_collector_for_batch,
)
from hub.errors import ConfigurationError, ConflictError, PartnerDataError

# What a command uses is imported in its body, so that `hub --help` starts fast.

app = typer.Typer(help="The partner network's connectors.", no_args_is_help=True)


@app.command("check")
def check(network: NetworkOption = None) -> None:
    """Validate connectors.yaml and every mapping it names; each problem with file and line."""
    from hub.partners.network_cache import read_check

    path = network_path(network)
    # Kept once it passed, while nothing it read changed; the secrets are read now.
    problems = read_check(path).problems()
    errors = [p for p in problems if not p.warning]
    from rich.text import Text

    for problem in problems:
        label = ("warning", "yellow") if problem.warning else ("error", "red")
        # The text as written: a "[x]" in a problem is no markup.
        err.print(Text.assemble(label, " ", problem.text), highlight=False)
    if errors:
        err.print(f"{len(errors)} error(s) in {path}")
        raise typer.Exit(1)
    out.print(f"{path}: every connector and mapping is valid")


@app.command("list")
def list_connectors(network: NetworkOption = None) -> None:
    """Every connector: partner, mapping message, transport and schedule."""
    from rich.table import Table

    outline = outline_to_read(network)  # checked and kept: builds no connector
    table = Table("connector", "partner", "message", "transport", "schedule", "enabled")
    for spec in outline.connectors:
        schedule = spec.schedule.every or spec.schedule.cron if spec.schedule else "-"
        table.add_row(
            spec.name,
            spec.partner,
            f"{spec.mapping} :: {spec.message}",
            spec.adapter_type,
            str(schedule),
            "yes" if spec.enabled else "paused",
        )
    out.print(table)


def _print_rejects(rejects: list[PartnerDataError]) -> None:
    for reject in rejects:
        err.print(f"rejected {reject.location}: {reject.reason}", markup=False, highlight=False)
        if reject.raw is not None:
            err.print(f"    raw: {reject.raw!r}", markup=False, highlight=False)


def _fail_if_rejected_whole(rejects: list[PartnerDataError], name: str) -> None:
    """A message refused whole (its header, a control, its shape) is a failure for a
    script, not a run that found nothing: exit 1."""
    from hub.partners.ingest.pipeline import MessageRejected

    if any(isinstance(reject, MessageRejected) for reject in rejects):
        err.print(f"{name} was rejected whole: nothing of it can be stored")
        raise typer.Exit(1)


@app.command("ingest")
def ingest(
    connector: Annotated[str, typer.Option("--connector", help="The connector's name.")],
    file: Annotated[Path, typer.Option("--file", help="A local file as the partner sends it.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the events as JSON lines; store nothing.")
    ] = False,
    network: NetworkOption = None,
    database: DatabaseOption = None,
) -> None:
    """What a partner file becomes: events on stdout (dry run) or stored; rejects on stderr."""
    from hub.model.event import Event
    from hub.partners.connectors import open_network
    from hub.partners.ingest.message import ingest_message
    from hub.partners.ingest.pipeline import dry_run_line
    from hub.ports import MessageRef, RawMessage

    target = open_network(network_path(network)).connector(connector)
    if not target.inbound:
        raise ConfigurationError(f"connector {connector!r} does not read messages")
    pipeline = target.pipeline()
    content = file.read_bytes()
    if dry_run:
        settle_collector_for_batch()
        rejects: list[PartnerDataError] = []
        events = 0
        # The lines as bytes, UTF-8 whatever the terminal's encoding: a JSON line is
        # UTF-8 (and text would be decoded, then encoded again, for every event).
        sys.stdout.flush()
        lines = sys.stdout.buffer
        for item in pipeline.parse(content, source=file.name, recorded_at=datetime.now(UTC)):
            if isinstance(item, Event):
                events += 1
                lines.write(dry_run_line(item))
            else:
                rejects.append(item)
        lines.flush()
        _print_rejects(rejects)
        err.print(f"{events} event(s), {len(rejects)} reject(s); nothing stored (dry run)")
        _fail_if_rejected_whole(rejects, file.name)
        return
    stat = file.stat()
    message = RawMessage(
        MessageRef(file.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)),
        content,
        {"path": str(file.resolve())},
    )
    store = open_database(database)
    settle_collector_for_batch()
    outcome = ingest_message(store, connector, pipeline, message, on_stored=target.on_stored)
    _print_rejects(outcome.rejects)
    if outcome.skipped:
        out.print(f"{file.name} was ingested before by {connector}: nothing new")
        return
    counts = outcome.counts
    out.print(
        f"{file.name}: {counts.records_read} record(s), {counts.events_stored} event(s) stored, "
        f"{counts.duplicates} duplicate(s), {counts.unmapped} unmapped, "
        f"{counts.orphans} without a known case, {counts.rejected} rejected"
    )
    _fail_if_rejected_whole(outcome.rejects, file.name)


@app.command("run")
def run(
    connector: Annotated[str, typer.Argument(help="The connector's name.")],
    network: NetworkOption = None,
    database: DatabaseOption = None,
) -> None:
    """Run one inbound connector (or a retailer's drop folder) now.

    The run takes the connector's lease like a scheduled one, so it never overlaps a run
    of `hub serve`; a paused connector is refused until `hub resume`. The wait that
    follows a failed run does not apply: a run by hand is meant now.
    """
    from hub.bootstrap import open_hub, process_owner
    from hub.store.leases import pause_state

    with open_hub(database=database, network=network, owner=process_owner("hub run:")) as hub:
        settle_collector_for_batch()
        report = hub.run_now(connector)
    if report is None:
        with hub.database.reading() as connection:
            paused = pause_state(connection, connector)
        if paused is not None:
            raise ConflictError(
                f"connector {connector!r} is paused by {paused.by}: {paused.reason}; "
                f"`hub resume {connector}` lets it run again"
            )
        raise ConflictError(
            f"connector {connector!r} is running in another hub process: try again when "
            "that run ends; `hub status` shows it"
        )
    for message in report.messages:
        _print_rejects(message.rejects)
    counts = report.counts
    out.print(
        f"run {report.run_id} of {connector}: {counts.messages_read} message(s) read of "
        f"{counts.messages_seen} seen, {counts.events_stored} event(s) stored, "
        f"{counts.duplicates} duplicate(s), {counts.unmapped} unmapped, {counts.rejected} rejected"
    )
    if report.error is not None:
        err.print(f"[red]run failed[/red] ({report.error.action.value}): {report.error.message}")
        raise typer.Exit(1)
