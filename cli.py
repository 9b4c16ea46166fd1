"""The `hub` command line. Thin: it parses arguments, calls the hub's services, prints.

`hub` (the installed entry point) and `python cli.py` run this same code.
"""

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from commands import adapters as adapters_commands
from commands import backup as backup_commands
from commands import connectors as connectors_commands
from commands import demo as demo_commands
from commands import operator as operator_commands
from commands import outbox as outbox_commands
from commands import retention as retention_commands
from commands import serve as serve_commands
from commands import sla as sla_commands
from commands.common import (
    DatabaseOption,
    JsonOption,
    at,
    err,
    open_database,
    open_plain,
    out,
    print_validation,
)
from hub.api.commands import register as register_api_commands
from hub.errors import ConfigurationError, HubError
from hub.logs import configure_logging

if TYPE_CHECKING:
    from hub.operators.overview import Overview

# Each command imports what it uses inside its body: `hub --help` and the commands that
# serve no HTTP start without FastAPI, Alembic or the adapters (issue 17, bench/start.py).

app = typer.Typer(help="After-sales partner hub.", no_args_is_help=True, add_completion=False)
app.add_typer(connectors_commands.app, name="connectors")
app.add_typer(adapters_commands.app, name="adapters")
app.add_typer(outbox_commands.app, name="outbox")
app.command("ingest")(connectors_commands.ingest)
app.command("run")(connectors_commands.run)
register_api_commands(app)
app.command("serve")(serve_commands.serve)
app.command("demo")(demo_commands.demo)
app.command("sla")(sla_commands.sla)
operator_commands.register(app)
app.command("retention")(retention_commands.retention)
app.command("backup")(backup_commands.backup)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
schemas_app = typer.Typer(help="JSON Schemas generated from the code.", no_args_is_help=True)
cases_app = typer.Typer(help="Cases and their timelines.", no_args_is_help=True)
events_app = typer.Typer(help="Canonical events.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(schemas_app, name="schemas")
app.add_typer(cases_app, name="cases")
cases_app.command("erase")(retention_commands.erase)
app.add_typer(events_app, name="events")

_database = open_database


@app.callback()
def hub_home(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="The hub's home folder, whose hub.yaml gives the database, network, time "
            "zone and clock (default: $HUB_HOME, else ./hub.yaml if present).",
        ),
    ] = None,
) -> None:
    """After-sales partner hub."""
    from hub.config.home import apply_home, find_home  # not for `hub --help`

    chosen = find_home(home)
    if chosen is not None:
        from hub.config.home_file import load_home  # pydantic and YAML: only with a home

        apply_home(load_home(chosen), os.environ)  # every command reads its settings here


@app.command("up")
def up(
    database: DatabaseOption = None,
    network: Annotated[Path | None, typer.Option(help="The network file.")] = None,
) -> None:
    """Bring the hub up: migrate the database, register the network's parties, show state."""
    from hub.config.network import load_network, network_file
    from hub.operators.overview import overview
    from hub.partners.connectors import open_network
    from hub.store.migrate import upgrade
    from hub.store.parties import save_party
    from hub.sync.profiles import profile_needs

    db = _database(database, schema_required=False)
    upgrade(db)
    path = network or network_file()
    config = load_network(path)
    with db.transaction() as connection:
        for party in config.parties:
            save_party(connection, party)
    _print_overview(overview(db))
    # Said at startup, not first as a dead letter: only the operator can add these.
    for text in profile_needs(open_network(path)):
        err.print(f"warning: {path}: {text}", markup=False, highlight=False)


@app.command("overview")
def show_overview(database: DatabaseOption = None) -> None:
    """Print the hub's state: schema, parties, cases by status, events, archive."""
    from hub.operators.overview import plain_overview

    with open_plain(database) as db:  # no SQLAlchemy (issue 17)
        _print_overview(plain_overview(db))


def _print_overview(state: "Overview") -> None:
    from rich.table import Table

    out.print(f"[bold]After-sales hub[/bold] on {state.database}")
    if state.schema_revision is None:
        out.print("[yellow]The database has no schema yet: run `hub up`.[/yellow]")
        return
    flag = "up to date" if state.schema_up_to_date else f"behind (head {state.schema_head})"
    out.print(f"Schema revision {state.schema_revision}, {flag}")
    parties = Table("role", "parties", title="Network")
    for role, count in sorted(state.parties_by_role.items()):
        parties.add_row(role, str(count))
    out.print(parties)
    cases = Table("status", "cases", title="Cases")
    for status, count in sorted(state.cases_by_status.items()):
        cases.add_row(status, str(count))
    if not state.cases_by_status:
        cases.add_row("(none yet)", "0")
    out.print(cases)
    out.print(
        f"Events: {state.events} ({state.unmapped_events} unmapped, "
        f"{state.orphan_events} not yet linked to a case); "
        f"raw messages archived: {state.raw_messages}"
    )
    waiting = ", ".join(f"{count} {name}" for name, count in sorted(state.outbox_by_state.items()))
    out.print(f"Outbox: {waiting or 'empty'}")


@db_app.command("upgrade")
def db_upgrade(
    database: DatabaseOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the database migrations (Alembic) up to the latest revision."""
    from hub.store.migrate import current_revision, upgrade

    db = _database(database, schema_required=False)
    upgrade(db, revision)
    out.print(f"{db.safe_url()}: schema at revision {current_revision(db)}")


@db_app.command("current")
def db_current(database: DatabaseOption = None) -> None:
    """Show the database's schema revision and the latest one the code knows."""
    from hub.store.plain_reads import checked_revision, head_revision

    with open_plain(database, schema_required=False) as db:  # no SQLAlchemy (issue 17)
        file = db.sqlite_file()
        if file is not None and not file.exists():  # connecting would create it
            out.print(f"current (none: no database at {file}), head {head_revision(db)}")
            return
        out.print(f"current {checked_revision(db) or '(none)'}, head {head_revision(db)}")


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write.")] = Path("schemas"),
    check: Annotated[bool, typer.Option(help="Only report drift; exit 1 if any.")] = False,
) -> None:
    """Write the JSON Schemas of the model and config files, and the API's OpenAPI document."""
    from hub.api.openapi_export import FILE_NAME as OPENAPI_FILE
    from hub.api.openapi_export import export_openapi, generated_openapi
    from hub.partners.schemas import drift, export

    if check:
        differing = drift(directory)
        openapi = directory / OPENAPI_FILE
        if not openapi.exists() or openapi.read_text(encoding="utf-8") != generated_openapi():
            differing.append(OPENAPI_FILE)
        for name in differing:
            err.print(f"[red]{directory / name} differs from what the code generates[/red]")
        raise typer.Exit(1 if differing else 0)
    changed = export(directory)
    if export_openapi(directory):
        changed.append(directory / OPENAPI_FILE)
    out.print(f"{len(changed)} schema file(s) written to {directory}/")


@cases_app.command("open")
def cases_open(
    file: Annotated[Path, typer.Argument(help="A case as canonical JSON.")],
    database: DatabaseOption = None,
) -> None:
    """Open a case from a canonical JSON file (idempotent for the same content)."""
    from pydantic import ValidationError

    from hub.config.network import network_file
    from hub.model import Case
    from hub.partners.connectors import open_network
    from hub.store.cases import get_case, open_case
    from hub.sync.requirements import route_needs

    try:
        case = Case.model_validate_json(file.read_bytes())
    except ValidationError as exc:
        print_validation(file, exc)
        raise typer.Exit(1) from exc
    path = network_file()
    network = open_network(path) if path.exists() else None
    hook = network.sync_hook() if network is not None else None
    with _database(database).transaction() as connection:
        missing = [] if network is None else route_needs(connection, network, case)
        if missing and get_case(connection, case.reference) is None:
            for item in missing:  # a case its partners could not work: say what it lacks
                err.print(f"{file}: {item.problem_field} {item.sentence()}", markup=False)
            raise typer.Exit(1)
        opened = open_case(connection, case, on_stored=hook)
    verb = "opened" if opened.created else "already open, unchanged"
    out.print(f"case {case.reference} {verb} (status {opened.record.status})")


@cases_app.command("show")
def cases_show(
    reference: str,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a case's current status and its timeline across every party."""
    from hub.store.plain_reads import case_view, stored_reference

    if as_json:  # each event as the canonical model writes it: pydantic for this alone
        from hub.store.event_rows import row_to_event

        with open_plain(database) as db:  # no SQLAlchemy (issue 17)
            reference = stored_reference(db, reference) or reference.strip()
            events = case_view(db, reference, row_to_event).state.timeline
        for model in events:
            sys.stdout.write(model.model_dump_json() + "\n")
        return
    from rich.table import Table

    from hub.store.stored_events import stored_event  # no pydantic either (issue 17)

    with open_plain(database) as db:
        reference = stored_reference(db, reference) or reference.strip()
        view = case_view(db, reference, stored_event)
    state, references, erased = view.state, view.references, view.erasure
    out.print(f"[bold]{reference}[/bold]: {state.status} since {at(state.status_at)}")
    if erased is not None:
        done = "erased" if erased.completed_at else "erasure under way"
        out.print(
            f"personal data {done}: asked {at(erased.requested_at)} by {erased.requested_by}",
            markup=False,
        )
    if references:
        shown = ", ".join(
            f"{kept.party} {kept.reference}"
            + (" (retailer's)" if kept.recorded_by.value == "retailer" else "")
            for kept in references
        )
        out.print(f"partners' references: {shown}")
    table = Table("occurred at", "by", "type", "status", "code", "label")
    for event in state.timeline:
        status = event.status.value if event.status else "[red]unmapped[/red]"
        table.add_row(
            at(event.occurred_at),
            event.reported_by,
            event.type.value,
            status,
            event.raw_code or "",
            event.label.en if event.label else (event.raw_label or ""),
        )
    out.print(table)


@events_app.command("append")
def events_append(
    file: Annotated[Path, typer.Argument(help="Canonical events, one JSON object a line.")],
    database: DatabaseOption = None,
) -> None:
    """Append canonical events; bad lines are reported with their number, the rest stored."""
    from pydantic import ValidationError

    from hub.model import Event
    from hub.store.events import append_events

    good: list[Event] = []
    bad = 0
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                good.append(Event.model_validate_json(line))
            except ValidationError as exc:
                bad += 1
                print_validation(file, exc, line=number)
    with _database(database).transaction() as connection:
        result = append_events(connection, good)
    out.print(
        f"{result.stored} stored, {result.duplicates} duplicate(s), {result.unmapped} unmapped, "
        f"{result.orphans} without a known case, {bad} rejected"
    )
    if bad:
        raise typer.Exit(1)


def main() -> None:
    """Entry point: hub errors become one clear line and an exit code, not a traceback."""
    try:
        configure_logging()
        app(prog_name="hub")
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc.message}", soft_wrap=True)
        sys.exit(2)
    except HubError as exc:
        err.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
