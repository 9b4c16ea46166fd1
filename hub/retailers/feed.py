"""A retailer's normalised feed: every event of its cases, once, in an order that holds.

Order. ``events.seq`` is handed out at insert, but transactions commit in another order,
so a reader paging by ``seq > cursor`` can pass a seq whose event commits afterwards and
never see it. The feed therefore reads ``feed_entries`` (filled by triggers, see
migration 0003) in the order ``(txid, position)``:

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

"Status after". Each item carries ``case_status_after``: the case's current status
(hub.model.timeline: the last case status in timeline order) derived from the case's
events at or before this item in the feed. It is what the retailer's view of the case
becomes once it has applied the item; it never changes afterwards (no entry can join
that prefix later), and a late event, sorting before the current status in the
timeline, leaves it unchanged instead of dragging it back. It is None when no case
status precedes the item (an unmapped or shipment event of a case opened later).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    func,
    literal_column,
    select,
    tuple_,
)

from hub.model.event import STATUS_SETS, Event, EventDetails, EventType
from hub.model.statuses import CaseStatus
from hub.model.timeline import OrderKey, order_key
from hub.retailers.cursors import CursorKind, decode_cursor, encode_cursor
from hub.retailers.tenants import Retailer
from hub.store.tables import cases, events, feed_entries

MAX_PAGE = 500
DEFAULT_PAGE = 100

FeedKey = tuple[int, int]
"""(txid, position): the feed's total order."""

_POSTGRES_HORIZON: ColumnElement[int] = literal_column(
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
class FeedItem:
    """One event as the feed serves it, with where to resume after it."""

    cursor: str
    event: Event
    case_reference: str
    case_status_after: CaseStatus | None


@dataclass(frozen=True)
class FeedPage:
    """A page of the feed. ``next_cursor`` resumes after it (the given one if empty)."""

    items: list[FeedItem]
    next_cursor: str | None
    has_more: bool


def feed_cursor(retailer: Retailer, key: FeedKey) -> str:
    return encode_cursor(retailer.cursor_key, CursorKind.FEED, key)


def read_feed(
    connection: Connection, retailer: Retailer, *, after: str | None, limit: int = DEFAULT_PAGE
) -> FeedPage:
    """The retailer's events after ``after`` (from the start if None), at most ``limit``."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    start: FeedKey | None = None
    if after is not None:
        txid, position = decode_cursor(retailer.cursor_key, CursorKind.FEED, after, arity=2)
        start = (txid, position)
    rows = _page_rows(connection, retailer, start, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return FeedPage(items=[], next_cursor=after, has_more=False)
    keys = [(int(row.txid), int(row.position)) for row in rows]
    after_statuses = _statuses_after(connection, rows, keys)
    items = [
        FeedItem(
            cursor=feed_cursor(retailer, key),
            event=_event(row),
            case_reference=row.case_reference,
            case_status_after=status,
        )
        for row, key, status in zip(rows, keys, after_statuses, strict=True)
    ]
    return FeedPage(items=items, next_cursor=items[-1].cursor, has_more=has_more)


_NO_DETAILS = EventDetails()


def _event(row: Row[Any]) -> Event:
    """The stored event, rebuilt without validating again what was validated on the way in
    (a page is hundreds of events); its offset is the one the partner gave."""
    zone = timezone(timedelta(minutes=row.occurred_offset_minutes))
    event_type = EventType(row.type)
    status = None if row.status is None else STATUS_SETS[event_type](row.status)
    details = _NO_DETAILS if not row.details else EventDetails.model_validate(row.details)
    return Event.model_construct(
        id=row.event_id,
        case_ref=row.case_ref,
        partner_ref=row.partner_ref,
        type=event_type,
        status=status,
        occurred_at=row.occurred_at.astimezone(zone),
        recorded_at=row.recorded_at,
        reported_by=row.reported_by,
        raw_code=row.raw_code,
        raw_label=row.raw_label,
        subject=row.subject,
        details=details,
    )


def _beyond(connection: Connection, key: FeedKey, *, after: bool) -> ColumnElement[bool]:
    """Entries after (or before) ``key``, in a form each database's index can seek to.

    PostgreSQL seeks on the row comparison ``(txid, position) > (a, b)``. SQLite only
    seeks on a row comparison's first column, which would scan the whole feed before the
    key; but on SQLite every ``txid`` is 0, so equality on it and a range on ``position``
    say the same and seek straight to the key.
    """
    txid, position = key
    if connection.dialect.name == "postgresql":
        entry = tuple_(feed_entries.c.txid, feed_entries.c.position)
        return entry > tuple_(txid, position) if after else entry < tuple_(txid, position)
    side = feed_entries.c.position > position if after else feed_entries.c.position < position
    return and_(feed_entries.c.txid == txid, side)


def _page_rows(
    connection: Connection, retailer: Retailer, start: FeedKey | None, count: int
) -> list[Row[Any]]:
    query = (
        select(
            feed_entries.c.txid,
            feed_entries.c.position,
            cases.c.reference.label("case_reference"),
            events,
        )
        .select_from(
            feed_entries.join(events, events.c.seq == feed_entries.c.event_seq).join(
                cases, cases.c.id == events.c.case_id
            )
        )
        .where(feed_entries.c.retailer_id == retailer.id)
        .order_by(feed_entries.c.txid, feed_entries.c.position)
        .limit(count)
    )
    if start is not None:
        query = query.where(_beyond(connection, start, after=True))
    if connection.dialect.name == "postgresql":
        query = query.where(feed_entries.c.txid < _POSTGRES_HORIZON)
    return list(connection.execute(query).all())


def _statuses_after(
    connection: Connection, rows: list[Row[Any]], keys: list[FeedKey]
) -> list[CaseStatus | None]:
    """Each row's case status as of its feed position (see the module docstring).

    The status before the page is, per case, the latest case status among its entries
    before the page: the database finds the latest instant, and only the entries at
    that instant (ties are broken by rank and id, in Python) come back. Then the page
    itself moves each case's status forward, item by item.
    """
    best: dict[int, tuple[OrderKey, CaseStatus]] = {}
    for entry in _latest_before(connection, sorted({int(r.case_id) for r in rows}), keys[0]):
        _keep_latest(best, int(entry.case_id), entry.case_status, entry.occurred_at, entry.event_id)
    result: list[CaseStatus | None] = []
    for row in rows:
        case_id = int(row.case_id)
        if row.type == EventType.CASE_STATUS.value and row.status is not None:
            _keep_latest(best, case_id, row.status, row.occurred_at, row.event_id)
        result.append(best[case_id][1] if case_id in best else None)
    return result


def _keep_latest(
    best: dict[int, tuple[OrderKey, CaseStatus]],
    case_id: int,
    status_value: str,
    occurred_at: datetime,
    event_id: str,
) -> None:
    status = CaseStatus(status_value)
    candidate = order_key(occurred_at, status.rank, event_id)
    if case_id not in best or candidate > best[case_id][0]:
        best[case_id] = (candidate, status)


def _latest_before(
    connection: Connection, case_ids: list[int], first: FeedKey
) -> Sequence[Row[Any, Any, Any, Any]]:
    """Per case, its case-status entries at the latest instant before ``first``."""
    before = _beyond(connection, first, after=False)
    latest = (
        select(feed_entries.c.case_id, func.max(feed_entries.c.occurred_at).label("at"))
        .where(
            feed_entries.c.case_id.in_(case_ids),
            feed_entries.c.case_status.is_not(None),
            before,
        )
        .group_by(feed_entries.c.case_id)
        .subquery()
    )
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
            feed_entries.c.case_id.in_(case_ids),  # so the planner starts from the index
            feed_entries.c.case_status.is_not(None),
            before,
        )
    )
    return connection.execute(query).all()
