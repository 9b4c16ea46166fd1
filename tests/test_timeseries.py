"""Figures over time counted by the database in buckets (hub.store.timeseries), and the
charts made of them (hub.operators.charts), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.model.event import Event, EventType
from hub.model.statuses import ServiceLevelStatus
from hub.operators.charts import network_charts
from hub.partners.runs import RunOutcome
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.outbox import Delivered, OutboxItem, claim, enqueue, settle
from hub.store.runs import RunCounts, close_run, open_run
from hub.store.timeseries import (
    Window,
    breach_buckets,
    last_successes_before,
    outbox_depth,
    run_buckets,
    run_connectors,
)

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
WINDOW = Window(START, HOUR, 4)


def _run(
    database: Database,
    connector: str,
    started: datetime,
    *,
    stored: int = 0,
    rejected: int = 0,
    failed: bool = False,
) -> None:
    with database.transaction() as connection:
        run_id = open_run(connection, connector, started, None)
        close_run(
            connection,
            run_id,
            RunCounts(records_read=stored + rejected, events_stored=stored, rejected=rejected),
            outcome=RunOutcome.FAILED if failed else RunOutcome.SUCCEEDED,
            error_action=None,
            error_message="down" if failed else None,
            finished_at=started + timedelta(seconds=30),
        )


def test_runs_are_counted_per_connector_and_bucket(database: Database) -> None:
    _run(database, "workshop", START - timedelta(minutes=20), stored=9)  # before the window
    _run(database, "workshop", START + timedelta(minutes=5), stored=3, rejected=1)
    _run(database, "workshop", START + timedelta(minutes=50), stored=2)
    _run(database, "workshop", START + 2 * HOUR + timedelta(minutes=1), failed=True)
    _run(database, "carrier", START + 3 * HOUR + timedelta(minutes=59), stored=7)
    _run(database, "carrier", START + 4 * HOUR, stored=100)  # the window's end: outside

    with database.transaction() as connection:
        buckets = run_buckets(connection, WINDOW)
        before = last_successes_before(connection, START, ["workshop", "carrier", "idle"])
        names = run_connectors(connection)

    found = {(b.connector, b.bucket): b for b in buckets}
    assert sorted(found) == [("carrier", 3), ("workshop", 0), ("workshop", 2)]
    first = found["workshop", 0]
    assert (first.runs, first.events_stored, first.rejected, first.records_read) == (2, 5, 1, 6)
    assert first.last_success == START + timedelta(minutes=50, seconds=30)
    failed = found["workshop", 2]
    assert (failed.runs, failed.failed, failed.last_success) == (1, 1, None)
    assert found["carrier", 3].events_stored == 7
    assert before == {"workshop": START - timedelta(minutes=19, seconds=30)}
    assert sorted(names) == ["carrier", "workshop"]


def test_outbox_depth_is_what_waited_at_each_buckets_end(database: Database) -> None:
    def item(key: str) -> OutboxItem:
        return OutboxItem(target="workshop", kind="order", idempotency_key=key, payload={})

    with database.transaction() as connection:
        enqueue(connection, [item("early")], now=START - HOUR)  # waiting when it starts
        enqueue(connection, [item("a"), item("b")], now=START + timedelta(minutes=10))
        enqueue(connection, [item("c")], now=START + 2 * HOUR + timedelta(minutes=1))
    delivered_at = START + HOUR + timedelta(minutes=30)
    with database.transaction() as connection:
        claimed = claim(connection, "me", limit=2, lease_seconds=60, now=delivered_at)
        assert len(claimed) == 2
        for message in claimed:
            settle(connection, message, "me", Delivered(at=delivered_at, receipt_status=200))
        depth = outbox_depth(connection, WINDOW)
    # 1 at the start, +2 in the first hour, -2 delivered in the second, +1 in the third.
    assert depth == [3, 1, 2, 2]


def test_breaches_are_counted_by_their_deadline(database: Database) -> None:
    def breach(case: str, due: datetime) -> Event:
        return Event(
            id=f"breach-{case}",
            case_ref=case,
            type=EventType.SERVICE_LEVEL,
            status=ServiceLevelStatus.BREACHED,
            occurred_at=due,
            reported_by="hub",
            raw_code="repair",
        )

    events = [
        breach("ME-000001", START + timedelta(minutes=1)),
        breach("ME-000002", START + timedelta(minutes=59)),
        breach("ME-000003", START + 3 * HOUR),
        breach("ME-000004", START + 5 * HOUR),  # after the window
    ]
    with database.transaction() as connection:
        append_events(connection, events)
        assert breach_buckets(connection, WINDOW) == [2, 0, 0, 1]


def test_charts_carry_the_lag_until_a_connector_succeeds_again(database: Database) -> None:
    now = datetime.now(UTC)
    _run(database, "workshop", now - timedelta(hours=30), stored=1)  # before the 24 h
    _run(database, "workshop", now - timedelta(hours=3), failed=True)
    _run(database, "carrier", now - timedelta(hours=2), stored=4, rejected=2)

    charts = {chart.key: chart for chart in network_charts(database, now=now, hub_now=now)}

    throughput = {line.name: line.values for line in charts["throughput"].series}
    assert sum(value or 0 for value in throughput["carrier"]) == 4
    assert sum(value or 0 for value in throughput["workshop"]) == 0  # its run failed
    rejects = {line.name: line.values for line in charts["rejects"].series}
    assert sum(value or 0 for value in rejects["carrier"]) == 2
    lag = {line.name: line.values for line in charts["lag"].series}
    assert lag["carrier"][0] is None, "no success yet at the window's start"
    assert lag["carrier"][-1] is not None
    assert lag["carrier"][-1] < 2 * 60 + 1
    workshop = lag["workshop"]
    assert all(value is not None for value in workshop)
    assert workshop == sorted(workshop), "a failed run does not reset the lag"
    assert workshop[-1] is not None
    assert workshop[-1] >= 30 * 60 - 1
    assert charts["lag"].times[-1] == now
