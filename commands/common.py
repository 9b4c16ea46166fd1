"""What every command shares: consoles, the database and network options."""

from __future__ import annotations

import gc
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from pydantic import ValidationError
    from rich.table import Table

    from hub.partners.network import Network
    from hub.partners.network_outline import NetworkOutline
    from hub.store.db import Database
    from hub.store.plain import PlainStore

PIPED_WIDTH = 140
"""Rich's 80 columns away from a terminal would fold the operator's tables into
unreadable slivers in a log or a pipe; a terminal keeps its own width."""


def _console(*, stderr: bool = False) -> Console:
    # Errors are never folded: a path with its line number stays whole on its line, for
    # an editor to jump to and a script to grep; tables still fit the width.
    console = Console(stderr=stderr, soft_wrap=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, soft_wrap=stderr, width=PIPED_WIDTH)
    return console


out = _console()
err = _console(stderr=True)

DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="Database URL (default: $HUB_DATABASE_URL).")
]
NetworkOption = Annotated[
    Path | None, typer.Option("--network", help="The network file (default: connectors.yaml).")
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="JSON lines for scripts: one object a line (README).")
]
"""Every command's ``--json``, one rule: JSON lines on stdout, one compact object a line;
a listing writes one line per item (nothing when there is none), a command about one
thing (``status``, ``sla --case``, ``replay``) that one line. Messages go to stderr."""


def write_json(document: Any) -> None:
    """One JSON document on its own line (the ``--json`` rule: JSON lines)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")


BATCH_COLLECTION_THRESHOLD = 10_000
"""New container objects between two young passes of the garbage collector while a
command ingests (the interpreter's default is 700)."""


def settle_collector_for_batch() -> None:
    """The garbage collector's setting for a command that ingests (`hub ingest`, `hub
    run`), applied once its network, pipeline and database are built. What the process
    has built by then it keeps for its life: frozen, no pass walks it again (without it,
    every full pass walks all of pydantic, SQLAlchemy and the network's models). Young
    passes come due every 10,000 objects rather than 700: a chunk's parsed rows, alive
    until stored, are walked far fewer times. Not for `hub serve`, whose memory over days
    matters more. Measured in docs/performance.md (the garbage collector, issue 17)."""
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, BATCH_COLLECTION_THRESHOLD), middle, old)


def open_database(url: str | None, *, schema_required: bool = True) -> Database:
    """The database, refused in one line (creating nothing) when it has no hub schema,
    unless the command is one that creates or inspects the schema."""
    from hub.bootstrap import open_database as open_checked

    return open_checked(url, schema_required=schema_required)


def open_plain(url: str | None, *, schema_required: bool = True) -> PlainStore:
    """The database for a command that only reads it, without SQLAlchemy
    (hub.store.plain): the same URLs, the same refusals as `open_database`."""
    from hub.config.variables import database_url
    from hub.store.plain import PlainStore
    from hub.store.plain_reads import require_schema

    store = PlainStore(url or database_url())
    if schema_required:
        require_schema(store)
    return store


def at(moment: datetime | None, *, seconds: bool = True) -> str:
    """An instant in an operator's table: the one formatter (hub.operators.times), in the
    operators' zone of the settings (the home's or $HUB_TIME_ZONE), zone shown."""
    from hub.config.home import time_zone  # reads hub.yaml: pydantic, not for `hub --help`
    from hub.operators.times import shown

    return shown(moment, time_zone(), seconds=seconds)


def network_path(path: Path | None) -> Path:
    from hub.config.variables import network_file

    return path or network_file()


def network_to_read(path: Path | None) -> Network:
    """The network for a command that only reads it: what was kept once checked, when
    nothing it was checked with changed since (hub.partners.network_cache)."""
    from hub.partners.network_cache import read_network

    return read_network(network_path(path))


def outline_to_read(path: Path | None) -> NetworkOutline:
    """What a command that only shows the network needs of it, as plain data: the
    outline kept beside the checked network, made from it when either is not fresh
    (hub.partners.network_cache.read_outline). Loads no pydantic when kept."""
    from hub.partners.network_cache import read_outline

    return read_outline(network_path(path))


def print_validation(file: Path, exc: ValidationError, *, line: int | None = None) -> None:
    where = f"{file}:{line}" if line is not None else str(file)
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(document)"
        err.print(f"{where}: {field}: {error['msg']}", markup=False, highlight=False)


def case_reference(database: Database, text: str) -> str:
    """A case reference as typed (``me-000123``) made the stored one (``ME-000123``),
    as the console's search does; one no case has is left as typed, for the command's
    own "no case" error."""
    from hub.store.case_search import stored_reference

    with database.reading() as connection:
        return stored_reference(connection, text) or text.strip()


def unbroken(table: Table, *headings: str) -> Table:
    """Keep the named columns' cells on one line: a narrow terminal folds a reference
    at its hyphen (``ME-`` over ``000219``), which no one can copy or search."""
    for column in table.columns:
        if column.header in headings:
            column.no_wrap = True
    return table
