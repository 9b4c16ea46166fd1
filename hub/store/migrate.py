"""Alembic, driven from code so that ``hub db upgrade`` needs no alembic.ini."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import column, inspect, select, table

from hub.store.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: every command checks the schema's revision, and
# loading Alembic's migration machinery for that cost each one a tenth of a second.

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database: Database) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database"] = database
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the latest by default)."""
    from alembic import command

    command.upgrade(alembic_config(database), revision)


def downgrade(database: Database, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database), revision)


VERSION_TABLE = "alembic_version"


def current_revision(database: Database) -> str | None:
    """The revision Alembic recorded, read from its table: every command asks, and
    Alembic's migration context costs a start a tenth of a second to load. Several rows
    (branches, which the hub never has) go to Alembic, whose error says so."""
    with database.engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        versions: list[str] = list(
            connection.execute(
                select(column("version_num")).select_from(table(VERSION_TABLE))
            ).scalars()
        )
        if len(versions) <= 1:
            return versions[0] if versions else None
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()


def head_revision(database: Database) -> str | None:
    """The latest revision this code's migrations know. Read from the migration files
    when they form one line of history, as the hub's do: `hub overview` and `hub db
    current` ask, and loading Alembic's script machinery cost them a tenth of a second.
    Anything else (a branch, a merge, a line that is not a plain string) goes to Alembic."""
    single = _single_head(MIGRATIONS / "versions")
    if single is not None:
        return single
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(database)).get_current_head()


_ASSIGNED = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _single_head(versions: Path) -> str | None:
    """The head of the migrations in ``versions`` when each names its revision and the one
    before it as plain strings and they chain into one line; None otherwise."""
    before: dict[str, str | None] = {}
    for file in sorted(versions.glob("*.py")):
        if file.name.startswith(("_", ".")):
            continue
        assigned: dict[str, object] = {}
        for name, value in _ASSIGNED.findall(file.read_text(encoding="utf-8")):
            try:
                assigned[name] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
        revision, down = assigned.get("revision"), assigned.get("down_revision", ...)
        if not isinstance(revision, str) or revision in before:
            return None
        if down is not None and not isinstance(down, str):
            return None
        before[revision] = down
    roots = [revision for revision, down in before.items() if down is None]
    heads = set(before) - {down for down in before.values() if down is not None}
    pointed = [down for down in before.values() if down is not None]
    if len(roots) != 1 or len(heads) != 1 or len(set(pointed)) != len(pointed):
        return None
    if any(down not in before for down in pointed):
        return None
    return heads.pop()


def known_revision(database: Database, revision: str) -> bool:
    """Whether this code's migrations know ``revision`` (a newer release's do not)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(database))
    return any(step.revision == revision for step in script.walk_revisions())
