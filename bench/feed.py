"""Benchmark of the retailer feed: page time at every position, and requests per second.

Run it from the repository root::

    .venv/bin/python bench/feed.py [--events N] [--cases N] [--repeats N] [--requests N]
                                   [--clients N] [--postgres-url URL | --skip-postgres]
                                   [--http auto|httptools|h11]

On SQLite (a fresh file in a temporary directory) and on PostgreSQL (a private
``hub_bench_feed_<random>`` database beside the given URL, dropped at the end) it:

1. stores N events (1,000,000 by default) for N/50 cases, nine in ten of them Maison
   Électro's, the rest BricoMarket's, straight into the tables with driver-level
   executemany in chunks of 10,000 rows (one transaction per chunk), the way a busy
   ingestion would; the triggers of migration 0003 fill the feed as they go; then it
   stores each entry's status-after the way the scheduled job does (a batch per
   transaction, timed: entries per second), and gathers planner statistics (VACUUM
   ANALYZE, as autovacuum would). Cases open
   30 minutes apart and each has 50 events spread over two weeks, so at any point of
   the feed a few hundred cases are in progress, as in real life;
2. times a page of 500 items of Maison Électro's feed from the start, the middle and
   the end, R times each (median and 99th percentile): in process (the route's work
   without HTTP: ``read_feed_items`` and ``page_json``) and over
   real HTTP on loopback (the API served by uvicorn in a subprocess);
3. counts requests per second over loopback for a bare FastAPI endpoint in the same
   server returning the very bytes of the middle page of 500 (the floor: no database,
   no serialisation, the same body on the wire), the feed with pages of 500 and the
   feed with pages of 100, with a bounded number of requests from a few client threads,
   and the server process's CPU time per request of each (read from /proc);
4. prints the feed's ratio to that floor, in requests per second and in the server's
   CPU per request (the bare endpoint's over a page's: steadier on a busy machine, and
   on PostgreSQL without the database server's work), and how flat the page time is:
   the end's median page time over the start's (1.0 is perfectly flat).

Steps 2 to 4 run ``--runs`` times on the same stored events (the store is filled once).
It prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import private_postgres
from hub.api import create_app
from hub.model import Case, CaseStatus, Party, PartyRole
from hub.retailers.cursors import CursorKind, encode_cursor
from hub.retailers.feed import fill_feed_statuses, page_json, read_feed_items
from hub.retailers.tenants import Retailer, add_retailer
from hub.store.cases import content_hash
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.parties import save_party
from hub.store.tables import cases, feed_entries

POSTGRES_VARIABLE = "HUB_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_EVENTS = 1_000_000
EVENTS_PER_CASE = 50
CHUNK = 10_000
PAGE = 500
FILL_BATCH = 5_000
CASE_GAP = timedelta(minutes=30)
STEP_GAP = timedelta(hours=7)
FIRST_OPENING = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
BARE_LOAD = "bare FastAPI, same bytes"
FEED_LOAD = f"feed, pages of {PAGE}"

ME = Party(id="maison-electro", role=PartyRole.RETAILER, name="Maison Électro")
BM = Party(id="bricomarket", role=PartyRole.RETAILER, name="BricoMarket")
REPAIRER = Party(id="atelier-dupont", role=PartyRole.REPAIRER, name="Atelier Dupont")
CARRIER = Party(id="colis-express", role=PartyRole.CARRIER, name="ColisExpress")

MAIN_PATH = [
    status
    for status in CaseStatus
    if status.rank <= CaseStatus.CLOSED.rank and status is not CaseStatus.CREATED
]
COLUMNS = (
    "event_id",
    "case_id",
    "case_ref",
    "type",
    "status",
    "unmapped",
    "occurred_at",
    "occurred_offset_minutes",
    "recorded_at",
    "reported_by",
    "raw_code",
    "raw_label",
    "subject",
)


# --- The store --------------------------------------------------------------------


def reference_of(index: int) -> str:
    """One case in ten is BricoMarket's."""
    return f"BM-{index:07d}" if index % 10 == 9 else f"ME-{index:07d}"


def case_document(index: int) -> Case:
    reference = reference_of(index)
    return Case.model_validate(
        {
            "reference": reference,
            "retailer": BM.id if reference.startswith("BM-") else ME.id,
            "product": {"brand": "Seb", "model": "Actifry", "serial_number": f"SN{index}"},
            "coverage": "legal_conformity",
            "service": "workshop_repair",
            "fault": "Ne chauffe plus",
            "customer": {"name": "Julie Martin"},
            "opened_at": FIRST_OPENING + index * CASE_GAP,
        }
    )


def insert_cases(database: Database, count: int) -> dict[int, int]:
    """Cases straight into the table; returns case index -> case id."""
    now = datetime.now(UTC)
    for start in range(0, count, CHUNK):
        rows = []
        for index in range(start, min(count, start + CHUNK)):
            case = case_document(index)
            rows.append(
                {
                    "reference": case.reference,
                    "retailer_id": case.retailer,
                    "document": case.model_dump(mode="json"),
                    "content_hash": content_hash(case),
                    "opened_at": case.opened_at,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with database.transaction() as connection:
            connection.execute(cases.insert(), rows)
    with database.transaction() as connection:
        ids = dict(connection.execute(select(cases.c.reference, cases.c.id)).all())
    return {index: ids[reference_of(index)] for index in range(count)}


def event_values(index: int, step: int, case_id: int) -> dict[str, Any]:
    """Step 0 opens the case; then case statuses, parcel scans, parts, unmapped codes."""
    reference = reference_of(index)
    retailer = BM.id if reference.startswith("BM-") else ME.id
    occurred = FIRST_OPENING + index * CASE_GAP + step * STEP_GAP
    values: dict[str, Any] = {
        "event_id": f"bench:{index}:{step}",
        "case_id": case_id,
        "case_ref": reference,
        "type": "case_status",
        "status": None,
        "unmapped": False,
        "occurred_at": occurred,
        "occurred_offset_minutes": 60,
        "recorded_at": occurred + timedelta(minutes=5),
        "reported_by": REPAIRER.id,
        "raw_code": None,
        "raw_label": None,
        "subject": None,
    }
    if step == 0:
        values.update(status="created", reported_by=retailer)
    elif step % 3 == 1:
        status = MAIN_PATH[min(step // 3, len(MAIN_PATH) - 1)]
        values.update(status=status.value, raw_code=status.value[:3].upper())
    elif step % 3 == 2:
        values.update(
            type="shipment_status",
            status="in_transit",
            reported_by=CARRIER.id,
            raw_code="TRN",
            raw_label="En transit",
            subject=f"6A{index:011d}",
        )
    elif step % 6 == 0:
        values.update(unmapped=True, raw_code="X47", raw_label="Relance client")
    else:
        values.update(type="parts_order_status", status="shipped", subject=f"PO-{index}-1")
    return values


def _driver_value(dialect: str, value: Any) -> Any:
    if dialect == "sqlite" and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if dialect == "sqlite" and isinstance(value, bool):
        return int(value)
    return value


def insert_events(database: Database, case_ids: dict[int, int], total: int) -> float:
    """All events in the order they happened, CHUNK rows a transaction; rows per second."""
    slots = sorted(
        (index * CASE_GAP + step * STEP_GAP, index, step)
        for index in range(len(case_ids))
        for step in range(EVENTS_PER_CASE)
    )[:total]
    marker = "%s" if database.dialect == "postgresql" else "?"
    sql = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join(marker for _ in COLUMNS)})"
    started = time.perf_counter()
    for start in range(0, len(slots), CHUNK):
        rows = []
        for _, index, step in slots[start : start + CHUNK]:
            values = event_values(index, step, case_ids[index])
            rows.append(tuple(_driver_value(database.dialect, values[c]) for c in COLUMNS))
        with database.transaction() as connection:
            connection.exec_driver_sql(sql, rows)
    return len(slots) / (time.perf_counter() - started)


def populate(database: Database, n_events: int, n_cases: int) -> tuple[Retailer, str, float]:
    upgrade(database)
    with database.transaction() as connection:
        for party in (REPAIRER, CARRIER):
            save_party(connection, party)
        retailer, key = add_retailer(connection, name=ME.name, case_prefix="ME-", party_id=ME.id)
        add_retailer(connection, name=BM.name, case_prefix="BM-", party_id=BM.id)
    case_ids = insert_cases(database, n_cases)
    rate = insert_events(database, case_ids, n_events)
    analyse(database)
    return retailer, key.token, rate


def fill_statuses(database: Database) -> float:
    """Each entry's status-after and item stored, as the scheduled job does (without its pause
    between batches: nothing else writes here); entries per second."""
    started = time.perf_counter()
    filled = fill_feed_statuses(database, batch=FILL_BATCH, pause=False)
    rate = filled / (time.perf_counter() - started)
    analyse(database)
    return rate


def analyse(database: Database) -> None:
    """Planner statistics, as autovacuum would gather them after such a load (it is off on
    some servers, this one included: without statistics PostgreSQL may sort the whole
    feed instead of walking the index)."""
    if database.dialect == "postgresql":
        with database.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        with database.transaction() as connection:
            connection.exec_driver_sql("ANALYZE")


def feed_key_at(database: Database, retailer: Retailer, offset: int) -> tuple[int, int]:
    with database.transaction() as connection:
        row = connection.execute(
            select(feed_entries.c.txid, feed_entries.c.position)
            .where(feed_entries.c.retailer_id == retailer.id)
            .order_by(feed_entries.c.txid, feed_entries.c.position)
            .offset(offset)
            .limit(1)
        ).one()
    return int(row.txid), int(row.position)


def feed_length(database: Database, retailer: Retailer) -> int:
    with database.transaction() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM feed_entries WHERE retailer_id = :r"),
                {"r": retailer.id},
            ).scalar_one()
        )


# --- Measuring ----------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        ordered = sorted(seconds)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        return cls(statistics.median(ordered) * 1000, p99 * 1000)


@dataclass
class Figures:
    backend: str
    version: str
    events: int = 0
    feed_items: int = 0
    insert_rate: float = 0.0
    fill_rate: float = 0.0
    in_process: dict[str, Timing] = field(default_factory=dict)
    over_http: dict[str, Timing] = field(default_factory=dict)
    rps: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    """The API server process's CPU time per request of each load (ms)."""
    run: int = 1

    @property
    def ratio(self) -> float:
        """Pages of 500 per second over the bare endpoint's, serving the same bytes."""
        return self.rps[FEED_LOAD] / self.rps[BARE_LOAD]

    @property
    def cpu_ratio(self) -> float:
        """The bare endpoint's server CPU per request over a page of 500's: the ratio
        as the server's own work gives it, steadier than requests per second on a busy
        machine (clients and neighbours take no part in it; PostgreSQL's server does
        not either, so there it leaves the database's work out)."""
        return self.cpu_ms[BARE_LOAD] / self.cpu_ms[FEED_LOAD]

    def flatness(self, where: dict[str, Timing]) -> float:
        """The end's median page time over the start's."""
        return where["end"].median_ms / where["start"].median_ms


def time_calls(call: Callable[[], int], repeats: int) -> Timing:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        got = call()
        samples.append(time.perf_counter() - started)
        assert got == PAGE, f"a page held {got} items, not {PAGE}"
    return Timing.of(samples)


def requests_per_second(
    base_url: str,
    path: str,
    params: dict[str, Any],
    headers: dict[str, str],
    total: int,
    clients: int,
) -> float:
    """``total`` GETs spread over ``clients`` threads, each with its own connection."""
    per_client = total // clients
    failures: list[str] = []

    def client() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            for _ in range(per_client):
                response = http.get(path, params=params)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    return

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{path}: {failures[0]}")
    return per_client * clients / elapsed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user and system), from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def api_server(url: str, body_file: Path, http: str) -> Iterator[tuple[str, int]]:
    """The API and a bare endpoint, served by uvicorn in a subprocess on loopback (its
    URL and process id), parsing HTTP with ``http`` (uvicorn's ``auto``, ``httptools``
    or ``h11``). The bare endpoint answers the bytes found in ``body_file`` at its first
    request."""
    port = free_port()
    command = [
        sys.executable,
        __file__,
        "--serve",
        url,
        "--port",
        str(port),
        "--bare-body",
        str(body_file),
        "--http",
        http,
    ]
    process = subprocess.Popen(command)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the API server did not start")
            time.sleep(0.1)
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def serve(url: str, port: int, body_file: Path, http: str) -> None:
    """The subprocess side: the hub's API plus ``GET /bare``, the same FastAPI app, which
    answers the bytes of a feed page stored beforehand (read once)."""
    import uvicorn
    from fastapi import Response

    app = create_app(Database(url))
    body: list[bytes] = []

    @app.get("/bare", include_in_schema=False)
    def bare() -> Response:
        if not body:
            body.append(body_file.read_bytes())
        return Response(body[0], media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http=http)


def measure_runs(
    database: Database, backend: str, version: str, args: argparse.Namespace, progress: Console
) -> list[Figures]:
    """Fill the store once, then measure ``args.runs`` times."""
    started = time.perf_counter()
    retailer, token, rate = populate(database, args.events, args.cases)
    events = min(args.events, args.cases * EVENTS_PER_CASE)
    items = feed_length(database, retailer)
    progress.log(
        f"{events:,} events stored in {time.perf_counter() - started:.0f} s "
        f"({rate:,.0f} events/s with the feed triggers); "
        f"Maison Électro's feed holds {items:,}"
    )
    fill_rate = fill_statuses(database)
    progress.log(f"statuses after stored at {fill_rate:,.0f} entries/s")
    runs = []
    for run in range(1, args.runs + 1):
        figures = Figures(backend, version, events, items, rate, fill_rate, run=run)
        measure(database, retailer, token, figures, args, progress)
        runs.append(figures)
    return runs


def measure(
    database: Database,
    retailer: Retailer,
    token: str,
    figures: Figures,
    args: argparse.Namespace,
    progress: Console,
) -> None:
    progress.log(f"{figures.backend}, run {figures.run} of {args.runs}")
    positions = {
        "start": None,
        "middle": feed_key_at(database, retailer, figures.feed_items // 2),
        "end": feed_key_at(database, retailer, figures.feed_items - PAGE - 1),
    }
    cursors = {
        name: None if key is None else encode_cursor(retailer.cursor_key, CursorKind.FEED, key)
        for name, key in positions.items()
    }
    for name, cursor in cursors.items():

        def in_process(cursor: str | None = cursor) -> int:
            # what the route does, without HTTP: the rows, then the page's JSON
            with database.transaction() as connection:
                page = read_feed_items(connection, retailer, after=cursor, limit=PAGE)
            page_json(page)
            return len(page.items)

        figures.in_process[name] = time_calls(in_process, args.repeats)
        progress.log(f"in process, page of {PAGE} at the {name}: {figures.in_process[name]}")

    headers = {"Authorization": f"Bearer {token}"}
    body_file = Path(tempfile.mkdtemp(prefix="hub-bench-feed-body-")) / "page.json"
    with (
        api_server(database.url, body_file, args.http) as (base_url, server_pid),
        httpx.Client(base_url=base_url, headers=headers, timeout=60) as http,
    ):
        for name, cursor in cursors.items():
            params: dict[str, Any] = {"limit": PAGE} | ({"after": cursor} if cursor else {})

            def over_http(params: dict[str, Any] = params) -> int:
                response = http.get("/v1/feed", params=params)
                response.raise_for_status()
                return len(response.json()["items"])

            figures.over_http[name] = time_calls(over_http, args.repeats)
            progress.log(f"over HTTP, page of {PAGE} at the {name}: {figures.over_http[name]}")
        middle = cursors["middle"]
        assert middle is not None
        page = http.get("/v1/feed", params={"after": middle, "limit": PAGE})
        page.raise_for_status()
        body_file.write_bytes(page.content)
        bare = http.get("/bare")
        assert bare.content == page.content, "the bare endpoint must answer the same bytes"
        loads = {
            BARE_LOAD: ("/bare", {}, args.requests * 2),
            FEED_LOAD: ("/v1/feed", {"after": middle, "limit": PAGE}, args.requests),
            "feed, pages of 100": ("/v1/feed", {"after": middle, "limit": 100}, args.requests),
        }
        for label, (path, query, total) in loads.items():
            cpu_before = cpu_seconds(server_pid)
            figures.rps[label] = requests_per_second(
                base_url, path, query, headers, total, args.clients
            )
            served = total // args.clients * args.clients
            figures.cpu_ms[label] = (cpu_seconds(server_pid) - cpu_before) * 1000 / served
            progress.log(
                f"{label}: {figures.rps[label]:,.0f} requests/s, "
                f"server CPU {figures.cpu_ms[label]:.2f} ms a request"
            )
    body_file.unlink()
    body_file.parent.rmdir()
    progress.log(
        f"{figures.backend} run {figures.run}: ratio to the floor {figures.ratio:.2f} "
        f"(server CPU {figures.cpu_ratio:.2f}), page {len(page.content):,} bytes"
    )


def run_sqlite(args: argparse.Namespace, progress: Console) -> list[Figures]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-feed-") as directory:
        database = Database(f"sqlite:///{Path(directory) / 'hub.db'}")
        progress.log(f"SQLite {sqlite3.sqlite_version}: {directory}/hub.db")
        try:
            return measure_runs(database, "SQLite", sqlite3.sqlite_version, args, progress)
        finally:
            database.dispose()


def run_postgres(args: argparse.Namespace, progress: Console) -> list[Figures]:
    with private_postgres(args.postgres_url) as (url, version):
        database = Database(url)
        progress.log(f"PostgreSQL {version}: private database {make_url(url).database}")
        try:
            return measure_runs(database, "PostgreSQL", version, args, progress)
        finally:
            database.dispose()


def report(all_figures: list[Figures], args: argparse.Namespace, out: Console) -> None:
    out.print(
        f"\n[bold]Feed benchmark[/bold]: {args.events:,} events, {args.cases:,} cases, "
        f"pages of {PAGE}, {args.repeats} requests per position; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; uvicorn's HTTP parser: "
        f"{args.http}"
    )
    pages = Table(
        "database",
        "run",
        "position",
        "in process median",
        "in process p99",
        "HTTP median",
        "HTTP p99",
        title=f"Time to serve a page of {PAGE} (ms)",
    )
    for figures in all_figures:
        for name in ("start", "middle", "end"):
            local, remote = figures.in_process[name], figures.over_http[name]
            pages.add_row(
                f"{figures.backend} {figures.version}",
                str(figures.run),
                name,
                f"{local.median_ms:.1f}",
                f"{local.p99_ms:.1f}",
                f"{remote.median_ms:.1f}",
                f"{remote.p99_ms:.1f}",
            )
    out.print(pages)
    rates = Table(
        "database",
        "run",
        *all_figures[0].rps,
        f"ratio to floor, pages of {PAGE}",
        "server CPU ms a request (bare, 500, 100)",
        "ratio, server CPU",
        "end/start, in process",
        "end/start, HTTP",
        title=f"Requests per second, {args.clients} clients; flatness: end's median page "
        "time over the start's",
    )
    for figures in all_figures:
        rates.add_row(
            f"{figures.backend} {figures.version}",
            str(figures.run),
            *(f"{v:,.0f}" for v in figures.rps.values()),
            f"{figures.ratio:.2f}",
            ", ".join(f"{v:.2f}" for v in figures.cpu_ms.values()),
            f"{figures.cpu_ratio:.2f}",
            f"{figures.flatness(figures.in_process):.2f}",
            f"{figures.flatness(figures.over_http):.2f}",
        )
    out.print(rates)
    for figures in all_figures:
        if figures.run != 1:
            continue
        out.print(
            f"{figures.backend}: {figures.events:,} events stored at "
            f"{figures.insert_rate:,.0f}/s; statuses after stored at "
            f"{figures.fill_rate:,.0f} entries/s; "
            f"Maison Électro's feed: {figures.feed_items:,} items"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--cases", type=int, default=None, help="default: events / 50")
    parser.add_argument("--repeats", type=int, default=200, help="requests per position")
    parser.add_argument("--requests", type=int, default=400, help="feed requests per rate")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_VARIABLE, DEFAULT_POSTGRES_URL),
        help=f"server for the private database (default ${POSTGRES_VARIABLE} or local)",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--runs", type=int, default=3, help="measurements on the same stored events"
    )
    parser.add_argument(
        "--http",
        choices=("auto", "httptools", "h11"),
        default="auto",
        help="uvicorn's HTTP parser for the API and the bare endpoint (auto: httptools)",
    )
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--bare-body", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.bare_body, args.http)
        return
    args.cases = args.cases or max(1, args.events // EVENTS_PER_CASE)
    progress = Console(stderr=True)
    results = run_sqlite(args, progress)
    if not args.skip_postgres:
        results.extend(run_postgres(args, progress))
    report(results, args, Console(width=150))


if __name__ == "__main__":
    main()
