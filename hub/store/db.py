"""Engine and unit of work: one transaction per piece of work, on SQLite or PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from hub.errors import ConfigurationError, UnitInsideUnit
from hub.store import urls
from hub.store.urls import normalise_url

__all__ = [
    "Connection",
    "Database",
    "HeldConnection",
    "StoreBusy",
    "StoreConflict",
    "StoreError",
    "UnstorableValue",
    "after_commit",
    "lost_to_a_rival",
    "normalise_url",
]
"""``Connection`` is the unit of work's handle: services take and pass it, typed from
here, and hand it to the store's query functions; only ``hub.store`` imports SQLAlchemy.
The errors are the ones a service tells apart: a unique key taken by a concurrent
writer (``IntegrityError``), and any database error at all (``SQLAlchemyError``)."""

StoreConflict = IntegrityError
"""A write broke a uniqueness or foreign-key rule (a concurrent twin won, most often)."""
UnstorableValue = DataError
"""A value the database cannot hold (out of range, bad encoding)."""
StoreBusy = OperationalError
"""The database could not do the work now (locked, unreachable): worth a retry later."""
StoreError = SQLAlchemyError
"""Any failure of the database or its driver (the others are kinds of it)."""

RIVAL_STATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock detected and serialization failure: the server rolled the
unit back to let another writer go on; the same work run again may succeed."""


def lost_to_a_rival(error: StoreBusy) -> bool:
    """Whether PostgreSQL failed the unit to break a deadlock with another writer (or a
    serialization failure): rolled back whole, worth running again at once. Told by
    the driver's SQLSTATE; SQLite's errors have none (one writer at a time: it waits for
    the lock, its busy timeout, and never deadlocks)."""
    return getattr(error.orig, "sqlstate", None) in RIVAL_STATES


SQLITE_WRITER_PAUSE = 0.12
"""Seconds a long job steps aside between two of its transactions on SQLite. A writer
that finds the file locked is retried by SQLite's busy handler at most 100 ms apart, and
no queue says who is next: a job that began its next transaction at once would take the
lock again before the waiter woke, and keep it from the waiter for the whole job."""


_AFTER_COMMIT = "hub.after_commit"
"""Where a transaction of ``Database.transaction`` keeps its hooks, in the connection's
info (cleared when the transaction ends: the pool reuses the connection)."""


def after_commit(connection: Connection, hook: Callable[[], None]) -> None:
    """Run ``hook`` once this transaction has committed (another process can see what it
    wrote by then): how the outbox wakes its dispatcher when a message is queued. Nothing
    happens on a connection that no ``Database.transaction`` opened."""
    hooks = connection.info.get(_AFTER_COMMIT)
    if isinstance(hooks, list):
        hooks.append(hook)


_READING = "hub.reading"
"""Set in a connection's info by ``Database.reading()`` for its one transaction."""
_ALONE = "hub.alone"
"""Set in a connection's info by ``HeldConnection.alone()`` for its one unit."""


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """The settings of every SQLite connection, the plain reads' as well (hub.store.urls);
    then the driver's own transaction handling off, so that ``_sqlite_begin`` says when
    a transaction begins. The driver's legacy handling sent BEGIN only before the first
    INSERT, UPDATE or DELETE: a unit's reads before its first write ran outside its
    transaction, and another writer could commit between them and the write, which then
    wrote from a stale read (a case's status moved backwards: issue 17, seventeenth pass,
    ``tests/test_store_transactions.py``)."""
    urls.sqlite_pragmas(dbapi_connection)
    dbapi_connection.isolation_level = None


def _sqlite_begin(pooled: PoolProxiedConnection) -> None:
    """Every SQLite transaction begins at once, before its first read. A unit of work
    takes the writer's lock there (``BEGIN IMMEDIATE``, waited for by the busy timeout),
    so nothing another writer commits can come between what it reads and what it
    writes. A deferred BEGIN would read in a snapshot and fail its first write at once
    (SQLITE_BUSY, not waited for) whenever another writer committed after that snapshot.
    A read-only unit (``Database.reading()``) begins deferred: in WAL it reads one
    snapshot beside the writer and never waits for it. A held connection's ``alone()``
    unit (one write, or only reads) begins nothing: each statement its own transaction,
    as PostgreSQL's autocommit runs it, and as the driver ran it before.

    The dialect's ``do_begin`` (the pool's connection, whose info is the unit's), not
    the engine's "begin" event: a listener of the engine's events makes SQLAlchemy
    dispatch its events around every statement (about 2 % of a small file's
    instructions), and a failure here is SQLAlchemy's ``OperationalError``, a
    ``StoreBusy``, as any statement's."""
    info = pooled.info
    if info.get(_ALONE):
        return
    driver = pooled.driver_connection
    assert driver is not None
    driver.execute("BEGIN" if info.get(_READING) else "BEGIN IMMEDIATE")


class _OpenUnits(threading.local):
    """The units of work each thread has open on one ``Database``, by what opened them
    (``Database.transaction()``...): one at most. A unit keeps the list it was put in,
    so that one closed in another thread than its own (a generator finished elsewhere)
    still leaves the list of the thread that opened it."""

    def __init__(self) -> None:
        self.units: list[str] = []


def _unit_opened(open_units: _OpenUnits, kind: str) -> list[str]:
    """Record the unit ``kind`` as open in this thread, or raise ``UnitInsideUnit`` if
    one is open already: the inner unit would wait for the outer one's locks, which are
    only released once the outer unit, waiting for it, returns. The caller removes the
    unit from the list returned once it ends. Where the outer unit was opened is not
    kept: the caller's frame (``sys._getframe``) cost a unit about 5,000 instructions,
    a small file 0.2 % (issue 17, eighteenth pass); the traceback shows the inner one."""
    units = open_units.units
    if units:
        raise UnitInsideUnit(
            f"{kind} was opened while this thread already had {units[0]} open on the same "
            "database: a unit inside a unit would wait for the outer one's locks. End the "
            "first unit before opening the next, or do the work with the connection it gave."
        )
    units.append(kind)
    return units


class Database:
    """The hub's database. ``transaction()`` is the unit of work every service uses."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        try:
            self.url = normalise_url(url)
            self.engine: Engine = create_engine(self.url, echo=echo, future=True)
        except Exception as exc:  # SQLAlchemy raises several types for a bad URL
            raise ConfigurationError(f"cannot use database URL: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.engine.dialect.do_begin = _sqlite_begin  # type: ignore[method-assign,assignment]
        elif self.engine.dialect.name != "postgresql":
            raise ConfigurationError(
                f"unsupported database {self.engine.dialect.name!r}: use SQLite or PostgreSQL"
            )
        self._open_units = _OpenUnits()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def works_apart(self) -> bool:
        """Whether the database does a statement's work in another process (PostgreSQL),
        this one only waiting, so that work done beside it in a thread is won time. SQLite
        works in this process and hands the GIL back and forth for every row a statement
        returns: a thread beside it was measured slower, not faster (issue 17)."""
        return self.dialect == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Commit everything done inside, or nothing; then run what ``after_commit``
        asked for (none of it when the transaction rolled back)."""
        units = _unit_opened(self._open_units, "Database.transaction()")
        hooks: list[Callable[[], None]] = []
        try:
            with self.engine.begin() as connection, _after_commit_kept(connection, hooks):
                yield connection
        finally:
            units.pop()
        for hook in hooks:  # committed, and the connection back in the pool
            hook()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A unit of work that only reads: one consistent snapshot, as ``transaction()``
        gives, but on SQLite without the writer's lock, so that it never waits for a
        writer (nor a writer for it). A write in it is a mistake: on SQLite it fails
        whenever another writer committed since the unit began. PostgreSQL: the same
        transaction as ``transaction()``."""
        units = _unit_opened(self._open_units, "Database.reading()")
        try:
            with self.engine.connect() as connection:
                connection.info[_READING] = True
                try:
                    with connection.begin():
                        yield connection
                finally:
                    if not connection.invalidated:
                        connection.info.pop(_READING, None)
        finally:
            units.pop()

    @contextmanager
    def held(self) -> Iterator[HeldConnection]:
        """One pool connection kept for several transactions one after the other, each
        committed on its own as ``transaction()`` commits it: a small file's archive and
        then its events paid a checkout and a check-in each (about 2 % of its
        instructions, issue 17)."""
        with self.engine.connect() as connection:
            yield HeldConnection(connection, self._open_units, works_apart=self.works_apart)

    def let_writers_in(self) -> None:
        """Between two chunks of a long job, give waiting writers their turn.

        SQLite has one writer at a time: pause past the busy handler's retry interval.
        PostgreSQL writers only wait for the rows they share, which a commit releases.
        """
        if self.dialect == "sqlite":
            time.sleep(SQLITE_WRITER_PAUSE)

    def dispose(self) -> None:
        self.engine.dispose()

    def sqlite_file(self) -> Path | None:
        """The file of a SQLite database (None for PostgreSQL or an in-memory one): a
        command must not create it by merely connecting."""
        return urls.sqlite_file(self.url)

    def safe_url(self) -> str:
        """The URL with any password masked, fit for logs and screens."""
        return urls.safe_url(self.url)


class HeldConnection:
    """A connection ``Database.held()`` keeps: its ``transaction()`` is
    ``Database.transaction()``'s unit of work, on that one connection."""

    def __init__(
        self, connection: Connection, open_units: _OpenUnits, *, works_apart: bool
    ) -> None:
        self._connection = connection
        self._open_units = open_units
        """Its database's units open in each thread: its own units count among them."""
        self.works_apart = works_apart
        """``Database.works_apart`` of the database it belongs to."""
        self._server = connection.dialect.name == "postgresql"

    @contextmanager
    def transaction(self, *, kind: str = "HeldConnection.transaction()") -> Iterator[Connection]:
        """Commit everything done inside, or nothing; then run what ``after_commit``
        asked for, as ``Database.transaction()`` does. ``kind``: what a unit opened
        inside this one is told was open (``alone()`` names itself)."""
        units = _unit_opened(self._open_units, kind)
        hooks: list[Callable[[], None]] = []
        connection = self._connection
        try:
            with connection.begin(), _after_commit_kept(connection, hooks):
                yield connection
        finally:
            units.pop()
        for hook in hooks:
            hook()

    @contextmanager
    def alone(self) -> Iterator[Connection]:
        """``transaction()`` for a unit of work that is one write or only reads, each
        statement committed by PostgreSQL as it runs (the driver's autocommit): no BEGIN
        and no COMMIT round trip. A small file of a run paid three such units (its read
        state, its archive, its acknowledged mark), a BEGIN and a COMMIT each: 6 of its
        23 round trips (issue 17, sixteenth pass). Not for two writes that must commit
        together. On SQLite, no BEGIN either (``_sqlite_begin``): the one write is its
        own transaction, the reads need none, and a BEGIN and a COMMIT cost a small file
        of a run 2.5 % of its instructions (issue 17, seventeenth pass)."""
        with (
            self._committing_each_statement(),
            self.transaction(kind="HeldConnection.alone()") as connection,
        ):
            yield connection

    @contextmanager
    def _committing_each_statement(self) -> Iterator[None]:
        """What ``alone()`` sets around its unit: on SQLite no BEGIN (``_sqlite_begin``),
        on PostgreSQL the driver's autocommit (SQLAlchemy's begin and commit then send
        nothing); set back after, on a connection still valid (one the server dropped is
        invalidated: nothing to set back)."""
        connection = self._connection
        if not self._server:
            connection.info[_ALONE] = True
            try:
                yield
            finally:
                if not connection.invalidated:
                    connection.info.pop(_ALONE, None)
            return
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.autocommit = True
        try:
            yield
        finally:
            if not connection.invalidated:
                driver.autocommit = False


@contextmanager
def _after_commit_kept(connection: Connection, hooks: list[Callable[[], None]]) -> Iterator[None]:
    """Collect in ``hooks`` what ``after_commit`` asks for during one transaction on
    ``connection`` (its caller runs them once committed): the one definition behind
    ``Database.transaction()`` and ``HeldConnection.transaction()``."""
    connection.info[_AFTER_COMMIT] = hooks
    try:
        yield
    finally:
        # A connection the server dropped is invalidated and holds no info: asking for it
        # would hide the disconnect behind SQLAlchemy's PendingRollbackError.
        if not connection.invalidated:
            connection.info.pop(_AFTER_COMMIT, None)
