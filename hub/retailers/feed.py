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
from functools import lru_cache
from typing import Any

from pydantic_core import to_json

from hub.model.event import STATUS_SETS, Event, EventDetails, EventType
from hub.model.statuses import CaseStatus
from hub.retailers.cursors import CursorKind, cursor_texts, decode_cursor, encode_cursors
from hub.retailers.tenants import Retailer
from hub.store.db import Connection, Database
from hub.store.feed import FeedKey, FeedRow, event_of, feed_rows_after, stored_items_after
from hub.store.feed_status import (
    FILL_BATCH,
    fill_statuses_after,
    status_entry,
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
class FeedItems:
    """A page of the feed as its JSON is written (``page_json``): each item's JSON less
    its cursor and status after (``item_json``, as stored or written now), its cursor (as
    ASCII bytes, written into the page as they are) and the case's status after it (a
    ``CaseStatus`` value)."""

    items: list[bytes]
    cursors: list[bytes]
    statuses_after: list[str | None]
    next_cursor: str | None
    has_more: bool


def read_feed_items(
    connection: Connection, retailer: Retailer, *, after: str | None, limit: int = DEFAULT_PAGE
) -> FeedItems:
    """The retailer's events after ``after`` (from the start if None), at most ``limit``,
    for the wire.

    The entries are read alone, each with its stored item and status-after
    (hub.store.feed_status); from the first whose item is not stored yet on (the newest,
    until the fill reaches them, or a case being erased), the rest of the page is read
    and built as ``read_feed`` does. The bytes are the same either way (a test compares
    them)."""
    start = _start(retailer, after, limit)
    stored = stored_items_after(connection, retailer.id, start, limit + 1)
    keys: list[FeedKey] = []
    items: list[bytes] = []
    statuses: list[str | None] = []
    for txid, position, status_after, item in stored[:limit]:
        if item is None:
            break
        keys.append((txid, position))
        items.append(item)
        statuses.append(status_after or None)  # stored with the item, '' for none
    has_more = len(stored) > limit
    if len(keys) < min(len(stored), limit):
        rows, computed, has_more = _rows_from(
            connection, retailer.id, keys[-1] if keys else start, limit - len(keys)
        )
        keys.extend(row.key for row in rows)
        items.extend(item_json(row) for row in rows)
        statuses.extend(computed)
    if not keys:
        return FeedItems(items=[], cursors=[], statuses_after=[], next_cursor=after, has_more=False)
    cursors = cursor_texts(retailer.cursor_key, CursorKind.FEED, keys)
    return FeedItems(
        items=items,
        cursors=cursors,
        statuses_after=statuses,
        next_cursor=cursors[-1].decode("ascii"),
        has_more=has_more,
    )


def read_feed(
    connection: Connection, retailer: Retailer, *, after: str | None, limit: int = DEFAULT_PAGE
) -> FeedPage:
    """The same page as ``read_feed_items``, each event rebuilt as the model (for code,
    not the wire), from the entries' events (never from their stored items)."""
    rows, statuses, has_more = _rows_from(
        connection, retailer.id, _start(retailer, after, limit), limit
    )
    if not rows:
        return FeedPage(items=[], next_cursor=after, has_more=False)
    cursors = encode_cursors(retailer.cursor_key, CursorKind.FEED, [row.key for row in rows])
    items = [
        FeedItem(
            cursor=cursor,
            event=event_of(row),
            case_reference=row.case_reference,
            case_status_after=None if status is None else CaseStatus(status),
        )
        for row, cursor, status in zip(rows, cursors, statuses, strict=True)
    ]
    return FeedPage(items=items, next_cursor=cursors[-1], has_more=has_more)


def _start(retailer: Retailer, after: str | None, limit: int) -> FeedKey | None:
    """Where a page starts: after the cursor's entry, or at the first (None)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    if after is None:
        return None
    txid, position = decode_cursor(retailer.cursor_key, CursorKind.FEED, after, arity=2)
    return (txid, position)


def _rows_from(
    connection: Connection, retailer_id: str, start: FeedKey | None, limit: int
) -> tuple[list[FeedRow], list[str | None], bool]:
    """At most ``limit`` entries after ``start`` with their events, each with its status
    after; and whether more follow."""
    rows = feed_rows_after(connection, retailer_id, start, limit + 1)
    return rows[:limit], _statuses_after(connection, rows[:limit]), len(rows) > limit


def item_json(row: FeedRow) -> bytes:
    """An item's JSON as a page writes it, less its cursor and status after (which
    ``page_json`` adds): what the fill stores with the entry. One serializer,
    pydantic's own, so instants, strings and details are written exactly as
    ``FeedItemOut`` writes them."""
    return to_json(
        {
            "event_id": row.event_id,
            "case_reference": row.case_reference,
            "type": row.type,
            "status": row.status,
            "unmapped": row.status is None,
            "occurred_at": row.occurred_at,
            "recorded_at": row.recorded_at,
            "reported_by": row.reported_by,
            "label": None if row.status is None else _label(row.type, row.status),
            "raw_code": row.raw_code,
            "raw_label": row.raw_label,
            "subject": row.subject,
            "details": None if not row.details else _details(row.details),
        }
    )


def page_json(page: FeedItems) -> bytes:
    """The page's JSON: the very bytes ``FeedPageOut`` writes (a test compares them),
    each item's JSON (``item_json``) closed by its cursor and its status after. A cursor
    is digits, ``_`` and URL-safe base64, which JSON writes as they are; the rest is written by
    pydantic's serializer, the status after's once per status. Bytes throughout, joined
    once: a page holds non-ASCII text (labels), which a text joined then encoded would
    cost a conversion of every byte, and an item formatted on its own was a copy of it
    more (about 0.6 M instructions a page of 500)."""
    parts = [b'{"items":[']
    add = parts.extend
    # Each status's end found once a page, then read from a dict: the cached function
    # called for every item was about 540 instructions an item.
    ends = {status: _status_after_end(status) for status in set(page.statuses_after)}
    for item, cursor, status in zip(page.items, page.cursors, page.statuses_after, strict=True):
        add((item[:-1], b',"cursor":"', cursor, ends[status]))
    end = to_json({"next_cursor": page.next_cursor, "has_more": page.has_more})
    if page.items:
        parts[-1] = parts[-1][:-1]  # the last item's end, less the comma between items
    parts.append(b"],")
    parts.append(end[1:])
    return b"".join(parts)


@lru_cache(maxsize=64)
def _status_after_end(status: str | None) -> bytes:
    """An item's end from its cursor's closing quote on, and the comma before the next
    item: the quote, then ``,"case_status_after":...},``."""
    return b'",' + _status_after_json(status) + b","


@lru_cache(maxsize=64)
def _status_after_json(status: str | None) -> bytes:
    """An item's end from its status after on: ``"case_status_after":...}``."""
    label = None if status is None else _label(_CASE, status)
    return to_json({"case_status_after": status, "case_status_after_label": label})[1:]


_CASE = EventType.CASE_STATUS.value


@lru_cache(maxsize=256)
def _label(event_type: str, status: str) -> dict[str, str]:
    """A status's label as ``LabelOut`` writes it; a few dozen, each built once."""
    label = STATUS_SETS[EventType(event_type)](status).label
    return {"fr": label.fr, "en": label.en}


def _details(stored: dict[str, Any]) -> EventDetails | None:
    """What came with the event, as the model writes it; None when nothing did."""
    details = EventDetails.model_validate(stored)
    return None if details.is_empty() else details


def _statuses_after(connection: Connection, rows: list[FeedRow]) -> list[str | None]:
    """Each row's case status as of its feed position (see the module docstring): as
    stored with the entry; computed from the first row not filled yet on (the newest
    entries, until the fill reaches them: hub.store.feed_status)."""
    stored = [row.status_after for row in rows]
    unfilled = next((index for index, status in enumerate(stored) if status is None), None)
    if unfilled is None:
        return [status or None for status in stored]
    entries = [status_entry(row) for row in rows[unfilled:]]
    computed = statuses_after(connection, entries, contiguous=True)
    return [status or None for status in stored[:unfilled]] + computed


def fill_feed_statuses(
    database: Database,
    *,
    batch: int = FILL_BATCH,
    pause: bool = True,
    stopping: threading.Event | None = None,
) -> int:
    """Store the status-after and the item of every entry that can have them now, a
    batch per transaction (with a pause between batches for the other writers, unless told not
    to; none after ``stopping`` is set); how many were stored. Run on a schedule, so
    that pages seldom compute one."""
    total = 0
    while True:
        with database.transaction() as connection:
            stored = fill_statuses_after(connection, item_json, batch)
        total += stored
        if stored < batch or (stopping is not None and stopping.is_set()):
            return total
        if pause:
            database.let_writers_in()
