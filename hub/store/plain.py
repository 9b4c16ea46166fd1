"""Store reads over the DB-API drivers, without SQLAlchemy: what the commands that read the
store alone run (`hub db current`, `hub outbox dead-letters`, ...), whose start SQLAlchemy
was more than half of (issue 17, tenth pass; docs/performance.md, "Start of a command").

The statements are the store's own, compiled for each database by
hub.store.plain_statements into hub.store.plain_sql; the rows go through the store's own
conversions, each column first given back as its column type gives it (``Query.kinds``).
The URL is read by hub.store.urls, as the `Database` reads it. A URL this module does not
open itself (another driver, an in-memory or URI SQLite database, driver options) is
opened by the `Database`, whose driver connection then runs the same statements: it is
accepted, refused and configured exactly as for every other command.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from hub.errors import ConfigurationError, TransientError
from hub.store import urls
from hub.store.instants import aware_or_none, sqlite_text, utc_bound

if TYPE_CHECKING:
    from hub.store.db import Database

__all__ = ["PlainStore", "Query", "Reader"]

Row = tuple[Any, ...]


class Query(NamedTuple):
    """One of the store's statements as each driver runs it (hub.store.plain_sql)."""

    sqlite: str
    postgresql: str
    params: Mapping[str, Any]
    """The values the statement carries itself; a call adds its own by name."""
    kinds: str
    """Per result column, a word for what its column type does to the driver's value:
    ``instant`` (aware UTC), ``json`` (a document), ``bool`` (SQLite's 0 and 1), ``-``
    (nothing)."""
    expanding: tuple[str, ...] = ()
    """Parameters given as a list, each one's ``IN`` written for the list's length."""
    binds: tuple[tuple[str, str], ...] = ()
    """The parameters whose column type changes the caller's value before the driver
    gets it, each with a word for what: ``instant`` (in UTC; on SQLite, its text)."""


def _document(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _flag(value: Any) -> Any:
    return None if value is None else bool(value)


_CONVERT = {"instant": aware_or_none, "json": _document, "bool": _flag}


def _bound_instant(value: Any, postgresql: bool) -> Any:
    """As UtcDateTime binds it: psycopg gets the instant in UTC, SQLite its text."""
    if value is None:
        return None
    return utc_bound(value) if postgresql else sqlite_text(value)


_BIND = {"instant": _bound_instant}


class PlainStore:
    """The hub's database for a command that only reads it; nothing connects until the
    first read. Close it (or use it as a context manager)."""

    def __init__(self, url: str) -> None:
        self._plain = _plain_form(url)
        self._database: Database | None = None
        if self._plain is None:
            from hub.store.plain_fallback import database_of

            self._database = database_of(url)  # refused here as the Database refuses it
            self.url = self._database.url
            self._dialect = self._database.dialect
        else:
            self.url = urls.normalise_url(url)
            self._dialect = self._plain.backend
        self._connection: Any = None

    @property
    def dialect(self) -> str:
        return self._dialect

    def sqlite_file(self) -> Path | None:
        """As `Database.sqlite_file`: the file a connection would create."""
        return urls.sqlite_file(self.url)

    def safe_url(self) -> str:
        return urls.safe_url(self.url)

    def __enter__(self) -> PlainStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> Any:
        if self._connection is None:
            if self._database is not None:
                from hub.store.plain_fallback import driver_connection

                self._connection = driver_connection(self._database)
            elif self._dialect == "sqlite":
                assert self._plain is not None
                self._connection = _sqlite_connection(self._plain)
            else:
                assert self._plain is not None
                self._connection = _postgresql_connection(self._plain)
        return self._connection

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        """What the driver raises for a database that cannot do the work."""
        if self._database is not None:
            from hub.store.plain_fallback import driver_error

            return (driver_error(self._database),)
        if self._dialect == "sqlite":
            return (sqlite3.Error,)
        import psycopg

        return (psycopg.Error,)

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """One transaction of reads, rolled back at the end (it writes nothing)."""
        connection = self._connect()
        try:
            yield Reader(connection, self._dialect)
        finally:
            connection.rollback()

    def unreachable(self, error: BaseException) -> TransientError:
        """A driver's failure to reach the database, said as `require_schema` says it."""
        reason = (str(error).strip().splitlines() or ["?"])[0]
        return TransientError(f"cannot reach {self.safe_url()}: {reason}")

    def require_file(self) -> None:
        """Refuse a SQLite file that is not there, creating nothing (`require_schema`)."""
        file = self.sqlite_file()
        if file is not None and not file.exists():
            raise ConfigurationError(f"no database at {file}: run `hub up` to create it")


class Reader:
    """Runs compiled statements on one connection and gives rows as the store's columns do."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self._connection = connection
        self._postgresql = dialect == "postgresql"

    def rows(self, query: Query, **values: Any) -> list[Row]:
        """The statement's rows, each value as its column type gives it."""
        return self._run(query, values)[1]

    def records(self, query: Query, **values: Any) -> list[Any]:
        """The rows with their columns by name as well, for a conversion that reads them
        so (as SQLAlchemy's rows allow)."""
        names, rows = self._run(query, values)
        record = namedtuple("record", names)  # type: ignore[misc]
        return [record(*row) for row in rows]

    def _run(self, query: Query, values: dict[str, Any]) -> tuple[list[str], list[Row]]:
        sql = query.postgresql if self._postgresql else query.sqlite
        params = {**query.params, **values}
        for name, kind in query.binds:
            params[name] = _bound(params[name], _BIND[kind], self._postgresql)
        for name in query.expanding:
            sql, params = _expanded(sql, params, name, postgresql=self._postgresql)
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, params)
            names = [column[0] for column in cursor.description]
            found = cursor.fetchall()
        finally:
            cursor.close()
        converters = [_CONVERT.get(kind) for kind in query.kinds.split()]
        if not any(converters):
            return names, [tuple(row) for row in found]
        return names, [
            tuple(
                value if convert is None else convert(value)
                for convert, value in zip(converters, row, strict=True)
            )
            for row in found
        ]


def _bound(value: Any, convert: Any, postgresql: bool) -> Any:
    """A parameter as its column type binds it (each item of a list one)."""
    if isinstance(value, list | tuple):
        return [convert(item, postgresql) for item in value]
    return convert(value, postgresql)


def _expanded(
    sql: str, params: dict[str, Any], name: str, *, postgresql: bool
) -> tuple[str, dict[str, Any]]:
    """An ``IN`` of a list parameter written with one placeholder per item, as the engine
    writes it when it runs the statement."""
    items: Sequence[Any] = params.pop(name)
    names = [f"{name}_{index}" for index in range(1, len(items) + 1)]
    marks = ", ".join(f"%({one})s" if postgresql else f":{one}" for one in names)
    token = f"__[POSTCOMPILE_{name}]"
    assert token in sql, f"the statement has no list parameter {name!r}"
    params.update(zip(names, items, strict=True))
    return sql.replace(token, marks), params


def _plain_form(url: str) -> urls.DatabaseUrl | None:
    """The URL's parts when this module opens it itself: a SQLite file, or PostgreSQL
    through psycopg with single-valued options; None sends it through the `Database`."""
    try:
        parsed = urls.parse_url(urls.normalise_url(url))
    except ValueError:
        return None
    if parsed.driver in {"sqlite", "sqlite+pysqlite"}:
        plain_file = urls.sqlite_file(parsed.text(hide_password=False)) is not None
        if plain_file and not parsed.query and not (parsed.user or parsed.password):
            return parsed if not (parsed.host or parsed.port) else None
        return None
    if parsed.driver == "postgresql+psycopg":
        keys = {key for key, _ in parsed.query}
        if "host" in keys or any(len(values) != 1 for _, values in parsed.query):
            return None
        return parsed
    return None


def _sqlite_connection(url: urls.DatabaseUrl) -> sqlite3.Connection:
    """The file as the engine opens it: its absolute path, the hub's pragmas."""
    assert url.database is not None
    connection = sqlite3.connect(os.path.abspath(url.database))
    urls.sqlite_pragmas(connection)
    return connection


def _postgresql_connection(url: urls.DatabaseUrl) -> Any:
    """psycopg's connection with the engine's arguments: the URL's parts, then its query."""
    import psycopg

    options: dict[str, Any] = {
        name: value
        for name, value in (
            ("host", url.host),
            ("port", url.port),
            ("user", url.user),
            ("password", url.password),
            ("dbname", url.database),
        )
        if value
    }
    options.update((key, values[0]) for key, values in url.query)
    return psycopg.connect("", **options)
