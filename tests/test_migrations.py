"""Alembic migrations build exactly the tables the code declares, and undo cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from hub.store.db import Database
from hub.store.migrate import current_revision, downgrade, head_revision, upgrade
from hub.store.tables import metadata


def _differences(database: Database) -> list[object]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_upgrade_builds_the_declared_schema(blank_database: Database) -> None:
    assert current_revision(blank_database) is None
    upgrade(blank_database)
    assert current_revision(blank_database) == head_revision(blank_database)
    assert _differences(blank_database) == []


def test_downgrade_to_base_and_back(blank_database: Database) -> None:
    upgrade(blank_database)
    downgrade(blank_database, "base")
    tables = set(inspect(blank_database.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade(blank_database)
    assert _differences(blank_database) == []


def test_upgrade_twice_is_harmless(blank_database: Database) -> None:
    upgrade(blank_database)
    upgrade(blank_database)
    assert current_revision(blank_database) == head_revision(blank_database)
