"""A retailer's normalised feed: every event of its cases, once, in an order that holds.

The order, and why it holds whatever order transactions commit in, is the store's
(hub.store.feed): here the positions are signed into cursors for the retailer.

"Status after". Each item carries ``case_status_after``: the case's current status
(hub.model.timeline: the last case status in timeline order) derived from the case's
events at or before this item in the feed. It is what the retailer's view of the case
becomes once it has applied the item; it never changes afterwards (no entry can join
that prefix later), and a late event, sorting before the current status in the
timeline, leaves it unchanged instead of dragging it back. It is None when no case
status precedes the item (an unmapped or shipment event of a case opened later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.model.event import Event, EventType
from hub.model.statuses import CaseStatus
from hub.model.timeline import OrderKey, order_key
from hub.retailers.cursors import CursorKind, decode_cursor, encode_cursor
from hub.retailers.tenants import Retailer
from hub.store.db import Connection
from hub.store.feed import FeedEntry, FeedKey, feed_entries_after, latest_statuses_before

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
    entries = feed_entries_after(connection, retailer.id, start, limit + 1)
    has_more = len(entries) > limit
    entries = entries[:limit]
    if not entries:
        return FeedPage(items=[], next_cursor=after, has_more=False)
    after_statuses = _statuses_after(connection, entries)
    items = [
        FeedItem(
            cursor=feed_cursor(retailer, entry.key),
            event=entry.event,
            case_reference=entry.case_reference,
            case_status_after=status,
        )
        for entry, status in zip(entries, after_statuses, strict=True)
    ]
    return FeedPage(items=items, next_cursor=items[-1].cursor, has_more=has_more)


def _statuses_after(connection: Connection, entries: list[FeedEntry]) -> list[CaseStatus | None]:
    """Each entry's case status as of its feed position (see the module docstring).

    The status before the page is, per case, the latest case status among its entries
    before the page: the database finds the latest instant, and only the entries at
    that instant (ties are broken by rank and id, here) come back. Then the page itself
    moves each case's status forward, item by item.
    """
    best: dict[int, tuple[OrderKey, CaseStatus]] = {}
    case_ids = sorted({entry.case_id for entry in entries})
    for mark in latest_statuses_before(connection, case_ids, entries[0].key):
        _keep_latest(best, mark.case_id, mark.case_status, mark.occurred_at, mark.event_id)
    result: list[CaseStatus | None] = []
    for entry in entries:
        event = entry.event
        if event.type is EventType.CASE_STATUS and event.status is not None:
            _keep_latest(best, entry.case_id, event.status.value, event.occurred_at, event.id)
        result.append(best[entry.case_id][1] if entry.case_id in best else None)
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
