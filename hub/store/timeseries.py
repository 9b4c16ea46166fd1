"""Figures over time, counted by the database in fixed-width buckets: the console's charts.

Each query groups by a bucket number (seconds since the window's start, divided by the
bucket's width), so a day of runs comes back as a few dozen rows whatever the number of
runs. The bucket number is computed in SQL by each database's own date arithmetic
(``julianday`` on SQLite, ``extract(epoch ...)`` on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Integer, and_, bindparam, cast, func, select

from hub.store.tables import connector_runs, events, outbox
from hub.store.types import UtcDateTime, aware

WAITING_STATES = ("pending", "delivered")
"""Messages that waited in the outbox (a delivered one until its delivery); dead and
discarded ones are the dead letters' business, not the queue's depth."""


@dataclass(frozen=True)
class Window:
    """``buckets`` buckets of ``width`` from ``start``."""

    start: datetime
    width: timedelta
    buckets: int

    @property
    def end(self) -> datetime:
        return self.start + self.width * self.buckets

    def bucket_start(self, index: int) -> datetime:
        return self.start + self.width * index

    @classmethod
    def ending(cls, end: datetime, *, span: timedelta, width: timedelta) -> Window:
        """The window of ``span`` ending at ``end``, its buckets aligned on ``width`` (so
        a refresh a few seconds later counts into the same buckets)."""
        seconds = int(width.total_seconds())
        aligned_end = datetime.fromtimestamp(
            (int(end.timestamp()) // seconds + 1) * seconds, tz=end.tzinfo
        )
        count = max(1, int(span / width))
        return cls(aligned_end - width * count, width, count)


@dataclass(frozen=True)
class RunBucket:
    """One connector's runs started in one bucket."""

    connector: str
    bucket: int
    runs: int
    failed: int
    records_read: int
    events_stored: int
    rejected: int
    last_success: datetime | None
    """When the bucket's last successful run finished (the lag chart starts from it)."""


def _bucket_of(
    connection: Connection, column: ColumnElement[datetime], window: Window
) -> ColumnElement[int]:
    """The bucket number of ``column`` within ``window``, by the database's arithmetic."""
    start = bindparam(None, window.start, type_=UtcDateTime)
    width = window.width.total_seconds()
    if connection.dialect.name == "sqlite":
        seconds = (func.julianday(column) - func.julianday(start)) * 86400.0
        return cast(seconds / width, Integer)  # truncates; in the window seconds >= 0
    seconds = func.extract("epoch", column - start)
    return cast(func.floor(seconds / width), Integer)


def _within(column: ColumnElement[datetime], window: Window) -> ColumnElement[bool]:
    return and_(
        column >= bindparam(None, window.start, type_=UtcDateTime),
        column < bindparam(None, window.end, type_=UtcDateTime),
    )


def run_buckets(connection: Connection, window: Window) -> list[RunBucket]:
    """Every connector's runs by bucket of their start: counts, rows and rejects."""
    runs = connector_runs.c
    bucket = _bucket_of(connection, runs.started_at, window).label("bucket")
    rows = connection.execute(
        select(
            runs.connector,
            bucket,
            func.count(),
            func.count().filter(runs.outcome == "failed"),
            func.coalesce(func.sum(runs.records_read), 0),
            func.coalesce(func.sum(runs.events_stored), 0),
            func.coalesce(func.sum(runs.rejected), 0),
            func.max(runs.finished_at).filter(runs.outcome == "succeeded"),
        )
        .where(_within(runs.started_at, window))
        .group_by(runs.connector, bucket)
        .order_by(runs.connector, bucket)
    )
    return [
        RunBucket(
            connector=str(name),
            bucket=int(index),
            runs=int(count),
            failed=int(failed),
            records_read=int(read),
            events_stored=int(stored),
            rejected=int(rejected),
            last_success=None if success is None else aware(success),
        )
        for name, index, count, failed, read, stored, rejected, success in rows
    ]


def run_connectors(connection: Connection) -> list[str]:
    """Every connector that has a run record (when the network's list is not at hand)."""
    runs = connector_runs.c
    return [str(name) for name in connection.execute(select(runs.connector).distinct()).scalars()]


def last_successes_before(
    connection: Connection, moment: datetime, connectors: Iterable[str]
) -> dict[str, datetime]:
    """When each connector's last successful run started before ``moment`` finished: the
    lag at the window's start. One lookup per connector, walking its runs backwards by
    the (connector, started_at) index, so a year of history costs no more than a day."""
    runs = connector_runs.c
    found: dict[str, datetime] = {}
    for name in connectors:
        finished = connection.execute(
            select(runs.finished_at)
            .where(runs.connector == name, runs.outcome == "succeeded")
            .where(runs.started_at < bindparam(None, moment, type_=UtcDateTime))
            .order_by(runs.started_at.desc())
            .limit(1)
        ).scalar()
        if finished is not None:
            found[name] = aware(finished)
    return found


def outbox_depth(connection: Connection, window: Window) -> list[int]:
    """Messages waiting in the outbox at the end of each bucket: those waiting at the
    start, plus the ones written, less the ones delivered, bucket by bucket."""
    box = outbox.c
    start = bindparam(None, window.start, type_=UtcDateTime)
    waiting = box.state.in_(WAITING_STATES)
    # Waiting at the start: still pending, or delivered only since. Each count reads few
    # rows by an index (delivered messages are the bulk of the table): the pending ones
    # written before the start are all pending (the pending-only index) less those
    # written since (by date), never the whole history by date.
    pending = (
        connection.execute(
            select(func.count()).select_from(outbox).where(box.state == "pending")
        ).scalar_one()
        - connection.execute(
            select(func.count())
            .select_from(outbox)
            .where(box.state == "pending", box.created_at >= start)
        ).scalar_one()
    )
    delivered_since = connection.execute(
        select(func.count())
        .select_from(outbox)
        .where(box.state == "delivered", box.delivered_at >= start, box.created_at < start)
    ).scalar_one()
    at_start = int(pending) + int(delivered_since)
    written = _counts(connection, box.created_at, window, waiting)
    delivered = _counts(connection, box.delivered_at, window, box.state == "delivered")
    depth, level = [], int(at_start)
    for index in range(window.buckets):
        level += written.get(index, 0) - delivered.get(index, 0)
        depth.append(level)
    return depth


def breach_buckets(connection: Connection, window: Window) -> list[int]:
    """Service-level breaches published, by bucket of their deadline (the event's time)."""
    counts = _counts(
        connection,
        events.c.occurred_at,
        window,
        and_(events.c.type == "service_level", events.c.status == "breached"),
    )
    return [counts.get(index, 0) for index in range(window.buckets)]


def _counts(
    connection: Connection,
    column: ColumnElement[datetime],
    window: Window,
    condition: ColumnElement[bool],
) -> dict[int, int]:
    bucket = _bucket_of(connection, column, window).label("bucket")
    rows = connection.execute(
        select(bucket, func.count()).where(condition, _within(column, window)).group_by(bucket)
    )
    return {int(index): int(count) for index, count in rows}
