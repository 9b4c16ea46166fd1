"""SQLAlchemy statements compiled once per database kind and run on the driver itself.

A small file runs half a dozen fixed statements (its archive row, the links' read, the
cases' update, the rejects' read, the read mark). Through ``Connection.execute`` each
call pays SQLAlchemy's execution: the cache key, the compiled cache's lookup, the
parameters processed through the compiled statement, an execution context, the result's
set-up from the cursor's description: 170-650 k instructions a statement in Python, more
than the database's own work (issue 17, ninth pass). Here each statement keeps its one
definition as a SQLAlchemy construct; it is compiled by SQLAlchemy once per database kind
and parameter names (and per length of an ``expanding`` list), as
``Connection.execute`` would compile it, and then each call only binds the values through
the same type processors SQLAlchemy would use and hands the SQL to the driver's cursor.
Rows come back as tuples with the result columns' processors applied.

Errors are raised as SQLAlchemy raises them for a statement (``DBAPIError.instance``),
so the store's callers tell a conflict or a busy database apart by the same classes.
The engine's ``before_cursor_execute`` listeners still see each statement (with no
execution context: there is none), so that what counts a file's statements counts these;
the engine's ``echo`` log does not show them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine

from hub.store.instants import aware_or_none, sqlite_text
from hub.store.types import UtcDateTime

Processor = Callable[[Any], Any]
Parameters = Mapping[str, Any]


Slot = tuple[str, str | None, Any, Processor | None]
"""A driver parameter: the driver's name for it, the caller's name, the position in an
expanding list (None for a plain value), its processor. A value the statement holds
itself (a ``LIMIT``'s) has no caller's name, its value in place of the position."""


class _Plan:
    """One SQL text for the driver, and how a call's values become its parameters."""

    __slots__ = ("_keys", "_plain", "_processed", "_slots", "positional", "results", "sql")

    def __init__(
        self,
        sql: str,
        slots: Sequence[Slot],
        *,
        positional: bool,
        results: tuple[tuple[int, Processor], ...],
    ) -> None:
        self.sql = sql
        self.positional = positional
        self.results = results
        """The result columns that have a processor, by position, with it."""
        self._slots = tuple(slots)
        self._keys = tuple(slot[0] for slot in slots)
        # Worked out once: a file's update binds a dozen rows through them.
        plain = all(name is not None and index is None for _, name, index, _ in slots)
        self._plain = tuple(str(slot[1]) for slot in slots) if plain else None
        self._processed = tuple(
            (position, slot[3]) for position, slot in enumerate(slots) if slot[3] is not None
        )

    def arguments(
        self, values: Parameters, kept: list[tuple[Any, Any]] | None = None
    ) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters from the caller's values, each through its processor.

        ``kept``, for the rows of one ``executemany``: each processed position's last
        value and what its processor gave, so that a value the rows share (the batch's
        one instant: its ``now``, its ``since``) is processed once, not once a row (an
        instant bound on SQLite, the column type's call, ``astimezone`` and SQLAlchemy's
        text, is about 21,000 instructions; issue 17, thirteenth pass). By identity,
        within one call: the values are not changed meanwhile."""
        if self._plain is not None:
            bound = [values[name] for name in self._plain]
        else:
            bound = [
                index if name is None else values[name] if index is None else values[name][index]
                for _, name, index, _ in self._slots
            ]
        if kept is None:
            for position, process in self._processed:
                bound[position] = process(bound[position])
        else:
            for number, (position, process) in enumerate(self._processed):
                value = bound[position]
                last, done = kept[number]
                if value is not last:
                    done = process(value)
                    kept[number] = (value, done)
                bound[position] = done
        if self.positional:
            return tuple(bound)
        return dict(zip(self._keys, bound, strict=True))

    def many_arguments(self, rows: Sequence[Parameters]) -> list[Any]:
        """``arguments`` of each row of one ``executemany``, a value the rows share
        processed once."""
        unseen = _Sentinel()
        kept: list[tuple[Any, Any]] = [(unseen, None)] * len(self._processed)
        return [self.arguments(values, kept) for values in rows]


class _Sentinel:
    """A stand-in value: SQLAlchemy's expanded parameters name which caller's value (and
    which item of a list) each driver parameter is, by identity."""

    __slots__ = ()


@dataclass(frozen=True)
class _Compiled:
    compiled: SQLCompiler
    expanding: tuple[str, ...]
    results: tuple[tuple[int, Processor], ...]


class DriverStatement:
    """A statement (or one per database kind, from ``build``) run on the driver's cursor.

    Compiled as ``Connection.execute`` compiles it for the same parameter names, so the
    SQL is SQLAlchemy's own: one definition of each statement, no second SQL text.
    """

    def __init__(self, build: Callable[[str], ClauseElement]) -> None:
        self._build = build
        self._compiled: dict[tuple[str, tuple[str, ...], bool], _Compiled] = {}
        self._plans: dict[tuple[str, tuple[str, ...], bool, tuple[int, ...]], _Plan] = {}

    def rows(self, connection: Connection, values: Parameters) -> list[tuple[Any, ...]]:
        """Run the statement with these values; its rows, each a tuple."""
        plan = self._plan(connection.dialect, values, many=False)
        return _processed(driver_rows(connection, plan.sql, plan.arguments(values)), plan.results)

    def execute(self, connection: Connection, values: Parameters) -> None:
        """Run the statement with these values, its rows (if any) not read."""
        self.rows(connection, values)

    def execute_many(self, connection: Connection, values: Sequence[Parameters]) -> int:
        """Run the statement once per set of values (all with the same names), in one
        call of the driver's ``executemany``; the rows it changed, as the driver counts
        them (on SQLite, summed over the sets: an insert skipped on a conflict counts
        none)."""
        if not values:
            return 0
        plan = self._plan(connection.dialect, values[0], many=True)
        arguments: Any = plan.many_arguments(values)
        cursor = _cursor(connection)
        _announce(connection, cursor, plan.sql, arguments, many=True)
        try:
            cursor.executemany(plan.sql, arguments)
            changed = int(cursor.rowcount)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, cursor, plan.sql, arguments, error) from error
        finally:
            cursor.close()
        return changed

    def _plan(self, dialect: Dialect, values: Parameters, *, many: bool) -> _Plan:
        names = tuple(values)
        compiled = self._compiled.get((dialect.name, names, many))
        if compiled is None:
            compiled = self._compile(dialect, names, many)
        lengths = tuple(len(values[name]) for name in compiled.expanding)
        plan = self._plans.get((dialect.name, names, many, lengths))
        if plan is None:
            plan = _expand(compiled, dialect, names, lengths)
            self._plans[(dialect.name, names, many, lengths)] = plan
        return plan

    def _compile(self, dialect: Dialect, names: tuple[str, ...], many: bool) -> _Compiled:
        statement = self._build(dialect.name)
        # As Connection.execute compiles it: the parameters' names, sorted, decide an
        # insert's columns.
        compiled = statement.compile(
            dialect=dialect, column_keys=sorted(names), for_executemany=many
        )
        assert isinstance(compiled, SQLCompiler), "a SQL statement"
        # The caller's lists; a list the statement holds itself (``IN`` of fixed values)
        # keeps its values, which SQLAlchemy expands from the statement as it always does.
        expanding = tuple(
            name for name, bind in compiled.binds.items() if bind.expanding and name in names
        )
        columns = getattr(statement, "exported_columns", ())
        processors = [_result_processor(column.type, dialect) for column in columns]
        results = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        done = _Compiled(compiled, expanding, results)
        self._compiled[(dialect.name, names, many)] = done
        return done


def _expand(
    compiled: _Compiled, dialect: Dialect, names: tuple[str, ...], lengths: tuple[int, ...]
) -> _Plan:
    """The SQL for lists of these lengths, and where each driver parameter's value comes
    from: asked of SQLAlchemy with a stand-in for every value, recognised by identity."""
    stand_ins: dict[str, Any] = {name: _Sentinel() for name in names}
    whence: dict[int, tuple[str | None, Any]] = {id(v): (n, None) for n, v in stand_ins.items()}
    for listed, length in zip(compiled.expanding, lengths, strict=True):
        items = [_Sentinel() for _ in range(length)]
        stand_ins[listed] = items
        whence.update((id(item), (listed, index)) for index, item in enumerate(items))
    source = compiled.compiled
    state = source.construct_expanded_state(stand_ins)
    # The expanded lists' processors come with the state; a plain value's are its type's
    # for this dialect, as SQLAlchemy's own execution takes them.
    processors: dict[str, Processor | None] = {
        source.escaped_bind_names.get(name, name): _bind_processor(bind.type, dialect)
        for name, bind in source.binds.items()
        if not bind.expanding
    }
    processors.update(state.processors)
    order = state.positiontup if state.positiontup is not None else list(state.parameters)
    slots: list[Slot] = []
    for key in order:
        value = state.parameters[key]
        caller, index = whence.get(id(value), (None, value))
        slots.append((key, caller, index, processors.get(key)))
    sql = state.statement
    if dialect.driver == "psycopg" and state.positiontup is None:
        sql = binary_arrays(sql, state.parameters)
    return _Plan(
        sql,
        slots,
        positional=state.positiontup is not None,
        results=compiled.results,
    )


def binary_arrays(sql: str, names: Iterable[str]) -> str:
    """``sql`` with each parameter of ``names`` that it binds only as an array of a type
    it says (a bind cast ``%(name)s::TYPE[]`` or ``CAST(%(name)s AS TYPE[])``, as
    SQLAlchemy renders them for psycopg) bound in PostgreSQL's binary format (psycopg's
    ``%(name)b``). psycopg writes an array's text element by element in Python, each
    element's text checked for quoting by a regular expression; its binary dumper packs
    them (issue 17, seventeenth pass). The server then reads the same values: a text
    element as text, an instant with its offset as the same ``timestamptz``, NULL
    elements as NULL, an integer in the width psycopg picks from the list's values in
    either format, then cast to the type said. A parameter bound anywhere without an
    array type said stays in text: the server infers an untyped text literal's type from
    its context, where a binary array comes typed (``text[]`` for texts)."""
    for name in names:
        placeholder = f"%({name})s"
        bound = sql.count(placeholder)
        if bound and len(re.findall(_typed_array(placeholder), sql)) == bound:
            sql = sql.replace(placeholder, f"%({name})b")
    return sql


def _typed_array(placeholder: str) -> str:
    """A pattern of ``placeholder`` bound as an array of a type said: ``::TYPE[]``, or
    ``CAST(... AS TYPE[])`` (a type's name, its length or precision in brackets)."""
    kind = r"[A-Za-z][A-Za-z0-9_ ]*(?:\(\d+(?:, ?\d+)?\))?\[\]"
    escaped = re.escape(placeholder)
    return rf"{escaped}::{kind}|CAST\({escaped} AS {kind}\)"


def _bind_processor(kind: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    """A plain value's processor: its type's for this dialect, as SQLAlchemy's own
    execution takes it, but an instant on SQLite written by hub.store.instants' writer,
    the plain reads' own, whose text hub.store.plain_statements checks is the column
    type's. The column type's call, its ``astimezone`` and SQLAlchemy's formatting of
    every field cost about twice that writer's work, which writes an hour's text once
    (issue 17, thirteenth pass, second round)."""
    if dialect.name == "sqlite" and isinstance(kind, UtcDateTime):
        return _sqlite_instant
    return kind.dialect_impl(dialect).bind_processor(dialect)


def _result_processor(kind: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    """A result column's processor: its type's for this dialect, but an instant read on
    SQLite made aware by hub.store.instants' reader, the plain reads' own. The column
    type's is SQLAlchemy's parse of the text, then the TypeDecorator's call and its
    ``process_result_value`` in Python, about four times ``fromisoformat`` and a
    ``combine``: every case a file names has its status's instant read (issue 17,
    fifteenth pass)."""
    if dialect.name == "sqlite" and isinstance(kind, UtcDateTime):
        return aware_or_none
    return kind.dialect_impl(dialect).result_processor(dialect, None)


def _sqlite_instant(value: datetime | None) -> str | None:
    """An instant bound on SQLite as the column type binds it: ``None`` as NULL, a naive
    one refused."""
    return None if value is None else sqlite_text(value)


def driver_rows(
    connection: Connection,
    sql: str,
    arguments: Sequence[Any] | Mapping[str, Any] = (),
    *,
    binary: bool = False,
) -> list[tuple[Any, ...]]:
    """Run SQL in the driver's own parameter style on a cursor of the transaction's
    driver connection; its rows as the driver gives them (none for a statement without).
    ``binary``: the rows in PostgreSQL's binary format (psycopg's option), where the text
    format would cost a decoding of every byte (a bytea's hexadecimal)."""
    return _run(connection, sql, arguments, binary)[0]


def driver_changes(
    connection: Connection, sql: str, arguments: Sequence[Any] | Mapping[str, Any] = ()
) -> int:
    """``driver_rows`` for a statement that returns no rows: the rows it changed, as the
    driver counts them (on SQLite an insert's row skipped on a conflict counts none, and
    rows a trigger writes are not counted)."""
    return _run(connection, sql, arguments, False)[1]


def _run(
    connection: Connection,
    sql: str,
    arguments: Sequence[Any] | Mapping[str, Any],
    binary: bool,
) -> tuple[list[tuple[Any, ...]], int]:
    """A driver statement run on a cursor announced to the engine's listeners, the
    driver's error wrapped as SQLAlchemy's: its rows (none for a statement without) and
    the driver's count of the rows it changed."""
    cursor = _cursor(connection)
    _announce(connection, cursor, sql, arguments, many=False)
    try:
        if binary:
            cursor.execute(sql, arguments, binary=True)
        else:
            cursor.execute(sql, arguments)
        rows = cast(
            "list[tuple[Any, ...]]", cursor.fetchall() if cursor.description is not None else []
        )
        changed = int(cursor.rowcount)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _wrapped(connection, cursor, sql, arguments, error) from error
    finally:
        cursor.close()
    return rows, changed


def _cursor(connection: Connection) -> Any:
    """A cursor of the connection's driver connection, in a transaction SQLAlchemy knows
    of: a connection outside ``begin()`` begins one, as its own execution would
    (autobegin), so that its ``commit()`` commits what the driver wrote."""
    if not connection.in_transaction():
        connection.begin()
    return connection.connection.cursor()


def _announce(connection: Connection, cursor: Any, sql: str, arguments: Any, *, many: bool) -> None:
    """The statement told to the engine's ``before_cursor_execute`` listeners, if any."""
    listeners = connection.dispatch.before_cursor_execute
    if listeners:
        listeners(connection, cursor, sql, arguments, None, many)


def _processed(
    rows: list[tuple[Any, ...]], processors: tuple[tuple[int, Processor], ...]
) -> list[tuple[Any, ...]]:
    """The rows with their columns' result processors applied, only where one exists."""
    if not processors:
        return rows
    done = []
    for row in rows:
        values = list(row)
        for position, process in processors:
            values[position] = process(values[position])
        done.append(tuple(values))
    return done


def _wrapped(
    connection: Connection, cursor: Any, sql: str, arguments: Any, error: Exception
) -> StatementError:
    """The driver's error as SQLAlchemy raises it for a statement (``IntegrityError``,
    ``OperationalError``...), which the store's callers tell apart. A lost connection
    (the server restarted, the session killed) is invalidated as SQLAlchemy's own
    execution does, so that the pool hands out a new one instead of the dead one."""
    dialect = connection.dialect
    driver_error: Any = error  # caught as the driver's own Error class
    lost = dialect.is_disconnect(driver_error, connection.connection.dbapi_connection, cursor)
    wrapped = DBAPIError.instance(
        sql,
        arguments,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )
    if lost:
        connection.invalidate(wrapped)
    return wrapped
