"""The feed entries: each retailer's events in an order that holds, read page by page.

``events.seq`` is handed out at insert, but transactions commit in another order, so a
reader paging by ``seq > cursor`` can pass a seq whose event commits afterwards and never
see it. The feed therefore reads ``feed_entries`` (filled by triggers, see migration
0003) in the order ``(txid, position)``:

- On PostgreSQL ``txid`` is the writing transaction's xid8, and the feed serves only
  entries below a horizon: the oldest transaction still in progress in the reading
  statement's snapshot (the snapshot's xmax if none). Every transaction below it has
  ended, and every transaction still to commit is at or above it, so nothing can ever
  appear before a position already served. Transactions that the server says run in
  another database are left out of the horizon, since they cannot write our tables (a
  transaction whose database cannot be told counts as ours, so the horizon can only be
  too low, never too high). The price: an event waits until every older writing
  transaction of this database has ended, so a long ingestion transaction delays the
  feed, never breaks it.
- On SQLite writes are serialised: a transaction holds the write lock from its first
  insert to its commit, so ``position`` order is commit order; ``txid`` is 0.

An event enters the feed when it is stored with its case, or, for an event that came
before its case existed, when the case is opened and the event attached to it.
hub.retailers.feed signs the positions into cursors; each entry's status-after is stored
with it once every entry before it has committed (hub.store.feed_status).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Dialect,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.sql import FromClause

from hub.model.event import STATUS_SETS, Event, EventDetails, EventType
from hub.store.arrays import among
from hub.store.compiled import driver_rows
from hub.store.tables import cases, events, feed_entries

FeedKey = tuple[int, int]
"""(txid, position): the feed's total order."""

POSTGRES_HORIZON: ColumnElement[int] = literal_column(
    """(
    SELECT least(
        pg_snapshot_xmax(s.snap)::text::bigint,
        (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s.snap) AS x
         WHERE (x::text::bigint & 4294967295) NOT IN (
            SELECT a.backend_xid::text::bigint FROM pg_stat_activity AS a
            WHERE a.datname IS DISTINCT FROM current_database()
              AND a.backend_xid IS NOT NULL)))
    FROM (SELECT pg_current_snapshot() AS snap) AS s
    )"""
)
"""The oldest xid8 still running in this database as of the statement's snapshot.

``backend_xid`` is a 32-bit xid, so it is matched against the low 32 bits of the xid8s
in progress (they are all within 2^31 of each other, so the match is exact)."""


@dataclass(frozen=True)
class StatusMark:
    """A case-status entry of a case, as the feed holds it (the status's value)."""

    case_id: int
    case_status: str
    occurred_at: datetime
    event_id: str


class FeedRow(NamedTuple):
    """One entry of a retailer's feed as plain values: what a page's JSON is written from
    (hub.api.feed), without an event model per entry. Instants are aware, in UTC."""

    txid: int
    position: int
    case_id: int
    case_reference: str
    event_id: str
    case_ref: str
    partner_ref: str | None
    type: str
    status: str | None
    occurred_at: datetime
    occurred_offset_minutes: int
    recorded_at: datetime
    reported_by: str
    raw_code: str | None
    raw_label: str | None
    subject: str | None
    details: dict[str, Any] | None
    status_after: str | None
    """As stored (hub.store.feed_status): ``''`` for none, None while not filled."""

    @property
    def key(self) -> FeedKey:
        return (self.txid, self.position)


_NO_DETAILS = EventDetails()

_ROW_COLUMNS = [
    feed_entries.c.txid,
    feed_entries.c.position,
    events.c.case_id,
    cases.c.reference.label("case_reference"),
    *(
        events.c[name]
        for name in FeedRow._fields
        if name not in ("txid", "position", "case_id", "case_reference", "status_after")
    ),
    feed_entries.c.status_after,
]
"""What a ``FeedRow`` holds, in its order, and only that (not the sequence, the message)."""


def rows_select(*more: ColumnElement[Any]) -> Select[Any]:
    """The entries with what a ``FeedRow`` holds (its event's, its case's reference), in
    its order, then ``more``."""
    return select(*_ROW_COLUMNS, *more).select_from(
        feed_entries.join(events, events.c.seq == feed_entries.c.event_seq).join(
            cases, cases.c.id == events.c.case_id
        )
    )


def event_of(row: FeedRow) -> Event:
    """The stored event, rebuilt without validating again what was validated on the way in
    (a page is hundreds of events); its offset is the one the partner gave."""
    event_type = _EVENT_TYPES[row.type]
    status = None if row.status is None else STATUS_SETS[event_type](row.status)
    details = _NO_DETAILS if not row.details else EventDetails.model_validate(row.details)
    return Event.model_construct(
        id=row.event_id,
        case_ref=row.case_ref,
        partner_ref=row.partner_ref,
        type=event_type,
        status=status,
        occurred_at=row.occurred_at.astimezone(_zone(row.occurred_offset_minutes)),
        recorded_at=row.recorded_at,
        reported_by=row.reported_by,
        raw_code=row.raw_code,
        raw_label=row.raw_label,
        subject=row.subject,
        details=details,
    )


_EVENT_TYPES = {event_type.value: event_type for event_type in EventType}


@lru_cache(maxsize=256)
def _zone(offset_minutes: int) -> timezone:
    """The fixed offset a partner gave, one object per offset."""
    return timezone(timedelta(minutes=offset_minutes))


def beyond(
    connection: Connection, key: FeedKey, *, after: bool, entries: FromClause = feed_entries
) -> ColumnElement[bool]:
    """Entries after (or before) ``key``, in a form each database's index can seek to.

    PostgreSQL seeks on the row comparison ``(txid, position) > (a, b)``. SQLite only
    seeks on a row comparison's first column, which would scan the whole feed before the
    key; but on SQLite every ``txid`` is 0, so equality on it and a range on ``position``
    say the same and seek straight to the key.
    """
    txid, position = key
    if connection.dialect.name == "postgresql":
        entry = tuple_(entries.c.txid, entries.c.position)
        return entry > tuple_(txid, position) if after else entry < tuple_(txid, position)
    side = entries.c.position > position if after else entries.c.position < position
    return and_(entries.c.txid == txid, side)


StoredItem = tuple[int, int, str | None, bytes | None]
"""An entry of a retailer's feed as a page reads it first: ``(txid, position,
status_after, item_json)``, where it is, its stored status-after and its item's stored
JSON (hub.store.feed_status; None: not written). The driver's own row, as it comes: a
named tuple made of each of a page's 501 rows cost about a tenth of the page
(docs/performance.md, Feed, tenth pass)."""


_STORED_COLUMNS = [
    feed_entries.c.txid,
    feed_entries.c.position,
    feed_entries.c.status_after,
    feed_entries.c.item_json,
]


def stored_items_after(
    connection: Connection, retailer_id: str, start: FeedKey | None, count: int
) -> list[StoredItem]:
    """At most ``count`` of the retailer's entries after ``start``, in feed order (as
    ``feed_rows_after``), each with its stored item: the entry alone, no event or case
    joined and nothing converted. The entries whose item is not written yet are read
    again by ``feed_rows_after``.

    On PostgreSQL the rows come in the binary format: in text, each item's bytes came as
    hexadecimal that libpq decoded byte by byte (about 8,700 instructions an item, a
    quarter of a page of 500); the values are the same (integers, text, bytes)."""
    statement = _rows_statement(connection.dialect, start is not None, stored=True)
    values: dict[str, Any] = {"retailer_id": retailer_id, "count": count}
    if start is not None:
        values["txid"], values["position"] = start
    return _driver_rows(
        connection, statement, values, binary=connection.dialect.name == "postgresql"
    )


def feed_rows_after(
    connection: Connection, retailer_id: str, start: FeedKey | None, count: int
) -> list[FeedRow]:
    """At most ``count`` of the retailer's entries after ``start`` (from the first if
    None), in feed order, none beyond the horizon on PostgreSQL.

    The statement is compiled once per database and run on the driver's own cursor, and
    only the columns that need it are converted (each instant, the details' JSON on
    SQLite), into the very values SQLAlchemy's column types give (a test compares them):
    its row processing, a call per column and row, was half of a page's time.
    """
    statement = _rows_statement(connection.dialect, start is not None, stored=False)
    values: dict[str, Any] = {"retailer_id": retailer_id, "count": count}
    if start is not None:
        values["txid"], values["position"] = start
    raw = _driver_rows(connection, statement, values)
    make = FeedRow._make
    if connection.dialect.name == "postgresql":
        # psycopg gives each instant in the session's zone and the details parsed.
        return [
            make(
                (
                    *row[:9],
                    row[9].astimezone(UTC),
                    row[10],
                    row[11].astimezone(UTC),
                    *row[12:],
                )
            )
            for row in raw
        ]
    # SQLite gives the text SQLAlchemy wrote: instants in UTC, details as JSON.
    loads = json.loads
    return [
        make(
            (
                *row[:9],
                _utc_from_text(row[9]),
                row[10],
                _utc_from_text(row[11]),
                *row[12:16],
                None if row[16] is None else loads(row[16]),
                row[17],
            )
        )
        for row in raw
    ]


class _Statement(NamedTuple):
    """A statement compiled for one database: its SQL, for a driver taking positional
    parameters the order of their names (None when it takes them by name), and the
    values SQLAlchemy set itself (SQLite's ``OFFSET 0``)."""

    sql: str
    positional: tuple[str, ...] | None
    fixed: tuple[tuple[str, Any], ...]


@lru_cache(maxsize=16)
def _rows_statement(dialect: Dialect, from_key: bool, *, stored: bool) -> _Statement:
    """``feed_rows_after``'s query (or, ``stored``, ``stored_items_after``'s), compiled
    once per database (and whether it starts after a key): the retailer, the key and the
    count are parameters."""
    query = select(*_STORED_COLUMNS) if stored else rows_select()
    query = (
        query.where(feed_entries.c.retailer_id == bindparam("retailer_id", type_=String))
        .order_by(feed_entries.c.txid, feed_entries.c.position)
        .limit(bindparam("count", type_=BigInteger))
    )
    if from_key:
        txid = bindparam("txid", type_=BigInteger)
        position = bindparam("position", type_=BigInteger)
        if dialect.name == "postgresql":  # as ``beyond`` seeks on each database
            query = query.where(
                tuple_(feed_entries.c.txid, feed_entries.c.position) > tuple_(txid, position)
            )
        else:
            query = query.where(feed_entries.c.txid == txid, feed_entries.c.position > position)
    if dialect.name == "postgresql":
        query = query.where(feed_entries.c.txid < POSTGRES_HORIZON)
    compiled = query.compile(dialect=dialect)
    order = compiled.positiontup
    ours = {"retailer_id", "count", "txid", "position"}
    fixed = tuple((name, value) for name, value in compiled.params.items() if name not in ours)
    return _Statement(compiled.string, None if order is None else tuple(order), fixed)


def _driver_rows(
    connection: Connection, statement: _Statement, values: dict[str, Any], *, binary: bool = False
) -> list[tuple[Any, ...]]:
    """The statement's rows as the driver gives them, in the connection's transaction
    (hub.store.compiled's one way of running SQL on the driver: its errors, listeners and
    lost connections handled as SQLAlchemy's own execution would)."""
    values = dict(statement.fixed, **values)
    parameters: Any = (
        values
        if statement.positional is None
        else tuple(values[name] for name in statement.positional)
    )
    return driver_rows(connection, statement.sql, parameters, binary=binary)


def _utc_from_text(text: str) -> datetime:
    """An instant as SQLite holds it (the text ``UtcDateTime`` wrote), aware in UTC.
    That text has no offset: read with UTC's, it comes back aware in one call (five
    times cheaper than a ``replace`` after it); any other text is read as it says."""
    try:
        return datetime.fromisoformat(text + "+00:00")
    except ValueError:  # a text with an offset of its own
        value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def among_cases(connection: Connection, case_ids: list[int]) -> ColumnElement[bool]:
    """Entries of these cases, the ids bound as one value (an array on PostgreSQL, a JSON
    list on SQLite): a page's few hundred ids as as many parameters made SQLAlchemy
    render the statement anew for each page and bind each id on its own."""
    return among(
        feed_entries.c.case_id, "case_ids", BigInteger(), connection.dialect.name, case_ids
    )


def latest_statuses_before(
    connection: Connection, case_ids: list[int], first: FeedKey
) -> list[StatusMark]:
    """Per case, its case-status entries at the latest instant before ``first``: the
    database finds the instant, the caller breaks the ties (by rank and id)."""
    before = beyond(connection, first, after=False)
    in_cases = among_cases(connection, case_ids)
    latest = (
        select(feed_entries.c.case_id, func.max(feed_entries.c.occurred_at).label("at"))
        .where(
            in_cases,
            feed_entries.c.case_status.is_not(None),
            before,
        )
        .group_by(feed_entries.c.case_id)
        .subquery()
    )
    if connection.dialect.name == "postgresql":
        # Each case's entries at its instant, probed by the index case by case: joined
        # as a set, the planner fetched every status row of the cases from the heap (or
        # scanned the table). OFFSET 0 keeps it from flattening the lateral subquery.
        at_latest = feed_entries.alias("at_latest")
        entries = (
            select(at_latest.c.case_status, at_latest.c.occurred_at, at_latest.c.event_seq)
            .where(
                at_latest.c.case_id == latest.c.case_id,
                at_latest.c.occurred_at == latest.c.at,
                at_latest.c.case_status.is_not(None),
                beyond(connection, first, after=False, entries=at_latest),
            )
            .offset(literal_column("0"))
            .lateral()
        )
        query = (
            select(
                latest.c.case_id, entries.c.case_status, entries.c.occurred_at, events.c.event_id
            )
            .select_from(latest.join(entries, true()))
            .join(events, events.c.seq == entries.c.event_seq)
        )
    else:
        query = (
            select(
                feed_entries.c.case_id,
                feed_entries.c.case_status,
                feed_entries.c.occurred_at,
                events.c.event_id,
            )
            .join(
                latest,
                and_(
                    feed_entries.c.case_id == latest.c.case_id,
                    feed_entries.c.occurred_at == latest.c.at,
                ),
            )
            .join(events, events.c.seq == feed_entries.c.event_seq)
            .where(
                in_cases,  # so the planner starts from the index
                feed_entries.c.case_status.is_not(None),
                before,
            )
        )
    return [
        StatusMark(int(row.case_id), row.case_status, row.occurred_at, row.event_id)
        for row in connection.execute(query)
    ]
