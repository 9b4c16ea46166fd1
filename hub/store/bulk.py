"""Driver-level bulk insert of events, with exactly which ones were new.

Appending is the hub's hot path (a 200,000-line partner file is 200,000 events).
SQLAlchemy's per-row parameter processing costs more than the database work, so rows
are built here straight from the events, once, in plain Python, and sent as one
statement per chunk: multi-row ``VALUES`` on SQLite; on PostgreSQL, ``COPY`` straight
into ``events`` in a savepoint, in binary with each column's type said (psycopg dumps
array parameters in Python, which cost more than the database's work; its COPY is
written in C), or for a few rows ``unnest`` of typed arrays (one round trip).
``unnest``, a COPY that met a stored id (then through a session's temporary table) and a
SQLite statement that met one use ``ON CONFLICT DO NOTHING RETURNING``; a COPY or a
SQLite statement that went in whole stored every row: the caller learns exactly which
events it stored, even when another process writes the same ids at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone, tzinfo
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from hub.model.event import Event, EventDetails
from hub.store.compiled import driver_changes, driver_rows
from hub.store.instants import sqlite_time

COLUMNS = (
    "event_id",
    "case_id",
    "case_ref",
    "partner_ref",
    "type",
    "status",
    "unmapped",
    "occurred_at",
    "occurred_offset_minutes",
    "recorded_at",
    "reported_by",
    "raw_code",
    "raw_label",
    "subject",
    "details",
    "message_id",
)

_PG_TYPES = {
    "case_id": "bigint",
    "unmapped": "boolean",
    "occurred_at": "timestamptz",
    "occurred_offset_minutes": "integer",
    "recorded_at": "timestamptz",
    "details": "text",
    "message_id": "bigint",
}

SQLITE_ROWS_PER_STATEMENT = 500
"""16 parameters a row; SQLite allows 32,766 parameters a statement."""

_SQLITE_PLACEHOLDERS = "(" + ", ".join("?" for _ in COLUMNS) + ")"

_PG_COPY_TYPES = tuple(_PG_TYPES.get(column, "text") for column in COLUMNS)
"""Each column's type for a binary COPY, in ``COLUMNS`` order. Texts go as ``text``, whose
binary form is its bytes, as are ``varchar``'s and ``json``'s: the server still applies
each column's length and checks the details' JSON (issue 17)."""

_PG_SELECT = ", ".join(f"{column}::json" if column == "details" else column for column in COLUMNS)
"""What PostgreSQL selects into ``events`` from text and arrays: details become JSON."""


def details_json(details: EventDetails) -> str | None:
    """The details as stored: what differs from the defaults, or NULL when nothing came.

    One serialisation in pydantic's core, asked of the model's serializer itself:
    ``model_dump`` then ``json.dumps`` cost several times more on the hot path, and
    ``model_dump_json``'s own wrapper (its keywords, the bytes decoded before the
    comparison) about 40 % of what is left (issue 17).
    """
    text = type(details).__pydantic_serializer__.to_json(details, exclude_defaults=True)
    return None if text == b"{}" else text.decode()


def _offset_minutes(moment: datetime) -> int:
    offset = moment.utcoffset()
    assert offset is not None, "events are aware"
    return int(offset.total_seconds() // 60)


def _as_is(moment: datetime) -> datetime:
    return moment


def _rows(
    events: Sequence[Event],
    case_ids: Sequence[int | None],
    message_id: int | None,
    instant: Callable[[datetime], Any] = _as_is,
    flags: tuple[Any, Any] = (False, True),
) -> Iterator[tuple[Any, ...]]:
    """Each event as a row in ``COLUMNS`` order, its instants written by ``instant``
    (as they are for psycopg, as SQLite's text for SQLite) and ``unmapped`` as
    ``flags`` give false and true: one place says what a row is.

    A file's events share their ``recorded_at``, the one object: written once, not per
    event. Not a dict of instants either: hashing an aware datetime asks its zone for
    its offset, and each ``occurred_at`` comes once (issue 17).

    Likewise a fixed offset (a ``timezone``, which the parse gives its instants) is
    worked out once for the events that share it, and an enum's text is read as its
    ``_value_``: ``utcoffset`` with its ``timedelta`` arithmetic, and ``.value`` (Python
    code in ``enum``), cost about 7,500 instructions a row here (issue 17, tenth pass).
    A zone's offset (``ZoneInfo``) depends on the instant: asked every time.

    The fields are read from the model's ``__dict__``, where pydantic keeps them (and
    hub.model.event's trusted events put them): an attribute of a pydantic model goes
    through its ``__getattr__`` hook, about twice a dictionary's item (issue 17,
    thirteenth pass)."""
    recorded_from: datetime | None = None
    recorded: Any = None
    fixed: tzinfo | None = None
    minutes = 0
    for event, case_id in zip(events, case_ids, strict=True):
        fields = event.__dict__
        status = fields["status"]
        occurred = fields["occurred_at"]
        if fields["recorded_at"] is not recorded_from:
            recorded_from = fields["recorded_at"]
            recorded = instant(recorded_from)
        zone = occurred.tzinfo
        if zone is not fixed or zone is None:
            minutes = _offset_minutes(occurred)
            fixed = zone if type(zone) is timezone else None
        yield (
            fields["id"],
            case_id,
            fields["case_ref"],
            fields["partner_ref"],
            fields["type"]._value_,
            None if status is None else status._value_,
            flags[status is None],
            instant(occurred),
            minutes,
            recorded,
            fields["reported_by"],
            fields["raw_code"],
            fields["raw_label"],
            fields["subject"],
            details_json(fields["details"]),
            message_id,
        )


_SQLITE_FLAGS = (0, 1)
"""``unmapped`` bound on SQLite: as an ``int``, which sqlite3 binds at once, where a
``bool`` goes through its adaptation protocol first (a lookup of ``__adapt__`` that
formats the ``AttributeError`` it catches: about 3,300 instructions a row; issue 17,
thirteenth pass). SQLAlchemy's ``Boolean`` stores the same 0 and 1."""


def _statement_rows(values: list[Any], rows: int) -> tuple[str, list[Any]]:
    """The VALUES of ``rows`` rows flat in ``values`` (``COLUMNS`` a row), and what is
    bound: a column NULL in every row is written ``NULL`` in the statement rather than
    bound. sqlite3 binds ``None`` through its adaptation protocol (a lookup of
    ``__adapt__`` that formats the ``AttributeError`` it catches: about 3,300
    instructions a value, issue 17), and most files leave some column empty on every
    row (``subject`` but for carriers', ``details`` for bare statuses). ``values`` is
    emptied of those columns in place (``del`` of a stride, in C)."""
    width = len(COLUMNS)
    empty = [
        column
        for column in range(width)
        if values[column] is None and values[column::width].count(None) == rows
    ]
    for column in reversed(empty):
        del values[column::width]
        width -= 1
    placeholders = (
        _SQLITE_PLACEHOLDERS
        if not empty
        else "("
        + ", ".join("NULL" if column in empty else "?" for column in range(len(COLUMNS)))
        + ")"
    )
    return ", ".join([placeholders] * rows), values


_SQLITE_SKIPPING = " ON CONFLICT (event_id) DO NOTHING"
"""An id stored already is skipped, the other rows written."""

_SQLITE_NEWEST = "SELECT event_id FROM events ORDER BY seq DESC LIMIT ?"
"""The ids of the events last inserted, newest first: a statement's new rows on SQLite,
told by their number (``_insert_sqlite``)."""


def _insert_sqlite(
    connection: Connection,
    events: Sequence[Event],
    case_ids: Sequence[int | None],
    message_id: int | None,
) -> list[str]:
    """Each statement's rows inserted skipping the ids stored already, without
    ``RETURNING`` (about 7,000 instructions a row, issue 17, fifteenth pass): the
    driver's count of the rows it wrote says which went in. All of them: the ids are the
    rows' own. Fewer: the new rows are that many highest ``seq`` (SQLite numbers a new
    row above every row in the table, and the statement took the database's one write
    lock, kept to the commit: no other writer adds a row meanwhile), read in one
    statement. A plain insert that a stored id aborted whole, then ran again skipping
    conflicts, did the statement's work twice, and SQLite rolled the first back from its
    statement journal: a small file that brings one row sent before paid that (nine
    files of ten in ``bench/ingest.py``'s small files, issue 17, seventeenth pass)."""
    stored: list[str] = []
    values: list[Any] = []
    for row in _rows(events, case_ids, message_id, sqlite_time(), _SQLITE_FLAGS):
        values += row
    width = len(COLUMNS)
    step = SQLITE_ROWS_PER_STATEMENT * width
    for start in range(0, len(values), step):
        chunk = values[start : start + step]
        ids = chunk[::width]
        rows, bound = _statement_rows(chunk, len(ids))
        insert = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES {rows}"  # noqa: S608 - constant names
        written = driver_changes(connection, insert + _SQLITE_SKIPPING, tuple(bound))
        if written == len(ids):
            stored.extend(ids)
        elif written:
            newest = driver_rows(connection, _SQLITE_NEWEST, (written,))
            stored.extend(row[0] for row in reversed(newest))
    return stored


PG_COPY_FROM = 200
"""From this many rows a chunk goes through COPY: below, the temporary table's three
extra round trips cost more than dumping the arrays."""

_STAGE = "hub_events_in"
"""The session's temporary table COPY fills; emptied after each chunk, so it is empty
between statements of any transaction (and gone with the session)."""

_STAGE_DDL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (input_order integer, "
    + ", ".join(f"{column} {_PG_TYPES.get(column, 'text')}" for column in COLUMNS)
    + ")"
)


def _copy_postgresql(
    connection: Connection,
    events: Sequence[Event],
    case_ids: Sequence[int | None],
    message_id: int | None,
) -> list[str]:
    """COPY the events straight into ``events``, in file order (the feed trigger
    numbers them as they come), as the store floor does: no temporary table, no second
    insert (issue 17). In binary, each column's type said: psycopg writes an instant
    from its numbers, not from its text (``str`` of an aware datetime, about 11,000
    instructions, twice a row), and escapes no text (issue 17, tenth pass).

    The COPY runs in a savepoint: when an id is stored already (a file sent again, or a
    concurrent ingestion of the same events), it fails whole and the chunk goes the
    conflict-skipping way instead, which reports exactly the new ids.
    No lookup of known ids first: PostgreSQL plans one for thousands of ids as a scan of
    the table."""
    import psycopg  # PostgreSQL only: imported when used

    statement = f"COPY events ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    driver = connection.connection.driver_connection
    assert driver is not None, "a live connection"
    try:
        with (
            connection.begin_nested(),
            driver.cursor() as cursor,
            cursor.copy(statement) as copy,
        ):
            copy.set_types(_PG_COPY_TYPES)
            for row in _rows(events, case_ids, message_id):
                copy.write_row(row)
    except psycopg.errors.UniqueViolation:
        return _copy_staged(connection, events, case_ids, message_id)
    except psycopg.Error as error:
        # As SQLAlchemy raises it for a statement: the store's callers tell a conflict
        # (a foreign key) or an unstorable value apart by SQLAlchemy's classes.
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error
    return [event.id for event in events]


def _copy_staged(
    connection: Connection,
    events: Sequence[Event],
    case_ids: Sequence[int | None],
    message_id: int | None,
) -> list[str]:
    """COPY the rows into the temporary table, then insert them into ``events`` in
    their order, skipping ids stored meanwhile: the way of a chunk whose direct COPY met
    an id a concurrent ingestion had just stored."""
    connection.exec_driver_sql(_STAGE_DDL)
    driver = connection.connection.driver_connection
    assert driver is not None, "a live connection"
    with (
        driver.cursor() as cursor,
        cursor.copy(
            f"COPY {_STAGE} (input_order, {', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(("integer", *_PG_COPY_TYPES))
        for position, row in enumerate(_rows(events, case_ids, message_id)):
            copy.write_row((position, *row))
    stored = [
        r[0]
        for r in connection.exec_driver_sql(
            f"INSERT INTO events ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
            f"SELECT {_PG_SELECT} FROM {_STAGE} ORDER BY input_order "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )
    ]
    connection.exec_driver_sql(f"TRUNCATE {_STAGE}")
    return stored


_PG_UNNEST_INSERT = (
    f"INSERT INTO events ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
    f"SELECT {_PG_SELECT} FROM unnest("
    + ", ".join(f"%b::{_PG_TYPES.get(column, 'text')}[]" for column in COLUMNS)
    + f") AS t({', '.join(COLUMNS)}) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
"""A few events inserted from one array a column, each said with its type and sent in
PostgreSQL's binary format (``%b``): psycopg writes an array's text element by element
in Python, each element's text checked for quoting by a regular expression (a file's 16
arrays were most of its parameters' dumping); its binary dumper packs them, an instant
from its numbers, a text as its bytes, NULL elements as NULL (issue 17, seventeenth
pass). The server reads the same values either way; ``details`` is still cast from text
to JSON, so it is checked as before."""


def _insert_postgresql(
    connection: Connection,
    events: Sequence[Event],
    case_ids: Sequence[int | None],
    message_id: int | None,
) -> list[str]:
    arrays = [list(column) for column in zip(*_rows(events, case_ids, message_id), strict=True)]
    return [r[0] for r in driver_rows(connection, _PG_UNNEST_INSERT, tuple(arrays))]


def insert_events(
    connection: Connection,
    events: Sequence[Event],
    case_ids: Sequence[int | None],
    *,
    message_id: int | None,
) -> list[str]:
    """Insert the events whose id is new (``case_ids`` beside them); returns those ids."""
    if not events:
        return []
    if connection.dialect.name == "postgresql":
        if len(events) >= PG_COPY_FROM:
            return _copy_postgresql(connection, events, case_ids, message_id)
        return _insert_postgresql(connection, events, case_ids, message_id)
    return _insert_sqlite(connection, events, case_ids, message_id)
