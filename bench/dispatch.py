"""Benchmark of the outbox dispatcher on PostgreSQL: throughput against a floor, and
push-to-webhook latency.

Run it from the repository root::

    .venv/bin/python bench/dispatch.py [--messages N] [--pushes N] [--spacing SECONDS]
                                       [--dispatch-every SECONDS] [--deliveries-per-receiver N]
                                       [--latency-dispatch-every SECONDS] [--postgres-url URL]

Every figure comes from real ``hub serve`` processes (``python cli.py serve``: API,
scheduler and dispatcher, as in production) on a private ``hub_bench_<random>``
PostgreSQL database beside the given URL, dropped at the end. The retailer's webhook
endpoint is a plain FastAPI app under uvicorn in a process of its own (``--receiver``):
it reads the ``webhook-id`` header and the JSON body, notes the arrival time and answers
204; the benchmark asks it what it saw over HTTP. (In a thread of the benchmark's
process, as before, it shared one interpreter with the benchmark's polling, and its
figures, floors included, were the receiver's limits more than the senders'.) Its
webhook's ``requests_per_second`` is set far above what is measured, so that the
client-side pacing (1 % under the limit) is not what the figures show: the floor has
none.

1. Floor, measured in the same run, before the hubs: the same receiver hit by a plain
   httpx loop in another process (``--floor``), with the hubs' concurrency (one shared
   keep-alive client, ``--deliveries-per-receiver`` threads), N POSTs of a webhook's
   size and headers, nothing read from a database, nothing signed or marked: what the
   receiver takes from one process, timed from the loop's first request (not its
   interpreter's start). For three processes, three such loops at once, timed from the
   first one's first request.
2. Throughput, with 1 and then 3 ``hub serve`` processes (each on a fresh database): the
   hubs are started and answering first; then N messages (2,000 by default) are queued
   in one transaction, one ``created`` webhook and four status webhooks per case through
   ``hub.store`` and the network's sync hook, as a connector would; the clock starts at
   the commit and stops when the receiver has seen every webhook-id. Messages per second
   is N over that time (it includes the wait for the dispatcher's next round: the hubs
   did not queue these messages, so nothing wakes them), printed with its ratio to the
   floor of as many processes. Beside it, the CPU seconds each party used over that
   window, read from /proc from the commit to the last arrival seen: the hub processes,
   the receiver, the database's PostgreSQL backends and this benchmark's polling, and
   the whole machine's busy time against the window's cores x wall (other processes on
   the machine included). From the 1-process run comes the ceiling of 3 over 1 on this
   machine: if one process keeps X cores busy, every party included, more processes can
   at most fill the cores, cores / X times as much (less when a message costs more CPU
   with three).
3. Latency, with one ``hub serve`` at ``--latency-dispatch-every`` (5 s, the default of
   `hub serve`: the dispatcher is woken by the push's webhook being queued, not by its
   schedule): P pushes (100 by default), one per case, each a ColisExpress event signed
   as the carrier signs it, POSTed to ``/partners/ce-push/events`` S seconds apart (0.1
   by default); latency is from just before the POST to the retailer webhook's arrival
   at the receiver.

It prints the figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import backends_cpu, process_cpu
from bench.scratch import scratch_postgres
from hub.model import Case, Event, EventType, stable_event_id
from hub.model.parties import Party, PartyRole
from hub.partners.connectors import open_network
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.migrate import upgrade
from hub.store.parties import save_party
from hub.store.tables import outbox
from simulators.colis_express import sign_push
from simulators.server import free_port

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_VARIABLE = "HUB_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"dispatch bench secret, 32 bytes").decode()
PUSH_SECRET = "bench-colis-express-push-secret"
LATER = ["received", "diagnosing", "in_repair", "repaired"]
"""The statuses each case goes through after `created`: five webhooks a case."""
T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
PARTIES = [
    Party(id="hub", role=PartyRole.HUB, name="After-sales hub"),
    Party(id="maison-electro", role=PartyRole.RETAILER, name="Maison Électro"),
    Party(id="atelier-dupont", role=PartyRole.REPAIRER, name="Atelier Dupont Réparation"),
    Party(id="colis-express", role=PartyRole.CARRIER, name="ColisExpress"),
]


@dataclass
class Arrivals:
    """What the retailer's endpoint saw, in its own process: first arrival of each id, and
    of each case's carrier news (CLOCK_MONOTONIC, the machine's on Linux, so comparable
    with this process's); every delivery counted, repeats included."""

    first_arrival: dict[str, float] = field(default_factory=dict)
    carrier_news: dict[str, float] = field(default_factory=dict)
    deliveries: int = 0


def receiver_app(state: Arrivals) -> FastAPI:
    """The retailer's endpoint (``POST /hub``), and what the benchmark asks of it: how
    many ids it saw, when, and a reset between measures. One event loop: no lock."""
    app = FastAPI()

    @app.post("/hub")
    async def receive(request: Request) -> Response:
        body = json.loads(await request.body())
        arrived = time.monotonic()
        message_id = request.headers["webhook-id"]
        state.deliveries += 1
        state.first_arrival.setdefault(message_id, arrived)
        if body.get("reported_by") == "colis-express":
            state.carrier_news.setdefault(body["case_reference"], arrived)
        return Response(status_code=204)

    @app.get("/distinct")
    async def distinct() -> int:
        return len(state.first_arrival)

    @app.get("/arrivals")
    async def arrivals() -> dict[str, Any]:
        return asdict(state)

    @app.post("/reset")
    async def reset() -> None:
        state.first_arrival.clear()
        state.carrier_news.clear()
        state.deliveries = 0

    return app


def serve_receiver(port: int) -> None:
    """The receiver's process (``--receiver PORT``): uvicorn, as a retailer would run it."""
    uvicorn.run(
        receiver_app(Arrivals()),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


@dataclass
class Receiver:
    """The receiver's process, seen from the benchmark."""

    url: str
    client: httpx.Client
    pid: int

    def reset(self) -> None:
        self.client.post(f"{self.url}/reset").raise_for_status()

    def distinct(self) -> int:
        answer = self.client.get(f"{self.url}/distinct")
        answer.raise_for_status()
        return int(answer.json())

    def arrivals(self) -> Arrivals:
        answer = self.client.get(f"{self.url}/arrivals")
        answer.raise_for_status()
        return Arrivals(**answer.json())


@contextmanager
def receiver_process() -> Iterator[Receiver]:
    """The retailer's endpoint in a process of its own, answering; stopped at the end.
    In a thread of this process it shared the interpreter (and its lock) with the
    benchmark's polling, and measured less than either side could do."""
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get(f"{url}/distinct").raise_for_status()
                    break
                except httpx.TransportError as exc:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the receiver did not start") from exc
                    time.sleep(0.1)
            yield Receiver(url, client, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_network(folder: Path, receiver_url: str) -> Path:
    path = folder / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: hub, role: hub, name: After-sales hub}}
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: colis-express, role: carrier, name: ColisExpress}}
connectors:
  - name: ce-push
    partner: colis-express
    mapping: {ROOT / "mappings" / "colis-express.yaml"}
    message: push
    receiver:
      type: http-push
      auth:
        scheme: hmac
        secret_env: BENCH_CE_PUSH_SECRET
        signature_header: X-CE-Signature
        prefix: "sha256="
        timestamp_header: X-CE-Timestamp
        signed_content: timestamp.body
        tolerance: 5m
webhooks:
  - {{retailer: maison-electro, url: "{receiver_url}/hub", secret_env: BENCH_WEBHOOK_SECRET,
      requests_per_second: 100000}}
sync:
  rules:
    - {{name: case-news, when: {{type: case_status}}, notify_retailer: true}}
    - {{name: parcel-news, when: {{type: shipment_status}}, notify_retailer: true}}
""",
        encoding="utf-8",
    )
    return path


def make_case(reference: str) -> Case:
    return Case.model_validate(
        {
            "reference": reference,
            "retailer": "maison-electro",
            "product": {"brand": "Seb", "model": "Actifry", "serial_number": "SN8841XK2"},
            "coverage": "legal_conformity",
            "service": "workshop_repair",
            "fault": "Ne chauffe plus",
            "customer": {"name": "Julie Martin", "phone": "+33612345678"},
            "opened_at": T0 - timedelta(days=2),
        }
    )


def status_event(reference: str, status: str, at: datetime) -> Event:
    code = status.upper()[:3]
    return Event(
        id=stable_event_id(
            reported_by="atelier-dupont",
            case_ref=reference,
            type=EventType.CASE_STATUS,
            raw_code=code,
            occurred_at=at,
        ),
        case_ref=reference,
        type=EventType.CASE_STATUS,
        status=status,
        occurred_at=at,
        reported_by="atelier-dupont",
        raw_code=code,
        recorded_at=datetime.now(UTC),
    )


@dataclass
class Hubs:
    """Running `hub serve` processes and their logs."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)


@contextmanager
def hubs(
    count: int,
    database: Database,
    network: Path,
    folder: Path,
    every: float,
    concurrency: int,
) -> Iterator[Hubs]:
    """``count`` `hub serve` processes on ``database``, answering; SIGTERM at the end."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {
        "HUB_DATABASE_URL": database.url,
        "HUB_CONNECTORS": str(network),
        "BENCH_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BENCH_CE_PUSH_SECRET": PUSH_SECRET,
    }
    running = Hubs()
    try:
        for _ in range(count):
            port = free_port()
            log = (folder / f"hub-{port}.log").open("wb")
            running.logs.append(log)
            running.ports.append(port)
            running.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "cli.py"),
                        "serve",
                        "--port",
                        str(port),
                        "--dispatch-every",
                        str(every),
                        "--deliveries-per-receiver",
                        str(concurrency),
                    ],
                    cwd=folder,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 60
        for process, port in zip(running.processes, running.ports, strict=True):
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=1)
                    break
                except httpx.TransportError as exc:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"hub serve on port {port} did not start") from exc
                    time.sleep(0.1)
        yield running
    finally:
        for process in running.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for opened in running.logs:
            opened.close()


def prepare(database: Database, network: Path) -> None:
    upgrade(database)
    with database.transaction() as connection:
        for party in PARTIES:
            save_party(connection, party)
    os.environ.setdefault("BENCH_WEBHOOK_SECRET", WEBHOOK_SECRET)
    os.environ.setdefault("BENCH_CE_PUSH_SECRET", PUSH_SECRET)
    open_network(network)  # fails here, not in the hubs, if the file is wrong


def queue_messages(database: Database, network: Path, messages: int) -> int:
    """Queue ``messages`` webhooks (rounded down to whole cases) in one transaction."""
    hook = open_network(network).sync_hook()
    assert hook is not None
    per_case = 1 + len(LATER)
    with database.transaction() as connection:
        for number in range(messages // per_case):
            reference = f"ME-{number:06d}"
            open_case(connection, make_case(reference), on_stored=hook)
            later = [
                status_event(reference, status, T0 + timedelta(hours=hour))
                for hour, status in enumerate(LATER, start=1)
            ]
            append_events(connection, later)
            hook(connection, later)
    with database.transaction() as connection:
        return int(connection.execute(select(func.count()).select_from(outbox)).scalar_one())


def outbox_states(database: Database) -> dict[str, int]:
    with database.transaction() as connection:
        rows = connection.execute(
            select(outbox.c.state, func.count()).group_by(outbox.c.state)
        ).all()
    return {str(state): int(count) for state, count in rows}


def machine_busy() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy and idle so far, all cores (/proc/stat:
    idle and iowait are idle), whoever used them."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK"), idle / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuReading:
    """Each party's CPU seconds so far (None: a /proc entry that cannot be read)."""

    at: float
    hubs: list[float | None]
    receiver: float | None
    backends: dict[int, float | None]
    benchmark: float
    machine: tuple[float, float]


def read_cpu(running: Hubs, receiver: Receiver, backends: dict[int, float | None]) -> CpuReading:
    """The parties' CPU now; ``backends``: the database's server backends, read just before."""
    return CpuReading(
        time.monotonic(),
        [process_cpu(process.pid) for process in running.processes],
        process_cpu(receiver.pid),
        backends,
        time.process_time(),
        machine_busy(),
    )


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds each party used over a measured window of ``wall`` seconds."""

    wall: float
    hubs: float | None
    receiver: float | None
    postgres: float | None
    benchmark: float
    machine_busy: float
    machine_idle: float

    @classmethod
    def between(cls, first: CpuReading, last: CpuReading) -> CpuUse:
        def spent(before: float | None, after: float | None) -> float | None:
            return None if before is None or after is None else after - before

        hubs: float | None = 0.0
        for before, after in zip(first.hubs, last.hubs, strict=True):
            used = spent(before, after)
            hubs = None if hubs is None or used is None else hubs + used
        postgres: float | None = 0.0
        for pid, after in last.backends.items():  # a backend new since the first: from zero
            used = spent(first.backends.get(pid, 0.0), after)
            postgres = None if postgres is None or used is None else postgres + used
        return cls(
            last.at - first.at,
            hubs,
            spent(first.receiver, last.receiver),
            postgres,
            last.benchmark - first.benchmark,
            last.machine[0] - first.machine[0],
            last.machine[1] - first.machine[1],
        )

    @property
    def parties(self) -> float | None:
        """The hubs, the receiver, PostgreSQL's backends and this benchmark, together."""
        if self.hubs is None or self.receiver is None or self.postgres is None:
            return None
        return self.hubs + self.receiver + self.postgres + self.benchmark

    def describe(self, messages: int, cores: int) -> str:
        def part(name: str, seconds: float | None) -> str:
            if seconds is None:
                return f"{name} n/a"
            return (
                f"{name} {seconds:.2f} s ({seconds / self.wall:.2f} cores, "
                f"{seconds / messages * 1e6:.0f} us a message)"
            )

        return (
            f"CPU over the measured {self.wall:.2f} s: "
            + "; ".join(
                (
                    part("hub processes", self.hubs),
                    part("receiver", self.receiver),
                    part("PostgreSQL backends", self.postgres),
                    part("this benchmark (polling)", self.benchmark),
                    part("together", self.parties),
                )
            )
            + f"; machine busy {self.machine_busy:.2f} s of {cores} x wall = "
            f"{cores * self.wall:.2f} s ({self.machine_busy / (cores * self.wall):.2f}; "
            "other processes included)"
        )


@dataclass(frozen=True)
class Throughput:
    processes: int
    messages: int
    seconds: float
    deliveries: int
    states: dict[str, int]
    cpu: CpuUse

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def measure_throughput(
    url: str, receiver: Receiver, processes: int, messages: int, every: float, concurrency: int
) -> Throughput:
    with (
        tempfile.TemporaryDirectory() as name,
        scratch_postgres(url) as database,
    ):
        folder = Path(name)
        network = write_network(folder, receiver.url)
        prepare(database, network)
        with hubs(processes, database, network, folder, every, concurrency) as running:
            receiver.reset()
            backends = backends_cpu(database)  # the hubs' connections, made at their start
            queued = queue_messages(database, network, messages)
            started = time.monotonic()
            first = read_cpu(running, receiver, {pid: process_cpu(pid) for pid in backends})
            deadline = started + 600
            while receiver.distinct() < queued:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {receiver.distinct()} of {queued} delivered")
                time.sleep(0.05)
            cpu = CpuUse.between(first, read_cpu(running, receiver, backends_cpu(database)))
            seen = receiver.arrivals()
            last = max(seen.first_arrival.values())
            deliveries = seen.deliveries
            time.sleep(0.5)  # let the last marks land before reading the states
            states = outbox_states(database)
    return Throughput(processes, queued, last - started, deliveries, states, cpu)


@dataclass(frozen=True)
class Latency:
    pushes: int
    accepted: int
    arrived: int
    seconds: list[float]


def measure_latency(
    url: str, receiver: Receiver, pushes: int, spacing: float, every: float, concurrency: int
) -> Latency:
    with (
        tempfile.TemporaryDirectory() as name,
        scratch_postgres(url) as database,
    ):
        folder = Path(name)
        network = write_network(folder, receiver.url)
        prepare(database, network)
        references = [f"ME-{number:06d}" for number in range(pushes)]
        with database.transaction() as connection:
            for reference in references:
                open_case(connection, make_case(reference))  # no hook: no `created` webhook
        with hubs(1, database, network, folder, every, concurrency) as running:
            receiver.reset()
            push_url = f"http://127.0.0.1:{running.ports[0]}/partners/ce-push/events"
            sent: dict[str, float] = {}
            accepted = 0
            with httpx.Client(timeout=10) as client:
                for number, reference in enumerate(references):
                    body = {
                        "id": f"ev_01BENCH{number:05d}",
                        "code": "PCH",
                        "label": "Colis pris en charge",
                        "at": (T0 + timedelta(minutes=number)).isoformat(),
                        "tracking_number": f"CE{100000000 + number}FR",
                        "reference": reference,
                    }
                    raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
                    timestamp = str(int(time.time()))
                    headers = {
                        "Content-Type": "application/json",
                        "X-CE-Timestamp": timestamp,
                        "X-CE-Signature": sign_push(PUSH_SECRET, timestamp, raw),
                    }
                    sent[reference] = time.monotonic()
                    answer = client.post(push_url, content=raw, headers=headers)
                    accepted += answer.is_success
                    time.sleep(spacing)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                arrivals = receiver.arrivals().carrier_news
                if len(arrivals) >= accepted:
                    break
                time.sleep(0.05)
    seconds = sorted(arrivals[ref] - sent[ref] for ref in references if ref in arrivals)
    return Latency(pushes, accepted, len(seconds), seconds)


FLOOR_BODY = json.dumps(
    {
        "type": "case.event",
        "event_id": "0" * 64,
        "case_reference": "ME-000000",
        "event_type": "case_status",
        "status": "in_repair",
        "unmapped": False,
        "occurred_at": "2026-11-03T09:00:00Z",
        "reported_by": "atelier-dupont",
        "label": {"fr": "En réparation", "en": "In repair"},
        "raw_code": "IN_",
        "raw_label": None,
        "case_status_after": "in_repair",
    }
).encode("utf-8")


def floor_loop(url: str, messages: int, concurrency: int, tag: str) -> None:
    """The floor's sender (run in its own process): ``messages`` POSTs of a webhook's
    size to ``url`` from ``concurrency`` threads sharing one keep-alive client."""
    headers = {
        "Content-Type": "application/json",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1," + base64.b64encode(b"s" * 32).decode(),
    }
    numbers = iter(range(messages))
    lock = threading.Lock()

    def work(client: httpx.Client) -> None:
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            answer = client.post(
                url, content=FLOOR_BODY, headers=headers | {"webhook-id": f"{tag}-{number}"}
            )
            answer.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=10, limits=limits) as client:
        # When it starts sending (CLOCK_MONOTONIC is the machine's, on Linux): the
        # interpreter's start and imports are not the floor's.
        print(time.monotonic(), flush=True)
        threads = [threading.Thread(target=work, args=(client,)) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def measure_floor(receiver: Receiver, processes: int, messages: int, concurrency: int) -> float:
    """Messages per second the receiver took from ``processes`` plain httpx loops."""
    receiver.reset()
    each = messages // processes
    loops = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--floor",
                f"{receiver.url}/hub",
                str(each),
                str(concurrency),
                f"floor{number}",
            ],
            stdout=subprocess.PIPE,
        )
        for number in range(processes)
    ]
    starts = []
    for loop in loops:
        output, _ = loop.communicate()
        if loop.returncode != 0:
            raise RuntimeError("a floor loop failed")
        starts.append(float(output.split()[0]))
    started = min(starts)
    arrivals = receiver.arrivals().first_arrival
    return len(arrivals) / (max(arrivals.values()) - started)


CORES = os.cpu_count() or 1


def ceiling(one: Throughput, three: Throughput) -> str:
    """The most 3 processes can give over 1 on this machine, from the CPU the parties used:
    if one process already keeps X cores busy (hubs, receiver, PostgreSQL, the polling),
    more processes can at most fill the machine's cores, CORES / X times as much, and
    less if a message costs more CPU with three."""
    used, used_three = one.cpu.parties, three.cpu.parties
    if used is None or used_three is None:
        return "ceiling of 3 over 1: n/a (a party's CPU could not be read from /proc)"
    cores = used / one.cpu.wall
    per_message, per_message_three = used / one.messages, used_three / three.messages
    at_three_cost = CORES / per_message_three / one.per_second
    return (
        f"ceiling of 3 over 1 on {CORES} cores: 1 process kept {cores:.2f} cores busy (all "
        f"parties), so at most {CORES / cores:.2f}x with every core theirs and a message's CPU "
        f"unchanged ({per_message * 1e6:.0f} us: {CORES / per_message:.0f} messages/s); at 3 "
        f"processes' CPU a message ({per_message_three * 1e6:.0f} us: "
        f"{CORES / per_message_three:.0f} messages/s) at most {at_three_cost:.2f}x; measured "
        f"{three.per_second / one.per_second:.2f}x ({three.per_second:.0f} messages/s, "
        f"{three.per_second * per_message_three / CORES:.2f} of that), the machine busy "
        f"{three.cpu.machine_busy / (CORES * three.cpu.wall):.2f} of its cores meanwhile"
    )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000, help="webhooks to deliver")
    parser.add_argument("--pushes", type=int, default=100, help="pushes timed end to end")
    parser.add_argument("--spacing", type=float, default=0.1, help="seconds between pushes")
    parser.add_argument(
        "--dispatch-every",
        type=float,
        default=0.2,
        help="hub serve --dispatch-every, for the throughput",
    )
    parser.add_argument(
        "--latency-dispatch-every",
        type=float,
        default=5.0,
        help="hub serve --dispatch-every, for the latency (woken by the push, not this)",
    )
    parser.add_argument(
        "--deliveries-per-receiver",
        type=int,
        default=8,
        help="hub serve --deliveries-per-receiver, and the floor's threads",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_VARIABLE) or DEFAULT_POSTGRES_URL,
        help=f"server to create temporary databases on (default: ${POSTGRES_VARIABLE} "
        f"or {DEFAULT_POSTGRES_URL})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    concurrency = args.deliveries_per_receiver
    print(
        f"Outbox dispatch on PostgreSQL; python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; hub serve --dispatch-every {args.dispatch_every} "
        f"--deliveries-per-receiver {concurrency}; receiver: FastAPI/uvicorn in a process "
        "of its own"
    )
    rates: dict[int, float] = {}
    runs: dict[int, Throughput] = {}
    with receiver_process() as receiver:
        floors = {n: measure_floor(receiver, n, args.messages, concurrency) for n in (1, 3)}
        for processes, floor in floors.items():
            print(
                f"floor, {processes} plain httpx loop(s) of {concurrency} threads: "
                f"{floor:.0f} messages/s"
            )
        for processes in (1, 3):
            figures = measure_throughput(
                args.postgres_url,
                receiver,
                processes,
                args.messages,
                args.dispatch_every,
                concurrency,
            )
            rates[processes] = figures.per_second
            runs[processes] = figures
            print(
                f"throughput, {figures.processes} hub serve process(es): "
                f"{figures.messages} messages in {figures.seconds:.2f} s = "
                f"{figures.per_second:.0f} messages/s, {figures.per_second / floors[processes]:.2f}"
                f" of the floor ({figures.deliveries} deliveries; outbox {figures.states})"
            )
            print(f"  {figures.cpu.describe(figures.messages, CORES)}")
        print(f"3 processes over 1: {rates[3] / rates[1]:.2f}")
        print(ceiling(runs[1], runs[3]))
        latency = measure_latency(
            args.postgres_url,
            receiver,
            args.pushes,
            args.spacing,
            args.latency_dispatch_every,
            concurrency,
        )
    if not latency.seconds:
        print(f"latency: no webhook arrived for {latency.pushes} pushes")
        return 1
    print(
        f"latency push -> retailer webhook, 1 hub serve --dispatch-every "
        f"{args.latency_dispatch_every}, {latency.pushes} pushes "
        f"{args.spacing} s apart ({latency.accepted} accepted, {latency.arrived} arrived): "
        f"p50 {percentile(latency.seconds, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(latency.seconds, 0.99) * 1000:.0f} ms, "
        f"max {latency.seconds[-1] * 1000:.0f} ms"
    )
    return 0 if latency.arrived == latency.pushes else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor"]:
        floor_loop(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        sys.exit(0)
    if sys.argv[1:2] == ["--receiver"]:
        serve_receiver(int(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
