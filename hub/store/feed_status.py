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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ARRAY, BigInteger, Connection, String, bindparam, func, select, update

from hub.model.event import EventType
from hub.model.statuses import CaseStatus
from hub.model.timeline import OrderKey, order_key
from hub.store.feed import (
    POSTGRES_HORIZON,
    FeedKey,
    among_cases,
    beyond,
    latest_statuses_before,
)
from hub.store.tables import events, feed_entries

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
_RANKS = {status.value: status.rank for status in CaseStatus}


def case_status_of(event_type: str, status: str | None) -> str | None:
    """The status an entry gives its case: a mapped case status's, else none."""
    return status if event_type == _CASE_STATUS else None


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
    candidate = order_key(occurred_at, _RANKS[status], event_id)
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


def fill_statuses_after(connection: Connection, limit: int = FILL_BATCH) -> int:
    """Store the status-after of up to ``limit`` unfilled entries below the horizon, the
    first in feed order; how many were stored (0: none is left to fill now).

    On SQLite the first write of the transaction is the update, which waits for the
    single write lock; what was read before it stays right, since entries are ordered
    as they commit. On PostgreSQL two fills at once store the same values.
    """
    query = (
        select(*_ENTRY_COLUMNS)
        .join(events, events.c.seq == feed_entries.c.event_seq)
        .where(feed_entries.c.status_after.is_(None))
        .order_by(feed_entries.c.txid, feed_entries.c.position)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.where(feed_entries.c.txid < POSTGRES_HORIZON)
    entries = [StatusEntry._make(row) for row in connection.execute(query)]
    if not entries:
        return 0
    statuses = statuses_after(connection, entries, contiguous=False)
    _store(
        connection,
        [entry.position for entry in entries],
        [NO_STATUS if status is None else status for status in statuses],
    )
    return len(entries)


def _store(connection: Connection, positions: list[int], statuses: list[str]) -> None:
    """The values, on entries still unfilled. PostgreSQL takes them as two arrays in one
    statement (an update per entry, even pipelined, was most of the fill's time); SQLite,
    in process, runs the update per entry."""
    unfilled = feed_entries.c.status_after.is_(None)
    if connection.dialect.name == "postgresql":
        given = (
            func.unnest(
                bindparam("positions", positions, type_=ARRAY(BigInteger)),
                bindparam("statuses", statuses, type_=ARRAY(String)),
            )
            .table_valued("entry", "status")
            .render_derived()
        )
        connection.execute(
            update(feed_entries)
            .where(feed_entries.c.position == given.c.entry, unfilled)
            .values(status_after=given.c.status)
        )
        return
    connection.execute(
        update(feed_entries)
        .where(feed_entries.c.position == bindparam("entry"), unfilled)
        .values(status_after=bindparam("status")),
        [
            {"entry": position, "status": status}
            for position, status in zip(positions, statuses, strict=True)
        ],
    )
