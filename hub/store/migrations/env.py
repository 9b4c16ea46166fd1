"""Alembic environment: runs against the Database handed over by hub.store.migrate."""

from __future__ import annotations

from alembic import context

from hub.errors import ConfigurationError
from hub.store.db import Database
from hub.store.tables import add_postgresql_predicates, metadata

database = context.config.attributes.get("database")
if not isinstance(database, Database):
    raise ConfigurationError("run migrations through `hub db upgrade`, not the alembic command")

with database.engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        add_postgresql_predicates()
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
