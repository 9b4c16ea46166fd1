"""The network over time, for the console's charts: throughput and rejects per connector,
lag since each connector's last success, the outbox's depth and breaches.

Every figure is counted by the store in buckets (hub.store.timeseries); here the buckets
become series with one point per bucket, a missing bucket being zero (nothing ran), and
the lag carried from one bucket to the next until a run succeeds again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.store.db import Database
from hub.store.timeseries import (
    RunBucket,
    Window,
    breach_buckets,
    last_successes_before,
    outbox_depth,
    run_buckets,
    run_connectors,
)

SPANS = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
"""The periods an operator can look back over, each with its bucket width below."""
WIDTHS = {"6h": timedelta(minutes=10), "24h": timedelta(minutes=30), "7d": timedelta(hours=4)}
DEFAULT_SPAN = "24h"


@dataclass(frozen=True)
class Series:
    """One line of a chart: a value per bucket (None where it has no value, e.g. the lag
    of a connector that never succeeded)."""

    name: str
    values: list[float | None]


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: str
    times: list[datetime]
    """The end of each bucket: a point tells the state then, or the count up to then."""
    series: list[Series]

    @property
    def points(self) -> int:
        return sum(value is not None for line in self.series for value in line.values)


def network_charts(
    database: Database,
    *,
    now: datetime,
    hub_now: datetime,
    span: str = DEFAULT_SPAN,
    connectors: Sequence[str] | None = None,
) -> list[Chart]:
    """The charts over ``span`` ending ``now``; breaches (dated by their deadline, on the
    hub's clock, which is a demo's story time) over the same span ending ``hub_now``.
    ``connectors``: the network's, so that one that stopped running still has its lag
    drawn (default: every connector with a run record)."""
    window = Window.ending(now, span=SPANS[span], width=WIDTHS[span])
    deadlines = Window.ending(hub_now, span=SPANS[span], width=WIDTHS[span])
    with database.reading() as connection:
        runs = run_buckets(connection, window)
        known = run_connectors(connection) if connectors is None else list(connectors)
        carried = last_successes_before(connection, window.start, known)
        depth = outbox_depth(connection, window)
        breaches = breach_buckets(connection, deadlines)
    times = [min(window.bucket_start(index + 1), now) for index in range(window.buckets)]
    by_connector: dict[str, dict[int, RunBucket]] = defaultdict(dict)
    for bucket in runs:
        by_connector[bucket.connector][bucket.bucket] = bucket
    names = sorted(set(by_connector) | set(carried))

    def per_connector(value: str) -> list[Series]:
        return [
            Series(
                name,
                [
                    float(getattr(by_connector[name][i], value)) if i in by_connector[name] else 0
                    for i in range(window.buckets)
                ],
            )
            for name in names
            if name in by_connector
        ]

    lags = [
        Series(name, _lag(carried.get(name), by_connector.get(name, {}), times)) for name in names
    ]
    return [
        Chart(
            "throughput",
            "Events stored per connector",
            "events",
            times,
            per_connector("events_stored"),
        ),
        Chart("rejects", "Rows rejected per connector", "rows", times, per_connector("rejected")),
        Chart("lag", "Lag since each connector's last success", "minutes", times, lags),
        Chart(
            "outbox",
            "Outbox depth (messages waiting)",
            "messages",
            times,
            [Series("outbox", [float(d) for d in depth])],
        ),
        Chart(
            "breaches",
            "Service-level breaches, by deadline",
            "breaches",
            [deadlines.bucket_start(index + 1) for index in range(deadlines.buckets)],
            [Series("breaches", [float(count) for count in breaches])],
        ),
    ]


def _lag(
    before: datetime | None, buckets: dict[int, RunBucket], times: list[datetime]
) -> list[float | None]:
    """Minutes since the last success at each bucket's end; None until a first success."""
    last, values = before, []
    for index, end in enumerate(times):
        bucket = buckets.get(index)
        if bucket is not None and bucket.last_success is not None:
            last = bucket.last_success if last is None else max(last, bucket.last_success)
        values.append(None if last is None else max(0.0, (end - last).total_seconds() / 60))
    return values
