"""SIGTERM during a connector run: the run finishes and frees its lease before the
process exits 0; past the grace period the process exits 1 and says so, the lease left
for another process to take over when it expires (as after a crash).

The partner's API holds its answer until the test lets it go, so the run is in progress
when the signal comes, whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI, Response
from sqlalchemy import select

from hub.store.db import Database
from hub.store.tables import connector_leases, connector_runs
from simulators.server import free_port
from tests.api_support import serving
from tests.test_crash import wait_until_answering

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = "slow-changes"
KEY_ENV = "TEST_SHUTDOWN_API_KEY"
EMPTY_PAGE = '<ts:Changes xmlns:ts="urn:techniservice:repairs:v2" more="false"/>'


@dataclass
class SlowPartner:
    url: str = ""
    asked: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def partner() -> Iterator[SlowPartner]:
    state = SlowPartner()
    app = FastAPI()

    @app.get("/api/repairs/changes")
    def changes() -> Response:  # a sync route: uvicorn runs it in a thread
        state.asked.set()
        state.gate.wait(timeout=60)
        return Response(EMPTY_PAGE, media_type="application/xml")

    with serving(app) as url:
        state.url = url
        yield state
        state.gate.set()


def write_network(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: hub, role: hub, name: After-sales hub}}
  - {{id: techniservice, role: repairer, name: TechniService}}
connectors:
  - name: {CONNECTOR}
    partner: techniservice
    mapping: {ROOT / "mappings" / "techniservice.yaml"}
    message: changes
    transport:
      type: http-pull
      base_url: {url}/api
      page_path: /repairs/changes
      cursor_param: since
      next_field: next
      more_field: more
      header_env: {{X-Api-Key: {KEY_ENV}}}
    schedule: {{every: 1s}}
""",
        encoding="utf-8",
    )
    return path


def lease_owner(database: Database) -> str | None:
    with database.transaction() as connection:
        owner: str | None = connection.execute(
            select(connector_leases.c.owner).where(connector_leases.c.connector == CONNECTOR)
        ).scalar_one_or_none()
        return owner


def runs(database: Database) -> list[tuple[object, str | None]]:
    with database.transaction() as connection:
        rows = connection.execute(
            select(connector_runs.c.finished_at, connector_runs.c.outcome).where(
                connector_runs.c.connector == CONNECTOR
            )
        )
        return [(row.finished_at, row.outcome) for row in rows]


def start(
    tmp_path: Path, partner: SlowPartner, grace: float
) -> tuple[subprocess.Popen[bytes], Database, Path]:
    network = write_network(tmp_path, partner.url)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {
        "HUB_DATABASE_URL": url,
        "HUB_CONNECTORS": str(network),
        "HUB_SHUTDOWN_GRACE": str(grace),
        KEY_ENV: "key-of-the-slow-partner",
    }
    cli = [sys.executable, str(ROOT / "cli.py")]
    subprocess.run([*cli, "up"], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--lease-seconds", "30"],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_until_answering([server], [port])
    assert partner.asked.wait(timeout=30), "the connector ran"
    return server, Database(url), log


def test_a_run_in_progress_finishes_and_frees_its_lease_before_the_process_exits(
    tmp_path: Path, partner: SlowPartner
) -> None:
    server, database, log = start(tmp_path, partner, grace=30)
    try:
        assert lease_owner(database) == f"{os.uname().nodename}:{server.pid}"
        server.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while "signal 15: stopping" not in log.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, "the process saw the signal"
            time.sleep(0.1)
        assert server.poll() is None, "the run in progress holds the process"
        assert lease_owner(database) is not None, "and its lease"
        partner.gate.set()
        assert server.wait(timeout=30) == 0
        assert lease_owner(database) is None, "the lease was given back, not left to expire"
        recorded = runs(database)
        assert len(recorded) == 1, "no run started after the signal"
        assert recorded[0][0] is not None, "the run was recorded finished"
        assert recorded[0][1] == "succeeded", "not interrupted"
        assert "stopped: nothing held any more" in log.read_text(encoding="utf-8")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        database.dispose()


def test_past_the_grace_period_the_process_exits_1_and_the_lease_is_left_to_expire(
    tmp_path: Path, partner: SlowPartner
) -> None:
    server, database, log = start(tmp_path, partner, grace=1)
    try:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 1
        assert lease_owner(database) == f"{os.uname().nodename}:{server.pid}"
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        over = [line for line in lines if line["message"].startswith("grace period of 1.0s over")]
        assert over, "the process said why it stopped without finishing"
        assert over[0]["level"] == "error"
    finally:
        partner.gate.set()
        if server.poll() is None:
            server.kill()
            server.wait()
        database.dispose()


def _serve_api(tmp_path: Path, grace: float) -> tuple[subprocess.Popen[bytes], int]:
    """`hub serve-api` alone (no network file) on a fresh SQLite database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "HUB_CONNECTORS": str(tmp_path / "none.yaml"),
        "HUB_SHUTDOWN_GRACE": str(grace),
    }
    cli = [sys.executable, str(ROOT / "cli.py")]
    subprocess.run([*cli, "db", "upgrade"], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve-api", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_answering([server], [port])
    return server, port


def _half_sent_request(port: int) -> socket.socket:
    """A request whose headers have arrived and whose body has not: in flight."""
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    body_length = len(HALF_BODY) * 2
    client.sendall(
        f"POST /v1/cases HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        f"Content-Length: {body_length}\r\n\r\n".encode()
        + HALF_BODY
    )
    return client


HALF_BODY = b'{"reference": "ME-1"}   '


def test_serve_api_answers_the_requests_in_flight_on_sigterm_then_exits_0(
    tmp_path: Path,
) -> None:
    server, port = _serve_api(tmp_path, grace=30)
    try:
        client = _half_sent_request(port)
        time.sleep(0.5)  # the server has read the headers
        server.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.poll() is None, "the request in flight holds the process"
        client.sendall(HALF_BODY)
        answer = client.recv(4096).decode("latin-1")
        client.close()
        # answered, not cut: refused, since the two halves make no case and carry no key
        assert answer.startswith("HTTP/1.1 4"), answer
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_serve_api_stops_waiting_at_the_end_of_its_grace_period(tmp_path: Path) -> None:
    server, port = _serve_api(tmp_path, grace=1)
    try:
        client = _half_sent_request(port)
        time.sleep(0.5)
        began = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        assert time.monotonic() - began < 10, "a request never finished does not hold it"
        client.close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_a_stop_asked_before_the_server_listens_still_stops_it() -> None:
    """A SIGTERM between `hub serve`'s own handler and uvicorn's sets only ``stopping``:
    the server must not serve on with its scheduler stopped."""
    import uvicorn

    from hub.api.graceful import GracefulServer

    stopping = threading.Event()
    stopping.set()
    config = uvicorn.Config(FastAPI(), host="127.0.0.1", port=0, log_config=None)
    server = GracefulServer(config, stopping)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    thread.join(timeout=30)  # a liveness bound: it stops within a tick or two
    assert not thread.is_alive(), "the server served on after the stop was asked"
    assert server.asked_at is not None
