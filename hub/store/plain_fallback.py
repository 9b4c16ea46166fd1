"""The `Database` for a URL the plain reads do not open themselves (hub.store.plain): the
engine accepts or refuses it, and its driver connection runs the plain statements."""

from __future__ import annotations

from typing import Any

from hub.store.db import Database, StoreError


def database_of(url: str) -> Database:
    """The `Database` of ``url``, refused with its own error when it cannot be used."""
    return Database(url)


def driver_connection(database: Database) -> Any:
    """A driver connection from the engine's pool (its settings applied); a failure to
    connect raised as the driver raised it, as the plain reads' own connections do."""
    try:
        return database.engine.raw_connection()
    except StoreError as error:
        cause = getattr(error, "orig", None)
        if isinstance(cause, Exception):
            raise cause from error
        raise


def driver_error(database: Database) -> type[BaseException]:
    """The base of what the engine's driver raises."""
    error: type[BaseException] = database.engine.dialect.loaded_dbapi.Error
    return error
