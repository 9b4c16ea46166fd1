"""The database URL's one reading, without SQLAlchemy: the `Database` and the plain reads
(hub.store.plain) accept, refuse, mask and open the same URLs (issue 17, tenth pass).

The grammar is the one SQLAlchemy's engine reads (`create_engine` parses the normalised
URL again): ``driver://user:password@host:port/database?query``, each part optional but
the driver; ``tests/test_plain_store.py`` checks both readings agree on a set of URLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

__all__ = [
    "DatabaseUrl",
    "UnreadableUrl",
    "normalise_url",
    "parse_url",
    "safe_url",
    "sqlite_file",
    "sqlite_pragmas",
]


class UnreadableUrl(ValueError):
    """A URL that is not ``driver://...``; its text is the engine's own for the same URL."""


_URL = re.compile(
    r"(?P<driver>[\w+]+)://"
    r"(?:(?P<user>[^:/]*)(?::(?P<password>[^@]*))?@)?"
    r"(?:(?:\[(?P<bracketed>[^/?]+)\]|(?P<host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?"
    r"(?:/(?P<database>[^?]*))?"
    r"(?:\?(?P<query>.*))?"
)


@dataclass(frozen=True)
class DatabaseUrl:
    """A database URL's parts, unquoted; ``query`` keeps a repeated key's values in order."""

    driver: str
    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def backend(self) -> str:
        """``postgresql`` for ``postgresql+psycopg``: the database, without its driver."""
        return self.driver.split("+", 1)[0]

    def text(self, *, hide_password: bool) -> str:
        """The URL written back as the engine writes it (query keys sorted)."""
        written = f"{self.driver}://"
        if self.user is not None:
            written += quote(self.user, safe=" +")
            if self.password is not None:
                written += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            written += "@"
        if self.host is not None:
            written += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            written += f":{self.port}"
        if self.database is not None:
            written += "/" + quote(self.database, safe=" +/")
        if self.query:
            written += "?" + "&".join(
                f"{quote_plus(key)}={quote_plus(value)}"
                for key, values in sorted(self.query)
                for value in values
            )
        return written


def parse_url(url: str) -> DatabaseUrl:
    """The parts of ``url``; `UnreadableUrl` (or ``ValueError`` for a port that is no
    number) with the engine's words when it is not a database URL."""
    found = _URL.match(url)
    if found is None:
        raise UnreadableUrl("Could not parse SQLAlchemy URL from given URL string")
    parts = found.groupdict()
    query: dict[str, list[str]] = {}
    if parts["query"] is not None:
        for key, value in parse_qsl(parts["query"]):
            query.setdefault(key, []).append(value)
    port = parts["port"]
    return DatabaseUrl(
        driver=parts["driver"],
        user=_unquoted(parts["user"]),
        password=_unquoted(parts["password"]),
        host=parts["host"] or parts["bracketed"],
        port=None if port is None else int(port),
        database=_unquoted(parts["database"]),
        query=tuple((key, tuple(values)) for key, values in query.items()),
    )


def _unquoted(part: str | None) -> str | None:
    return None if part is None else unquote(part)


def normalise_url(url: str) -> str:
    """Accept the usual ``postgresql://`` spelling and use psycopg 3 for it."""
    parsed = parse_url(url)
    if parsed.driver in {"postgresql", "postgres"}:
        parsed = replace(parsed, driver="postgresql+psycopg")
    return parsed.text(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database (None for PostgreSQL or an in-memory one): a
    command must not create it by merely connecting."""
    parsed = parse_url(url)
    if parsed.backend != "sqlite":
        return None
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def safe_url(url: str) -> str:
    """The URL with any password masked, fit for logs and screens."""
    return parse_url(url).text(hide_password=True)


SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_pragmas(dbapi_connection: Any) -> None:
    """Every SQLite connection's settings: WAL lets readers work beside the writer;
    foreign keys are off unless asked; a locked file is waited for, not failed."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
