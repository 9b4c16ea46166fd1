"""A unit of work opened inside another unit of the same database, in the same thread:
refused at once with ``UnitInsideUnit``, whichever units they are. Left to run, the
inner unit waited for the outer one's locks (SQLite's ``BEGIN IMMEDIATE``: the whole
busy timeout, then "database is locked"; PostgreSQL: for ever on a row the outer unit
locked). A unit in another thread, or on another ``Database``, is not inside it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hub.errors import FatalError, UnitInsideUnit
from hub.store.cases import open_case
from hub.store.db import Connection, Database, after_commit
from hub.store.tables import cases
from tests.factories import make_case, register_network
from tests.locks import not_waiting

REFERENCE = "ME-000123"

Opener = Callable[[Database, ExitStack], AbstractContextManager[Connection]]


def _transaction(database: Database, _stack: ExitStack) -> AbstractContextManager[Connection]:
    return database.transaction()


def _reading(database: Database, _stack: ExitStack) -> AbstractContextManager[Connection]:
    return database.reading()


def _held_transaction(database: Database, stack: ExitStack) -> AbstractContextManager[Connection]:
    return stack.enter_context(database.held()).transaction()


def _held_alone(database: Database, stack: ExitStack) -> AbstractContextManager[Connection]:
    return stack.enter_context(database.held()).alone()


UNITS: dict[str, Opener] = {
    "Database.transaction()": _transaction,
    "Database.reading()": _reading,
    "HeldConnection.transaction()": _held_transaction,
    "HeldConnection.alone()": _held_alone,
}


@pytest.fixture
def impatient(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The test's database with one case, on connections that never wait for a lock:
    an inner unit let through would fail with "database is locked" (SQLite) or a lock
    timeout (PostgreSQL) instead of ``UnitInsideUnit``."""
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case(REFERENCE))
    with not_waiting(database, monkeypatch) as other:
        yield other


def _touch_the_case(connection: Connection) -> None:
    """A write on the case's row: SQLite's writer lock, PostgreSQL's row lock."""
    connection.execute(
        update(cases).where(cases.c.reference == REFERENCE).values(updated_at=cases.c.updated_at)
    )


def _count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(cases)).scalar_one())


@pytest.mark.parametrize("inner", list(UNITS))
@pytest.mark.parametrize("outer", list(UNITS))
def test_a_unit_inside_a_unit_of_the_same_database_is_refused_at_once(
    impatient: Database, outer: str, inner: str
) -> None:
    """Every kind of unit inside every kind: the error names the unit already open, and
    the outer unit goes on and commits as if nothing had been asked."""
    stack = ExitStack()
    with stack, UNITS[outer](impatient, stack) as connection:
        if outer != "Database.reading()":
            _touch_the_case(connection)
        inner_stack = ExitStack()
        with (
            pytest.raises(UnitInsideUnit) as refused,
            inner_stack,
            UNITS[inner](impatient, inner_stack) as nested,
        ):
            _touch_the_case(nested)
        assert _count(connection) == 1
    message = refused.value.message
    assert message.startswith(f"{inner} was opened while this thread already had {outer} open")
    assert isinstance(refused.value, FatalError)  # a mistake to fix, not a retry
    with impatient.transaction() as connection:  # nothing left open in this thread
        _touch_the_case(connection)


def test_units_one_after_the_other_and_a_held_connection_between_them_are_not_nested(
    impatient: Database,
) -> None:
    """``held()`` keeps a connection, it opens no unit: units of the database beside it
    are allowed as long as none of its own is open. What ``after_commit`` asked for runs
    once the unit is closed, and may open one."""
    seen: list[int] = []

    def hook() -> None:
        with impatient.reading() as connection:
            seen.append(_count(connection))

    with impatient.held() as held:
        with held.alone() as connection:
            _count(connection)
        with impatient.transaction() as connection:
            _touch_the_case(connection)
            after_commit(connection, hook)
        with held.transaction() as connection:
            _touch_the_case(connection)
    assert seen == [1]


def test_a_unit_of_another_database_object_is_not_inside(
    database: Database, impatient: Database
) -> None:
    """The guard counts a ``Database``'s own units: another engine on the same data is
    another process's as far as it knows (and a reading unit beside a writer is fine)."""
    with impatient.transaction() as connection:
        _touch_the_case(connection)
        with database.reading() as other:
            assert _count(other) == 1


def test_a_unit_in_another_thread_works_while_one_is_open(impatient: Database) -> None:
    """The outbox's workers and the scheduler's runs open units beside each other: a
    unit open in this thread does not refuse another thread's, either way round."""
    outcomes: list[object] = []

    def in_a_thread(work: Callable[[], object]) -> None:
        def run() -> None:
            try:
                outcomes.append(work())
            except Exception as exc:  # noqa: BLE001 - reported by the test, not lost
                outcomes.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()

    def write() -> str:
        with impatient.transaction() as connection:
            open_case(connection, make_case("ME-000124"))
        return "written"

    def read() -> int:
        with impatient.reading() as connection:
            return _count(connection)

    with impatient.reading() as connection:
        assert _count(connection) == 1
        in_a_thread(write)  # SQLite: this thread holds no writer lock, the other takes it
    with impatient.transaction() as connection:
        _touch_the_case(connection)
        in_a_thread(read)  # beside the writer, the committed state
    assert outcomes == ["written", 2]


def test_a_generator_suspended_inside_a_unit_keeps_it_open_until_it_is_closed(
    impatient: Database,
) -> None:
    """A generator that yields inside a unit leaves it open while it waits: a unit
    opened meanwhile is inside it. Closed, even from another thread (a consumer's pool),
    it frees the thread that opened it."""

    def counts() -> Iterator[int]:
        with impatient.reading() as connection:
            while True:
                yield _count(connection)

    first = counts()
    assert next(first) == 1
    with pytest.raises(UnitInsideUnit, match=r"already had Database\.reading\(\) open"):
        impatient.transaction().__enter__()
    first.close()
    with impatient.transaction() as connection:
        _touch_the_case(connection)

    second = counts()
    assert next(second) == 1
    closer = threading.Thread(target=second.close)
    closer.start()
    closer.join()
    with impatient.transaction() as connection:
        _touch_the_case(connection)


def test_a_unit_that_fails_to_begin_leaves_nothing_open(
    impatient: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BEGIN that fails (the database unreachable) is no unit left open: the next
    unit of the thread is not refused."""
    real = impatient.engine.begin

    def failing() -> Any:
        raise RuntimeError("unreachable")

    monkeypatch.setattr(impatient.engine, "begin", failing)
    with pytest.raises(RuntimeError), impatient.transaction():
        pass
    monkeypatch.setattr(impatient.engine, "begin", real)
    with impatient.transaction() as connection:
        _touch_the_case(connection)
