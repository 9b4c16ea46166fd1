"""`hub serve` killed with SIGKILL in a busy run: one of three on PostgreSQL, and the only
one on SQLite (then started again).

A backlog of retailer webhooks is queued before the hubs start; a slow receiver in this
process records every delivery and processes each webhook-id once, as the retailer sheet
asks. One hub is killed while it holds leased messages; the two others take them over
when the lease expires. Afterwards: every message delivered (none lost, none dead), each
idempotency key processed exactly once, per case the statuses in timeline order, and no
connector run overlapping another run of the same connector.

Each hub sends up to four deliveries at once (`--deliveries-per-receiver 4`, batched
claims and marks), and the receiver notes how many it had in flight at most: the
guarantees above must hold with concurrent deliveries, not only one at a time.

The hubs run with 20-second leases (`--lease-seconds`: a claimed outbox batch must be sent
within it; a connector run renews its lease as it goes), so the killed hub's messages, and
the connector if it died running it, are taken over within that time.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from hub.model import Event
from hub.partners.connectors import Network, open_network
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.tables import connector_runs, outbox
from hub.sync.outbox import OutboxState
from simulators.server import free_port
from tests.api_support import serving
from tests.conftest import _postgres_base, private_postgres_database
from tests.factories import T0, case_event, make_case

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_" + base64.b64encode(b"crash-test secret, 32 bytes long").decode()
SECRET_ENV = "TEST_CRASH_WEBHOOK_SECRET"
CASES = 60
LATER = ["received", "diagnosing", "in_repair", "repaired"]
"""Statuses after `created`, one event each, in timeline order."""
MESSAGES = CASES * (1 + len(LATER))
RECEIVER_DELAY = 0.02
DELIVERIES_PER_RECEIVER = 4
OUTBOX_LEASE = 20.0
"""`hub serve --lease-seconds`: how long a killed hub's claimed messages stay its own."""
CONNECTOR = "crash-local-status"


@dataclass
class Receiver:
    """The retailer's endpoint: verifies, records every delivery, processes an id once."""

    url: str = ""
    deliveries: list[str] = field(default_factory=list)
    processed: dict[str, str] = field(default_factory=dict)
    timeline: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)
    """Cleared, it holds every request unanswered: the senders stand still mid-batch."""
    in_flight: int = 0
    most_in_flight: int = 0
    arrived: set[str] = field(default_factory=set)
    """Ids of every request that reached the endpoint, answered or held at the gate."""

    def __post_init__(self) -> None:
        self.gate.set()

    def delivered(self) -> int:
        with self.lock:
            return len(self.deliveries)

    def settled(self) -> int:
        with self.lock:
            return len(self.processed)

    def never_sent(self, keys: list[str]) -> list[str]:
        """Those of ``keys`` that never reached the endpoint."""
        with self.lock:
            return [key for key in keys if key not in self.arrived]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    verifier = Webhook(SECRET)
    app = FastAPI()

    @app.post("/hub")
    async def receive(request: Request) -> Response:
        body = await request.body()
        payload = verifier.verify(body, dict(request.headers))
        message_id = request.headers["webhook-id"]
        with state.lock:
            state.arrived.add(message_id)
            state.in_flight += 1
            state.most_in_flight = max(state.most_in_flight, state.in_flight)
        await asyncio.sleep(RECEIVER_DELAY)
        await asyncio.to_thread(state.gate.wait)
        with state.lock:
            state.in_flight -= 1
            state.deliveries.append(message_id)
            if message_id not in state.processed:  # a repeat is acknowledged, not processed
                state.processed[message_id] = payload["case_reference"]
                state.timeline[payload["case_reference"]].append(payload["status"])
        return Response(status_code=204)

    with serving(app) as url:
        state.url = url
        yield state


@pytest.fixture
def database_url() -> Iterator[str]:
    """A private PostgreSQL database for this test, dropped afterwards (skip without one)."""
    with private_postgres_database(_postgres_base()) as url:
        yield url


def write_network(tmp_path: Path, receiver_url: str) -> Path:
    empty = tmp_path / "nothing-to-read"
    empty.mkdir()
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: hub, role: hub, name: After-sales hub}}
  - {{id: maison-electro, role: retailer, name: Maison Électro}}
  - {{id: atelier-dupont, role: repairer, name: Atelier Dupont Réparation}}
connectors:
  - name: {CONNECTOR}
    partner: atelier-dupont
    mapping: {ROOT / "mappings" / "atelier-dupont.yaml"}
    message: status
    transport: {{type: local-dir, path: "{empty}"}}
    schedule: {{every: 1s}}
webhooks:
  - {{retailer: maison-electro, url: "{receiver_url}/hub", secret_env: {SECRET_ENV}}}
sync:
  rules:
    - {{name: news, when: {{type: case_status}}, notify_retailer: true}}
""",
        encoding="utf-8",
    )
    return path


def queue_backlog(database: Database, network: Network) -> None:
    """Open the cases and record their events through the store, as a connector would."""
    for number in range(CASES):
        queue_case(database, network, f"ME-{number:06d}")


def queue_case(database: Database, network: Network, reference: str) -> None:
    """One case opened and its later events recorded, the sync rules run on each."""
    hook = network.sync_hook()
    assert hook is not None
    with database.transaction() as connection:
        open_case(connection, make_case(reference), on_stored=hook)
        later: list[Event] = [
            case_event(status, T0 + timedelta(hours=hour), case_ref=reference)
            for hour, status in enumerate(LATER, start=1)
        ]
        append_events(connection, later)
        hook(connection, later)


def held_by(database: Database, pid: int) -> list[str]:
    """Idempotency keys of pending messages a process has leased."""
    with database.transaction() as connection:
        keys = connection.execute(
            select(outbox.c.idempotency_key).where(
                outbox.c.state == OutboxState.PENDING.value,
                outbox.c.lease_owner.like(f"%:{pid}"),
            )
        ).scalars()
        return list(keys)


def pending(database: Database) -> int:
    with database.transaction() as connection:
        count = connection.execute(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.state == OutboxState.PENDING.value)
        ).scalar_one()
        return int(count)


def runs_started_after(database: Database, moment: datetime) -> int:
    with database.transaction() as connection:
        count = connection.execute(
            select(func.count())
            .select_from(connector_runs)
            .where(connector_runs.c.connector == CONNECTOR, connector_runs.c.started_at > moment)
        ).scalar_one()
        return int(count)


def start_hub(
    cli: list[str], tmp_path: Path, env: dict[str, str], lease: float
) -> tuple[subprocess.Popen[bytes], int, IO[bytes]]:
    """One `hub serve` in its own process, on a free port, logging to a file."""
    port = free_port()
    log = (tmp_path / f"hub-{port}.log").open("wb")
    options = ["--port", str(port), "--dispatch-every", "0.2", "--lease-seconds", str(lease)]
    options += ["--deliveries-per-receiver", str(DELIVERIES_PER_RECEIVER)]
    server = subprocess.Popen(
        [*cli, "serve", *options],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return server, port, log


def wait_until_answering(servers: list[subprocess.Popen[bytes]], ports: list[int]) -> None:
    """Until each answers; the first ones send the backlog meanwhile, with several
    deliveries in flight, which slows the start of the others."""
    # A liveness bound, not a speed check: three hubs starting beside a test worker on a
    # loaded two-core machine have been seen to need more than 30 s.
    deadline = time.monotonic() + 120
    for server, port in zip(servers, ports, strict=True):
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, f"hub serve on {port} exited"
                assert time.monotonic() < deadline, f"hub serve on {port} did not answer"
                time.sleep(0.1)


@dataclass
class Outcome:
    """What the outbox, the connector's runs and the receiver hold at the end of a test."""

    states: Counter[str]
    keys: set[str]
    runs: list[tuple[datetime, datetime | None]]
    deliveries: Counter[str]
    processed: dict[str, Any]
    timeline: dict[str, list[str]]

    @classmethod
    def of(cls, database: Database, receiver: Receiver) -> Outcome:
        with database.transaction() as connection:
            states = Counter(connection.execute(select(outbox.c.state)).scalars().all())
            keys = set(connection.execute(select(outbox.c.idempotency_key)).scalars().all())
            runs = [
                (row.started_at, row.finished_at)
                for row in connection.execute(
                    select(connector_runs.c.started_at, connector_runs.c.finished_at).where(
                        connector_runs.c.connector == CONNECTOR
                    )
                )
            ]
        with receiver.lock:
            deliveries = Counter(receiver.deliveries)
            processed = dict(receiver.processed)
            timeline = {case: list(statuses) for case, statuses in receiver.timeline.items()}
        return cls(states, keys, runs, deliveries, processed, timeline)


def overlaps(runs: list[tuple[datetime, datetime | None]]) -> list[int]:
    """Indexes of runs that started before the previous one ended (an open run never ends)."""
    ordered = sorted(runs, key=lambda run: run[0])
    found: list[int] = []
    for index in range(1, len(ordered)):
        previous_end = ordered[index - 1][1]
        if previous_end is None or ordered[index][0] < previous_end:
            found.append(index)
    return found


@pytest.mark.postgres
def test_a_hub_killed_in_a_busy_run_loses_nothing(
    tmp_path: Path,
    database_url: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    network_file = write_network(tmp_path, receiver.url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {"HUB_DATABASE_URL": database_url, "HUB_CONNECTORS": str(network_file)}
    cli = [sys.executable, str(ROOT / "cli.py")]
    # `hub up` migrates the database itself: a `hub db upgrade` before it cost a process.
    up = [*cli, "up", "--network", str(network_file)]
    subprocess.run(up, cwd=tmp_path, env=env, check=True, capture_output=True)

    database = Database(database_url)
    servers: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    victim: subprocess.Popen[bytes] | None = None
    try:
        queue_backlog(database, open_network(network_file))
        assert pending(database) == MESSAGES

        ports = []
        for _ in range(3):
            server, port, log = start_hub(cli, tmp_path, env, OUTBOX_LEASE)
            servers.append(server)
            ports.append(port)
            logs.append(log)
        wait_until_answering(servers, ports)

        # Kill a hub in the middle of the run, while it holds leased messages: the
        # receiver stops answering for a moment, so every sender stands still in its
        # batch and the one picked cannot finish it between the pick and the kill.
        # Generous: at a load average near 20 (a CI run beside other work) 30 s passed
        # with no hub caught between the receiver's gate and the database's read.
        deadline = time.monotonic() + 120
        while victim is None:
            assert time.monotonic() < deadline, "no hub was caught holding messages"
            if receiver.delivered() >= 30:
                receiver.gate.clear()
                time.sleep(0.3)  # requests on the wire reach the gate
                victim = next((s for s in servers if held_by(database, s.pid)), None)
                if victim is None:  # every hub was between two batches: go on, try again
                    receiver.gate.set()
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = time.monotonic()
        held = held_by(database, victim.pid)
        delivered_before = receiver.delivered()
        receiver.gate.set()

        killed_wall = datetime.now(UTC)
        deadline = killed_at + OUTBOX_LEASE + 25
        while pending(database) and time.monotonic() < deadline:
            time.sleep(0.25)
        # The connector's lease, had the victim held it, is free within the same time.
        while not runs_started_after(database, killed_wall) and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(0.5)  # a repeat still on the wire is recorded before counting

        seen = Outcome.of(database, receiver)
        states, keys, runs = seen.states, seen.keys, seen.runs
        deliveries, processed, timeline = seen.deliveries, seen.processed, seen.timeline

        duplicates = sum(deliveries.values()) - len(deliveries)
        print(
            f"\nkilled pid {victim.pid} after {delivered_before} deliveries, holding "
            f"{len(held)} leased messages; {sum(deliveries.values())} deliveries of "
            f"{len(deliveries)} ids ({duplicates} repeats); {len(runs)} runs of {CONNECTOR}"
        )
        assert held, "the killed hub held messages when it died"
        assert receiver.most_in_flight > 1, "deliveries were in flight together"
        assert states == {OutboxState.DELIVERED.value: MESSAGES}, "none lost, none dead"
        assert set(processed) == keys, "the receiver processed every idempotency key"
        assert len(processed) == MESSAGES, "and each exactly once"
        assert duplicates <= len(held), "only what the killed hub had in flight came twice"
        expected = ["created", *LATER]
        assert timeline == {f"ME-{n:06d}": expected for n in range(CASES)}, "per case, in order"
        assert len(runs) >= 2, "the connector ran on its schedule"
        assert any(started > killed_wall for started, _ in runs), "and went on after the kill"
        # A run the victim had open when it died (CI once killed it mid-run) was closed
        # by the claim that took the connector over, at the end of the victim's lease:
        # before the next run began (hub.partners.leases.close_abandoned_runs).
        assert overlaps(runs) == [], "no connector ran concurrently with itself"
    finally:
        receiver.gate.set()
        survivors = [server for server in servers if server.poll() is None]
        for server in survivors:
            server.send_signal(signal.SIGTERM)
        for server in survivors:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for opened in logs:
            opened.close()
        database.dispose()
    for server in servers:
        if server is not victim:
            assert server.returncode in (0, -signal.SIGTERM), "the survivors stop cleanly"


SQLITE_LEASE = 5.0


def test_the_only_hub_on_sqlite_killed_in_a_busy_run_loses_nothing_when_started_again(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default: one process on a SQLite file, killed while it holds leased
    messages, then started again as an operator would. Its own leases expire and the
    new process delivers the rest: none lost, each processed once, per case in order."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    network_file = write_network(tmp_path, receiver.url)
    database_url = f"sqlite:///{tmp_path / 'hub.db'}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {"HUB_DATABASE_URL": database_url, "HUB_CONNECTORS": str(network_file)}
    cli = [sys.executable, str(ROOT / "cli.py")]
    # `hub up` migrates the database itself: a `hub db upgrade` before it cost a process.
    up = [*cli, "up", "--network", str(network_file)]
    subprocess.run(up, cwd=tmp_path, env=env, check=True, capture_output=True)
    database = Database(database_url)
    logs: list[IO[bytes]] = []
    servers: list[subprocess.Popen[bytes]] = []
    try:
        queue_backlog(database, open_network(network_file))
        victim, port, log = start_hub(cli, tmp_path, env, SQLITE_LEASE)
        servers.append(victim)
        logs.append(log)
        wait_until_answering([victim], [port])
        deadline = time.monotonic() + 60
        held: list[str] = []
        while not held:
            assert time.monotonic() < deadline, "the hub was never caught holding messages"
            if receiver.delivered() >= 30:
                receiver.gate.clear()
                time.sleep(0.3)
                held = held_by(database, victim.pid)
                if not held:
                    receiver.gate.set()
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        receiver.gate.set()

        again, port, log = start_hub(cli, tmp_path, env, SQLITE_LEASE)
        servers.append(again)
        logs.append(log)
        wait_until_answering([again], [port])
        deadline = time.monotonic() + SQLITE_LEASE + 60
        while pending(database) and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(0.5)

        with database.transaction() as connection:
            states = Counter(connection.execute(select(outbox.c.state)).scalars().all())
            keys = set(connection.execute(select(outbox.c.idempotency_key)).scalars().all())
        with receiver.lock:
            deliveries = Counter(receiver.deliveries)
            processed = dict(receiver.processed)
            timeline = {case: list(statuses) for case, statuses in receiver.timeline.items()}
        duplicates = sum(deliveries.values()) - len(deliveries)
        assert receiver.most_in_flight > 1, "one hub had deliveries in flight together"
        assert states == {OutboxState.DELIVERED.value: MESSAGES}, "none lost, none dead"
        assert set(processed) == keys, "the receiver processed every idempotency key"
        assert len(processed) == MESSAGES, "and each exactly once"
        assert duplicates <= len(held), "only what the killed hub had in flight came twice"
        expected = ["created", *LATER]
        assert timeline == {f"ME-{n:06d}": expected for n in range(CASES)}, "per case, in order"
    finally:
        receiver.gate.set()
        for server in servers:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        for opened in logs:
            opened.close()
        database.dispose()
