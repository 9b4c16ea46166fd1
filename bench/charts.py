"""Benchmark of the console's charts: the bucketed queries against a busy hub's history.

Run it from the repository root::

    .venv/bin/python bench/charts.py [--runs N] [--messages N] [--events N] [--repeats N]
                                     [--postgres-url URL | --skip-postgres]

On SQLite (a fresh file) and on PostgreSQL (a private ``hub_bench_<random>`` database
beside the given URL, dropped at the end) it stores a month of history: N connector
runs (200,000 by default: 20 connectors every few minutes), N outbox messages (100,000,
nearly all delivered) and N events (300,000, one in a thousand a service-level breach),
then times the charts of the last 6 h, 24 h and 7 days (hub.operators.charts, every
figure counted in SQL buckets), R times each, median. The floor, measured in the same
run on the same database, is one ``count(*)`` over the runs table: each chart is given
as a ratio to it, so the figures compare across machines. It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import private_postgres, scratch_sqlite
from hub.operators.charts import SPANS, network_charts
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.tables import connector_runs, events, outbox

POSTGRES_VARIABLE = "HUB_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
HISTORY = timedelta(days=30)
CONNECTORS = 20
CHUNK = 5_000


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


def seed(database: Database, *, runs: int, messages: int, stored_events: int) -> None:
    """A month of history, evenly spread, stored in chunks."""
    step = HISTORY / runs
    run_rows = [
        {
            "connector": f"connector-{i % CONNECTORS:02d}",
            "started_at": NOW - HISTORY + step * i,
            "finished_at": NOW - HISTORY + step * i + timedelta(seconds=3),
            "outcome": "failed" if i % 97 == 0 else "succeeded",
            "messages_seen": 1,
            "messages_read": 1,
            "records_read": 12,
            "events_stored": 11,
            "duplicates": 0,
            "unmapped": 0,
            "orphans": 0,
            "rejected": 1 if i % 13 == 0 else 0,
        }
        for i in range(runs)
    ]
    gap = HISTORY / messages
    message_rows: list[dict[str, Any]] = [
        {
            "target": f"connector-{i % CONNECTORS:02d}",
            "kind": "order",
            "case_ref": f"ME-{i:07d}",
            "ordering_key": f"ME-{i:07d}",
            "idempotency_key": f"bench-{i}",
            "payload": {},
            "created_at": NOW - HISTORY + gap * i,
            "state": "pending" if i > messages - 50 else "delivered",
            "attempts": 1,
            "next_attempt_at": NOW - HISTORY + gap * i,
            "delivered_at": None
            if i > messages - 50
            else NOW - HISTORY + gap * i + timedelta(seconds=20),
        }
        for i in range(messages)
    ]
    spacing = HISTORY / stored_events
    event_rows = [
        {
            "event_id": f"bench-event-{i}",
            "case_ref": f"ME-{i // 50:07d}",
            "type": "service_level" if i % 1000 == 0 else "case_status",
            "status": "breached" if i % 1000 == 0 else "repairing",
            "unmapped": False,
            "occurred_at": NOW - HISTORY + spacing * i,
            "occurred_offset_minutes": 60,
            "recorded_at": NOW - HISTORY + spacing * i,
            "reported_by": "hub" if i % 1000 == 0 else "atelier-dupont",
        }
        for i in range(stored_events)
    ]
    for table, rows in ((connector_runs, run_rows), (outbox, message_rows), (events, event_rows)):
        for chunk in _chunks(rows):
            with database.transaction() as connection:
                connection.execute(table.insert(), chunk)
    if database.dialect == "postgresql":
        with database.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(database: Database, args: argparse.Namespace, progress: Console) -> dict[str, float]:
    upgrade(database)
    progress.print(f"{database.dialect}: storing the history…")
    seed(database, runs=args.runs, messages=args.messages, stored_events=args.events)

    def floor() -> object:
        with database.transaction() as connection:
            return connection.execute(select(func.count()).select_from(connector_runs)).scalar()

    figures = {"floor: count(*) of runs": median_seconds(floor, args.repeats)}
    names = [f"connector-{i:02d}" for i in range(CONNECTORS)]  # as the console passes them
    for span in SPANS:

        def charts(span: str = span) -> object:
            return network_charts(database, now=NOW, hub_now=NOW, span=span, connectors=names)

        figures[f"charts, last {span}"] = median_seconds(charts, args.repeats)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--postgres-url", default=os.environ.get(POSTGRES_VARIABLE, DEFAULT_POSTGRES_URL)
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    progress = Console(stderr=True)
    results: dict[str, dict[str, float]] = {}
    with scratch_sqlite() as database:
        results["SQLite"] = measure(database, args, progress)
    if not args.skip_postgres:
        with private_postgres(args.postgres_url) as (url, version):
            database = Database(url)
            try:
                results[f"PostgreSQL {version}"] = measure(database, args, progress)
            finally:
                database.dispose()
    table = Table(
        "database",
        "what",
        "median ms",
        "× floor",
        title=f"Charts over {args.runs} runs, {args.messages} messages, {args.events} events",
    )
    for name, figures in results.items():
        floor = figures["floor: count(*) of runs"]
        for what, seconds in figures.items():
            table.add_row(name, what, f"{seconds * 1000:.1f}", f"{seconds / floor:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
