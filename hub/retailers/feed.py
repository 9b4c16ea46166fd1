"""A retailer's normalised feed: every event of its cases, once, in an order that holds.

The order, and why it holds whatever order transactions commit in, is the store's
(hub.store.feed): here the positions are signed into cursors for the retailer.

"Status after". Each item carries ``case_status_after``: the case's current status
(hub.model.timeline: the last case status in timeline order) derived from the case's
events at or before this item in the feed. It is what the retailer's view of the case
becomes once it has applied the item; it never changes afterwards (no entry can join
that prefix later), and a late event, sorting before the current status in the
timeline, leaves it unchanged instead of dragging it back. It is None when no case
status precedes the item (an unmapped or shipment event of a case opened later). Being
final, it is stored with the entry once every entry before it has committed
(hub.store.feed_status, filled on a schedule); a page computes it for the newest
entries, not stored yet.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from hub.model.event import Event
from hub.model.statuses import CaseStatus
from hub.retailers.cursors import CursorKind, decode_cursor, encode_cursors
from hub.retailers.tenants import Retailer
from hub.store.db import Connection, Database
from hub.store.feed import FeedKey, FeedRow, event_of, feed_rows_after
from hub.store.feed_status import (
    FILL_BATCH,
    StatusEntry,
    case_status_of,
    fill_statuses_after,
    statuses_after,
)

MAX_PAGE = 500
DEFAULT_PAGE = 100


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


@dataclass(frozen=True)
class FeedRows:
    """A page of the feed as plain values, what its JSON is written from: each row with
    its cursor and the case's status after it (a ``CaseStatus`` value)."""

    rows: list[FeedRow]
    cursors: list[str]
    statuses_after: list[str | None]
    next_cursor: str | None
    has_more: bool


def read_feed_rows(
    connection: Connection, retailer: Retailer, *, after: str | None, limit: int = DEFAULT_PAGE
) -> FeedRows:
    """The retailer's events after ``after`` (from the start if None), at most ``limit``."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    start: FeedKey | None = None
    if after is not None:
        txid, position = decode_cursor(retailer.cursor_key, CursorKind.FEED, after, arity=2)
        start = (txid, position)
    rows = feed_rows_after(connection, retailer.id, start, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return FeedRows(rows=[], cursors=[], statuses_after=[], next_cursor=after, has_more=False)
    cursors = encode_cursors(
        retailer.cursor_key, CursorKind.FEED, [(row.txid, row.position) for row in rows]
    )
    return FeedRows(
        rows=rows,
        cursors=cursors,
        statuses_after=_statuses_after(connection, rows),
        next_cursor=cursors[-1],
        has_more=has_more,
    )


def read_feed(
    connection: Connection, retailer: Retailer, *, after: str | None, limit: int = DEFAULT_PAGE
) -> FeedPage:
    """``read_feed_rows`` with each event rebuilt as the model (for code, not the wire)."""
    page = read_feed_rows(connection, retailer, after=after, limit=limit)
    items = [
        FeedItem(
            cursor=cursor,
            event=event_of(row),
            case_reference=row.case_reference,
            case_status_after=None if status is None else CaseStatus(status),
        )
        for row, cursor, status in zip(page.rows, page.cursors, page.statuses_after, strict=True)
    ]
    return FeedPage(items=items, next_cursor=page.next_cursor, has_more=page.has_more)


def _statuses_after(connection: Connection, rows: list[FeedRow]) -> list[str | None]:
    """Each row's case status as of its feed position (see the module docstring): as
    stored with the entry; computed from the first row not filled yet on (the newest
    entries, until the fill reaches them: hub.store.feed_status)."""
    stored = [row.status_after for row in rows]
    unfilled = next((index for index, status in enumerate(stored) if status is None), None)
    if unfilled is None:
        return [status or None for status in stored]
    entries = [
        StatusEntry(
            row.txid,
            row.position,
            row.case_id,
            case_status_of(row.type, row.status),
            row.occurred_at,
            row.event_id,
        )
        for row in rows[unfilled:]
    ]
    computed = statuses_after(connection, entries, contiguous=True)
    return [status or None for status in stored[:unfilled]] + computed


def fill_feed_statuses(
    database: Database,
    *,
    batch: int = FILL_BATCH,
    pause: bool = True,
    stopping: threading.Event | None = None,
) -> int:
    """Store the status-after of every entry that can have it now, a batch per
    transaction (with a pause between batches for the other writers, unless told not
    to; none after ``stopping`` is set); how many were stored. Run on a schedule, so
    that pages seldom compute one."""
    total = 0
    while True:
        with database.transaction() as connection:
            stored = fill_statuses_after(connection, batch)
        total += stored
        if stored < batch or (stopping is not None and stopping.is_set()):
            return total
        if pause:
            database.let_writers_in()
