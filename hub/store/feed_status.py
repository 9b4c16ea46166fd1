"""Each feed entry's status-after: computed from the entries before it in feed order, and
stored with the entry so that a page is one indexed range read (hub.retailers.feed says
what the value means).

Why it is stored by a fill, not by the transaction that inserts the entry: on PostgreSQL
an entry can be ordered after an entry of a concurrent transaction not committed yet
(hub.store.feed), which the inserting transaction cannot see, so its value could be
wrong. The fill only takes entries below the feed's horizon, whose predecessors have all
committed; and no entry can ever join that prefix later (an event attached to its case
later enters at the end of the order), so what the fill stores is final. Retention only
removes entries of closed cases before the one that gives the case its status, which
therefore stays the latest for every entry kept.

A stored ``''`` says that no case status precedes the entry; NULL that it is not filled
yet, and a page computes the value for such entries as it reads them (``statuses_after``).

The same fill stores each entry's item, the JSON a page writes for it less its cursor and
status after (``item_json``, written by the service's function it is given), so that a
page joins stored bytes; NULL until then, and a page builds such entries' items from
their rows. An erasure clears its case's items (``fill_statuses_after`` says how the two
never leave unmasked text behind).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    LargeBinary,
    String,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    null,
    or_,
    select,
    update,
)

from hub.model.event import EventType
from hub.model.statuses import CASE_STATUS_RANKS
from hub.model.timeline import OrderKey, order_key
from hub.store.feed import (
    POSTGRES_HORIZON,
    FeedKey,
    FeedRow,
    among_cases,
    beyond,
    latest_statuses_before,
    rows_select,
)
from hub.store.tables import erasures, events, feed_entries

NO_STATUS = ""
"""What is stored for an entry no case status precedes (NULL means not filled yet)."""

FILL_BATCH = 1000


class StatusEntry(NamedTuple):
    """What an entry's status-after is computed from: where it is in the feed, its case,
    and, for a mapped case status, the status with what orders it in the case's timeline."""

    txid: int
    position: int
    case_id: int
    case_status: str | None
    occurred_at: datetime
    event_id: str

    @property
    def key(self) -> FeedKey:
        return (self.txid, self.position)


_CASE_STATUS = EventType.CASE_STATUS.value


def case_status_of(event_type: str, status: str | None) -> str | None:
    """The status an entry gives its case: a mapped case status's, else none."""
    return status if event_type == _CASE_STATUS else None


def status_entry(row: FeedRow) -> StatusEntry:
    """What a feed row's status-after is computed from (a page's rows the fill has not
    reached, and the fill's own)."""
    return StatusEntry(
        row.txid,
        row.position,
        row.case_id,
        case_status_of(row.type, row.status),
        row.occurred_at,
        row.event_id,
    )


def statuses_after(
    connection: Connection, entries: Sequence[StatusEntry], *, contiguous: bool
) -> list[str | None]:
    """Each entry's case status as of its feed position, for entries in feed order, all
    below the horizon.

    The status before the first entry is, per case, the latest case status among the
    case's entries before it: the database finds the latest instant, the entries at that
    instant come back and the ties are broken here (by rank and id). Then the entries
    move each case's status forward, one by one. ``contiguous`` says that the entries
    are every entry of their cases from the first to the last (a page of a retailer's
    feed); otherwise the case statuses of the other entries in between are read too.
    """
    if not entries:
        return []
    best: dict[int, tuple[OrderKey, str]] = {}
    case_ids = sorted({entry.case_id for entry in entries})
    first, last = entries[0].key, entries[-1].key
    for mark in latest_statuses_before(connection, case_ids, first):
        _keep_latest(best, mark.case_id, mark.case_status, mark.occurred_at, mark.event_id)
    wanted = {entry.position for entry in entries}
    steps: Sequence[StatusEntry] = entries
    if not contiguous:
        between = [
            mark
            for mark in _statuses_between(connection, case_ids, first, last)
            if mark.position not in wanted
        ]
        # the entries and the statuses between them, in feed order (keys are unique)
        steps = sorted([*entries, *between], key=lambda entry: entry.key)
    result: list[str | None] = []
    for step in steps:
        if step.case_status is not None:
            _keep_latest(best, step.case_id, step.case_status, step.occurred_at, step.event_id)
        if step.position in wanted:
            found = best.get(step.case_id)
            result.append(None if found is None else found[1])
    return result


def _keep_latest(
    best: dict[int, tuple[OrderKey, str]],
    case_id: int,
    status: str,
    occurred_at: datetime,
    event_id: str,
) -> None:
    candidate = order_key(occurred_at, CASE_STATUS_RANKS[status], event_id)
    found = best.get(case_id)
    if found is None or candidate > found[0]:
        best[case_id] = (candidate, status)


_ENTRY_COLUMNS = (
    feed_entries.c.txid,
    feed_entries.c.position,
    feed_entries.c.case_id,
    feed_entries.c.case_status,
    feed_entries.c.occurred_at,
    events.c.event_id,
)


def _statuses_between(
    connection: Connection, case_ids: list[int], first: FeedKey, last: FeedKey
) -> list[StatusEntry]:
    """The cases' case-status entries from ``first`` to ``last`` (both included)."""
    query = (
        select(*_ENTRY_COLUMNS)
        .join(events, events.c.seq == feed_entries.c.event_seq)
        .where(
            among_cases(connection, case_ids),
            feed_entries.c.case_status.is_not(None),
            beyond(connection, _just_before(first), after=True),
            beyond(connection, _just_after(last), after=False),
        )
    )
    return [StatusEntry._make(row) for row in connection.execute(query)]


def _just_before(key: FeedKey) -> FeedKey:
    """The key before which nothing lies between it and ``key``: positions are integers,
    so "after (t, p - 1)" is "from (t, p) on"."""
    return (key[0], key[1] - 1)


def _just_after(key: FeedKey) -> FeedKey:
    return (key[0], key[1] + 1)


ItemWriter = Callable[[FeedRow], bytes]
"""Writes an entry's item as a page does (hub.retailers.feed): the store keeps the bytes."""


def fill_statuses_after(
    connection: Connection, write_item: ItemWriter, limit: int = FILL_BATCH
) -> int:
    """Store the status-after and the item of up to ``limit`` entries below the horizon
    whose item is not stored, the first in feed order; how many were looked at (0: none
    is left to do now).

    The item is the event's, final like it, but an erasure masks the event's text: it
    records its request first, masks, then clears the stored items of the case as it
    completes (hub.store.erasure). So an item is stored only when the case had no
    erasure recorded when its row was read and still has none when it is written, or
    when its erasure had completed before the read (the event masked); an entry whose
    erasure is under way has its status stored and its item left for a later fill.

    On SQLite the first write of the transaction is the update, which waits for the
    single write lock; what was read before it stays right, since entries are ordered
    as they commit. On PostgreSQL two fills at once store the same values.
    """
    erased_at_read = erasures.c.completed_at.is_not(None).label("erased")
    under_way = and_(erasures.c.case_id.is_not(None), erasures.c.completed_at.is_(None))
    query = (
        rows_select(erasures.c.case_id.is_not(None).label("erasing"), erased_at_read)
        .outerjoin(erasures, erasures.c.case_id == feed_entries.c.case_id)
        .where(
            feed_entries.c.item_json.is_(None),
            or_(feed_entries.c.status_after.is_(None), ~under_way),
        )
        .order_by(feed_entries.c.txid, feed_entries.c.position)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.where(feed_entries.c.txid < POSTGRES_HORIZON)
    found = connection.execute(query).all()
    if not found:
        return 0
    rows = [FeedRow._make(row[:-2]) for row in found]
    to_compute = [row for row in rows if row.status_after is None]
    computed = iter(
        statuses_after(
            connection,
            [status_entry(row) for row in to_compute],
            contiguous=False,
        )
    )
    statuses = [
        row.status_after if row.status_after is not None else next(computed) or NO_STATUS
        for row in rows
    ]
    items = [
        None if erasing and not erased else write_item(row)
        for row, (*_, erasing, erased) in zip(rows, found, strict=True)
    ]
    _store(
        connection,
        [row.position for row in rows],
        statuses,
        items,
        [bool(erased) for *_, erased in found],
    )
    return len(rows)


def _store(
    connection: Connection,
    positions: list[int],
    statuses: list[str],
    items: list[bytes | None],
    erased: list[bool],
) -> None:
    """The values, on entries whose item is still unstored (a status already stored is
    kept: it is final). PostgreSQL takes them as arrays in one statement (an update per
    entry, even pipelined, was most of the fill's time); SQLite, in process, runs the
    update per entry."""
    if connection.dialect.name == "postgresql":
        given = (
            func.unnest(
                bindparam("positions", positions, type_=ARRAY(BigInteger)),
                bindparam("statuses", statuses, type_=ARRAY(String)),
                bindparam("items", items, type_=ARRAY(LargeBinary)),
                bindparam("erased", erased, type_=ARRAY(Boolean)),
            )
            .table_valued("entry", "status", "item", "erased")
            .render_derived()
        )
        connection.execute(_storing(given.c.entry, given.c.status, given.c.item, given.c.erased))
        return
    connection.execute(
        _storing(
            bindparam("entry"),
            bindparam("status"),
            bindparam("item", type_=LargeBinary),
            bindparam("erased", type_=Boolean),
        ),
        [
            {"entry": position, "status": status, "item": item, "erased": was_erased}
            for position, status, item, was_erased in zip(
                positions, statuses, items, erased, strict=True
            )
        ],
    )


def _storing(
    entry: ColumnElement[Any],
    status: ColumnElement[Any],
    item: ColumnElement[Any],
    erased: ColumnElement[Any],
) -> Update:
    """The fill's update of one entry: its status unless one is stored, its item unless
    the case has an erasure recorded now that had not completed when the row was read."""
    no_erasure = ~exists().where(erasures.c.case_id == feed_entries.c.case_id)
    return (
        update(feed_entries)
        .where(feed_entries.c.position == entry, feed_entries.c.item_json.is_(None))
        .values(
            status_after=func.coalesce(feed_entries.c.status_after, status),
            item_json=case((or_(erased, no_erasure), item), else_=null()),
        )
    )
