"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from HUB_TEST_POSTGRES_URL (`.ci/run` sets it to this machine's
server). Each test run creates a private database there and drops it at the end, so
runs never see each other's rows. Without the variable the PostgreSQL cases skip, and
pytest's summary (-ra) says why.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from adapters.transports.sftp import session as sftp_session
from hub.partners.network_cache import CACHE_DIR_VARIABLE
from hub.store.db import Database, normalise_url
from hub.store.migrate import upgrade
from hub.store.tables import metadata
from simulators.sftp import ClientKey, generate_client_key

# Rich wraps a command's output at the terminal's width, 80 columns when there is none:
# tests that read what a command printed would depend on the length of their temporary
# paths (longer under pytest-xdist's workers). A wide terminal for every command started
# here; a test about wrapping sets its own width.
os.environ["COLUMNS"] = "400"

POSTGRES_VARIABLE = "HUB_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _postgres_base() -> str:
    base = os.environ.get(POSTGRES_VARIABLE)
    if not base:
        pytest.skip(
            f"PostgreSQL not configured: set {POSTGRES_VARIABLE}, "
            "e.g. postgresql://postgres@127.0.0.1:5432/test"
        )
    return base


PRIVATE_PREFIX = "hub_test_"
"""Each private database is named ``hub_test_<pid>_<hex>``: the process that made it."""
_PRIVATE_NAME = re.compile(rf"{PRIVATE_PREFIX}(\d+)_[0-9a-f]{{8}}")


@contextmanager
def _admin(base: str) -> Iterator[Connection]:
    """A connection to ``base``'s server outside any transaction, as CREATE and DROP
    DATABASE need; its engine disposed of afterwards."""
    engine = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def private_postgres_database(base: str) -> Iterator[str]:
    """Create an empty database beside ``base`` and drop it afterwards."""
    name = f"{PRIVATE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with _admin(base) as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(base)).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(base, [name])


def _private_databases(base: str) -> dict[str, int]:
    """The private databases on ``base``'s server, each with the pid in its name."""
    with _admin(base) as connection:
        names = connection.execute(
            text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
            {"prefix": PRIVATE_PREFIX},
        ).scalars()
        return {
            name: int(match.group(1))
            for name in names
            if (match := _PRIVATE_NAME.fullmatch(name)) is not None
        }


def _drop(base: str, names: list[str]) -> None:
    with _admin(base) as connection:
        for name in names:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _on_this_machine(base: str) -> bool:
    """Only a server on this machine (loopback or a socket) has databases named after
    this machine's pids: another machine's test run may be alive under the same pid."""
    host = make_url(normalise_url(base)).host
    return host in (None, "", "localhost", "127.0.0.1", "::1") or host.startswith("/")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Drop the private databases of test processes that died without dropping them.

    A process killed (SIGKILL, an interrupted run, a CI step timed out) never runs its
    finalisers, so its databases would stay on the server for good. Only databases
    whose pid is dead on this machine: a live run's (another xdist worker's, another
    worktree's) are never touched. Two workers sweeping at once is harmless: one drops,
    the other's DROP ... IF EXISTS finds nothing, or fails and leaves it to the next."""
    base = os.environ.get(POSTGRES_VARIABLE)
    if not base or not _on_this_machine(base):
        return
    dead: list[str] = []
    with contextlib.suppress(DBAPIError):  # a server gone is reported by the tests
        dead = [name for name, pid in _private_databases(base).items() if not _alive(pid)]
    for name in dead:
        with contextlib.suppress(DBAPIError):
            _drop(base, [name])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Every fixture is finalised by now (trylast: after pytest's own teardown), so a
    private database named after this process is one whose finaliser never ran: it is
    dropped, and named on stderr. Each process looks only at its own pid: safe under
    pytest-xdist, where the other workers' databases may still be in use."""
    base = os.environ.get(POSTGRES_VARIABLE)
    if not base:
        return
    with contextlib.suppress(DBAPIError):  # a server gone is reported by the tests
        mine = [name for name, pid in _private_databases(base).items() if pid == os.getpid()]
        if mine:
            print(f"private databases left by their fixtures, dropped: {mine}", file=sys.stderr)
            _drop(base, mine)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run."""
    with private_postgres_database(_postgres_base()) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def blank_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database with no schema at all, for migration tests."""
    if request.param == "postgresql":
        with private_postgres_database(_postgres_base()) as url:
            database = Database(url)
            yield database
            database.dispose()
        return
    database = Database(f"sqlite:///{tmp_path / 'blank.db'}")
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def client_key() -> ClientKey:
    """The hub's SFTP key pair, as a connector's secret would hold it."""
    return generate_client_key()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test process, copied for each test: running the
    migrations took 0.16 s of CPU per test, copying the file takes 4 ms (the migrations
    themselves are tested from an empty file in tests/test_migrations.py)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "hub.db"
    template = Database(f"sqlite:///{path}")
    upgrade(template)
    template.dispose()
    return path


def _emptying_script() -> str:
    """PostgreSQL's statements that empty the hub's tables, sent at once (one round trip
    instead of one per table): each table's rows deleted, children first, then each
    table's sequence set back to its first value, as TRUNCATE's RESTART IDENTITY did
    (setval is not undone by a rollback, like that restart)."""
    tables = list(reversed(metadata.sorted_tables))
    deletes = [f'DELETE FROM "{table.name}"' for table in tables]
    names = ", ".join(f"'{table.name}'" for table in tables)
    restart = (
        "SELECT setval(sequence.seqrelid, sequence.seqstart, false)"
        " FROM pg_sequence AS sequence"
        " JOIN pg_depend AS owner ON owner.objid = sequence.seqrelid"
        " AND owner.classid = 'pg_class'::regclass AND owner.deptype IN ('a', 'i')"
        f" WHERE owner.refobjid::regclass::text IN ({names})"
    )
    return "; ".join([*deletes, restart])


_EMPTY_POSTGRES_TABLES = _emptying_script()


def empty_tables(database: Database) -> None:
    """Remove every row, keeping the schema: a clean store without re-migrating.

    DELETE, not TRUNCATE, on PostgreSQL too: TRUNCATE gives each of the tables a new
    file, 0.3-0.6 s for the hub's tables on a loaded two-core machine, paid by every
    PostgreSQL test (the ``database`` fixture) and every example of the store's property
    tests; deleting the few rows a test leaves takes about 10 ms."""
    with database.transaction() as connection:
        if database.dialect == "postgresql":
            connection.exec_driver_sql(_EMPTY_POSTGRES_TABLES)
            return
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A migrated, empty hub database on the parametrised backend."""
    if request.param == "postgresql":
        pg: Database = request.getfixturevalue("migrated_postgres")
        empty_tables(pg)
        yield pg
        return
    path = tmp_path_factory.mktemp("sqlite") / "hub.db"
    template: Path = request.getfixturevalue("migrated_sqlite_file")
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    sqlite = Database(f"sqlite:///{path}")
    yield sqlite
    sqlite.dispose()


@pytest.fixture(autouse=True, scope="session")
def network_cache_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The checked networks the reading commands keep (hub.partners.network_cache) go to
    a directory of this test process, inherited by the commands it starts: not the
    user's cache, and not shared with another xdist worker. Set as the user's cache
    folder, since some tests start commands without any ``HUB_`` variable."""
    os.environ.pop(CACHE_DIR_VARIABLE, None)
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))


@pytest.fixture(autouse=True)
def fresh_sftp_session_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no SFTP account's session limit known to the process.

    The limit is process-wide per (host, port, user) and the first one set wins; a
    loopback port reused by a later test's server must not inherit an earlier limit
    (a test of a one-session account once ran with a two-session limit and flaked)."""
    monkeypatch.setattr(sftp_session, "_slots", {})
