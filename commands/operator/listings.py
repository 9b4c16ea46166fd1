"""The reading commands: ``status`` (every connector and the outbox), ``runs``,
``rejects``, ``warnings``, ``unmapped`` and ``unlinked``. Each takes ``--json`` for scripts,
by the one rule (commands.common.JsonOption): JSON lines, one item a line, and
``status``'s one document on one line. An empty listing says so in a sentence."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from commands.common import (
    DatabaseOption,
    JsonOption,
    NetworkOption,
    at,
    open_database,
    open_plain,
    out,
    outline_to_read,
    unbroken,
    write_json,
)
from commands.operator.shared import ago, span
from hub.operators.jsonable import as_json

if TYPE_CHECKING:
    from hub.operators.status import ConnectorStatus
    from hub.partners.runs import RunRecord

# What a command uses is imported in its body, so that `hub --help` starts fast.


def status(
    network: NetworkOption = None, database: DatabaseOption = None, as_json_: JsonOption = False
) -> None:
    """Every connector: state, last run, lag since last success, rows, next run; the outbox."""
    from rich.table import Table

    from hub.operators.status import ConnectorState, plain_network_status  # no SQLAlchemy

    state_style = {
        ConnectorState.OK: "green",
        ConnectorState.FAILING: "red",
        ConnectorState.PAUSED: "magenta",
        ConnectorState.BACKING_OFF: "yellow",
        ConnectorState.NEVER_RUN: "dim",
        ConnectorState.DISABLED: "dim",
        ConnectorState.NOT_CONFIGURED: "yellow",
    }

    with open_plain(database) as db:
        current = plain_network_status(db, outline_to_read(network))
    if as_json_:
        write_json(as_json(current))
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
            f"[{state_style[connector.state]}]{connector.state.value}[/]",
            _last_run_text(connector, now),
            span(connector.lag),
            str(connector.records_read),
            str(connector.rejected),
            str(connector.unmapped),
            ago(connector.next_run_at, now) if connector.next_run_at else "-",
            _flags_text(connector),
        )
    out.print(table)
    box = current.outbox
    oldest = f", oldest pending {ago(box.oldest_pending_at, now)}" if box.oldest_pending_at else ""
    dead_style = "red" if box.dead else "green"
    out.print(
        f"Outbox: {box.pending} pending{oldest}, [{dead_style}]{box.dead} dead letter(s)[/], "
        f"{box.delivered} delivered"
    )


def _last_run_text(connector: "ConnectorStatus", now: datetime) -> str:
    from hub.store.run_rows import RunOutcome  # no SQLAlchemy (issue 17)

    run = connector.last_run
    if run is None:
        return "-"
    style = {RunOutcome.SUCCEEDED: "green", RunOutcome.FAILED: "red"}.get(run.outcome, "yellow")
    return f"[{style}]{run.outcome.value}[/] {ago(run.started_at, now)}"


def _flags_text(connector: "ConnectorStatus") -> str:
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
    from rich.table import Table

    from hub.operators.run_words import require_known
    from hub.store.plain_reads import recent_runs  # no SQLAlchemy (issue 17)

    require_known(outline_to_read(network), connector)
    with open_plain(database) as db:
        records, replays = recent_runs(db, connector, limit)
    if as_json_:
        for record in records:
            write_json({**as_json(record), "replay": record.id in replays})
        return
    if not records:
        out.print(f"No run of {connector} yet.", markup=False, highlight=False)
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


def _run_row(record: "RunRecord", is_replay: bool) -> list[str]:
    from hub.operators.run_words import outcome_text

    counts = record.counts
    took = "-" if record.finished_at is None else span(record.finished_at - record.started_at)
    outcome = outcome_text(record) + (" (replay)" if is_replay else "")
    if record.push_window is not None:
        outcome += " (pushes of the hour)"
    return [
        str(record.id),
        at(record.started_at),
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
    from rich.table import Table

    from hub.operators.run_words import require_known
    from hub.store.plain_reads import recent_rejects  # no SQLAlchemy (issue 17)

    require_known(outline_to_read(network), connector)
    with open_plain(database) as db:
        found = recent_rejects(db, connector, limit=limit)
    if as_json_:
        for reject in found:
            write_json(as_json(reject))
        return
    if not found:
        out.print(f"No rejected record for {connector}.", markup=False, highlight=False)
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


def warnings(
    connector: Annotated[str, typer.Argument(help="The connector's name.")],
    ack: Annotated[
        bool, typer.Option("--ack", help="Mark its warnings as seen: no longer flagged.")
    ] = False,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 100,
    network: NetworkOption = None,
    database: DatabaseOption = None,
    as_json_: JsonOption = False,
) -> None:
    """Warnings about files that still went in: a sequence number that skips between two
    files (one lost at the partner's end), one seen again, an older one."""
    from rich.table import Table

    from hub.operators.run_words import require_known

    require_known(outline_to_read(network), connector)
    if ack:  # writes: through the Database
        from hub.operators.listings import acknowledge_file_warnings

        opened = open_database(database)
        done = acknowledge_file_warnings(opened, connector, now=datetime.now(UTC))
        out.print(f"{done} warning{'s' if done != 1 else ''} of {connector} acknowledged")
        return
    from hub.store.plain_reads import recent_file_warnings  # no SQLAlchemy (issue 17)

    with open_plain(database) as db:
        found = recent_file_warnings(db, connector, limit=limit)
    if as_json_:
        for warning in found:
            write_json(as_json(warning))
        return
    if not found:
        out.print(f"No file warning for {connector}.", markup=False, highlight=False)
        return
    table = Table("when", "file", "kind", "reason", "seen", title=f"File warnings of {connector}")
    for warning in found:
        table.add_row(
            at(warning.created_at),
            warning.source,
            warning.kind,
            warning.reason,
            "yes" if warning.acknowledged_at else "no",
        )
    out.print(table, markup=False, highlight=False)


def unmapped(database: DatabaseOption = None, as_json_: JsonOption = False) -> None:
    """Partner codes no mapping knows yet, by party and code: add them, then `hub replay`."""
    from rich.table import Table

    from hub.store.plain_reads import unmapped_codes  # no SQLAlchemy (issue 17)

    with open_plain(database) as db:
        codes = unmapped_codes(db)
    if as_json_:
        for code in codes:
            write_json(as_json(code))
        return
    if not codes:
        out.print("No unmapped code: every partner code received has a mapping.")
        return
    table = unbroken(
        Table("party", "type", "code", "label", "events", "first seen", "last seen", "e.g."),
        "e.g.",
    )
    for code in codes:
        table.add_row(
            code.reported_by,
            code.event_type,
            code.raw_code or "",
            code.raw_label or "",
            str(code.count),
            at(code.first_seen, seconds=False),
            at(code.last_seen, seconds=False),
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
    from rich.table import Table

    from hub.store.plain_reads import unlinked_events  # no SQLAlchemy (issue 17)

    with open_plain(database) as db:
        found = unlinked_events(db, party=party, limit=limit)
    if as_json_:
        for event in found:
            write_json(as_json(event))
        return
    if not found:
        out.print("No event waits for its case.")
        return
    table = unbroken(
        Table("party", "type", "code", "partner ref", "case ref", "occurred", "why"),
        "partner ref",
        "case ref",
    )
    for event in found:
        table.add_row(
            event.reported_by,
            event.type,
            event.raw_code or "",
            event.partner_ref or "",
            event.case_ref or "",
            at(event.occurred_at, seconds=False),
            event.reason,
        )
    out.print(table, markup=False, highlight=False)
