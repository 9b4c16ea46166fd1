"""Alembic, driven from code so that ``hub db upgrade`` needs no alembic.ini."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, column, inspect, select, table

from hub.store.db import Database
from hub.store.revisions import MIGRATIONS, VERSION_TABLE, single_head

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: every command checks the schema's revision, and
# loading Alembic's migration machinery for that cost each one a tenth of a second.


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


REVISION_READ: Select[tuple[Any]] = select(column("version_num")).select_from(table(VERSION_TABLE))
"""The revisions Alembic recorded (one row on the hub's line of history); the plain
reads run it as compiled in hub.store.plain_sql."""


def current_revision(database: Database) -> str | None:
    """The revision Alembic recorded, read from its table: every command asks, and
    Alembic's migration context costs a start a tenth of a second to load. Several rows
    (branches, which the hub never has) go to Alembic, whose error says so. A unit that
    only reads (``Database.reading``): a plain connection's first statement begins
    SQLite's writer transaction, and the readiness probe and every command's schema
    check waited behind any writer for it."""
    with database.reading() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        versions: list[str] = list(connection.execute(REVISION_READ).scalars())
        if len(versions) <= 1:
            return versions[0] if versions else None
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()


def head_revision(database: Database) -> str | None:
    """The latest revision this code's migrations know. Read from the migration files
    when they form one line of history, as the hub's do: `hub overview` and `hub db
    current` ask, and loading Alembic's script machinery cost them a tenth of a second.
    Anything else (a branch, a merge, a line that is not a plain string) goes to Alembic."""
    single = single_head(MIGRATIONS / "versions")
    if single is not None:
        return single
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(database)).get_current_head()


def known_revision(database: Database, revision: str) -> bool:
    """Whether this code's migrations know ``revision`` (a newer release's do not)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(database))
    return any(step.revision == revision for step in script.walk_revisions())
