"""Backup and restore under traffic, as docs/operations.md tells an operator to do them.

A real `hub serve` delivers a backlog of retailer webhooks to a receiver that records
every webhook-id; in the middle of it the database is backed up (`hub backup` on SQLite,
`pg_dump --format=custom` on PostgreSQL), and the hub finishes its work. The backup is
restored into a fresh database, where the outbox is consistent: every message either
delivered (and the receiver did get it) or pending, none dead, none without its case
and event, and in each queue the delivered messages come before the pending ones.
Then `hub serve` on the restored database resumes and delivers exactly the messages the
backup held pending, each once, and none it recorded delivered; the receiver, which
drops a webhook-id it already processed, ends with every case's statuses in order.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Row, select

from hub.partners.connectors import open_network
from hub.store.db import Database
from hub.store.tables import cases, events, outbox
from tests.conftest import _postgres_base, private_postgres_database
from tests.test_crash import (
    CASES,
    LATER,
    MESSAGES,
    SECRET,
    SECRET_ENV,
    Receiver,
    pending,
    queue_backlog,
    receiver,
    start_hub,
    wait_until_answering,
    write_network,
)

__all__ = ["receiver"]

ROOT = Path(__file__).resolve().parent.parent
LEASE = 5.0
"""`--lease-seconds`: what the first hub held at the backup is free this soon after."""


def libpq(url: str) -> str:
    """The hub's SQLAlchemy URL as pg_dump and pg_restore read it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def two_databases(backend: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The hub's database and an empty one to restore into."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
        return
    base = _postgres_base()
    with private_postgres_database(base) as url, private_postgres_database(base) as fresh:
        yield url, fresh


def take_backup(cli: list[str], env: dict[str, str], url: str, target: Path) -> None:
    if url.startswith("sqlite"):
        subprocess.run([*cli, "backup", str(target)], env=env, check=True, capture_output=True)
    else:
        assert shutil.which("pg_dump"), "pg_dump is installed"
        subprocess.run(
            ["pg_dump", "--format=custom", "--file", str(target), libpq(url)],
            check=True,
            capture_output=True,
        )


def restore(backup: Path, url: str, tmp_path: Path) -> None:
    if url.startswith("sqlite"):
        shutil.copyfile(backup, tmp_path / "restored.db")
    else:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", libpq(url), str(backup)],
            check=True,
            capture_output=True,
        )


def outbox_rows(database: Database) -> list[Row[Any]]:
    with database.transaction() as connection:
        return list(
            connection.execute(
                select(
                    outbox.c.target,
                    outbox.c.ordering_key,
                    outbox.c.case_ref,
                    outbox.c.idempotency_key,
                    outbox.c.state,
                    outbox.c.payload,
                ).order_by(outbox.c.id)
            )
        )


def check_consistent(database: Database, received: set[str]) -> tuple[set[str], set[str]]:
    """The restored outbox's delivered and pending idempotency keys, after checking it."""
    rows = outbox_rows(database)
    assert len(rows) == MESSAGES, "every message of the backlog is there"
    states = Counter(row.state for row in rows)
    assert set(states) <= {"delivered", "pending"}, states
    with database.transaction() as connection:
        event_ids = set(connection.execute(select(events.c.event_id)).scalars())
        references = set(connection.execute(select(cases.c.reference)).scalars())
    for row in rows:
        assert row.payload["event_id"] in event_ids, f"{row.idempotency_key}: its event is there"
        assert row.case_ref in references, f"{row.idempotency_key}: its case is there"
    queues: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        queues.setdefault((row.target, row.ordering_key), []).append(row.state)
    for queue, queue_states in queues.items():
        if "pending" in queue_states:
            later = queue_states[queue_states.index("pending") :]
            assert "delivered" not in later, f"order kept in {queue}"
    delivered = {row.idempotency_key for row in rows if row.state == "delivered"}
    waiting = {row.idempotency_key for row in rows if row.state == "pending"}
    assert delivered <= received, "what the backup says delivered was received"
    return delivered, waiting


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_backup_taken_under_traffic_restores_to_a_consistent_outbox_that_resumes(
    tmp_path: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    network_file = write_network(tmp_path, receiver.url)
    cli = [sys.executable, str(ROOT / "cli.py")]
    base_env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    base_env["HUB_CONNECTORS"] = str(network_file)
    backup_file = tmp_path / "hub.backup"
    servers: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    with two_databases(backend, tmp_path) as (url, fresh_url):
        env = base_env | {"HUB_DATABASE_URL": url}
        subprocess.run([*cli, "up"], cwd=tmp_path, env=env, check=True, capture_output=True)
        database = Database(url)
        restored: Database | None = None
        try:
            queue_backlog(database, open_network(network_file))
            server, port, log = start_hub(cli, tmp_path, env, LEASE)
            servers.append(server)
            logs.append(log)
            wait_until_answering([server], [port])
            wait_for(lambda: receiver.delivered() >= MESSAGES // 4, 60, "deliveries began")
            take_backup(cli, env, url, backup_file)
            at_backup = receiver.delivered()
            wait_for(lambda: pending(database) == 0, 120, "the first hub finished")
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
            assert at_backup < MESSAGES, "the backup was taken while messages were pending"

            restore(backup_file, fresh_url, tmp_path)
            restored = Database(fresh_url)
            with receiver.lock:
                received = set(receiver.deliveries)
                already = len(receiver.deliveries)
            delivered, waiting = check_consistent(restored, received)
            assert waiting, "the backup holds pending messages"

            env = base_env | {"HUB_DATABASE_URL": fresh_url}
            again, port, log = start_hub(cli, tmp_path, env, LEASE)
            servers.append(again)
            logs.append(log)
            wait_until_answering([again], [port])
            wait_for(lambda: pending(restored) == 0, LEASE + 120, "the restored hub resumed")
            time.sleep(0.5)  # a repeat still on the wire is recorded before counting
            with receiver.lock:
                resumed = Counter(receiver.deliveries[already:])
                timeline = {case: list(done) for case, done in receiver.timeline.items()}
            print(
                f"\nbackup after {at_backup} deliveries: {len(delivered)} delivered and "
                f"{len(waiting)} pending in it; the restored hub sent {sum(resumed.values())}"
            )
            assert set(resumed) == waiting, "it sends what the backup held pending"
            assert max(resumed.values()) == 1, "each once"
            assert not set(resumed) & delivered, "and nothing the backup recorded delivered"
            expected = ["created", *LATER]
            assert timeline == {f"ME-{n:06d}": expected for n in range(CASES)}
            again.send_signal(signal.SIGTERM)
            assert again.wait(timeout=30) == 0
        finally:
            for running in servers:
                if running.poll() is None:
                    running.kill()
                    running.wait()
            for opened in logs:
                opened.close()
            database.dispose()
            if restored is not None:
                restored.dispose()


def test_hub_backup_refuses_an_existing_file_and_names_pg_dump_for_postgresql(
    database: Database, tmp_path: Path
) -> None:
    def hub_backup(target: Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(ROOT / "cli.py"), "backup", str(target)]
        return subprocess.run(
            [*command, "--database", database.url], capture_output=True, text=True, check=False
        )

    target = tmp_path / "already-there.db"
    target.write_bytes(b"an earlier backup")
    answer = hub_backup(target)
    assert answer.returncode != 0
    if database.dialect == "postgresql":
        assert "back it up with pg_dump --format=custom" in answer.stderr
        return
    assert "already exists: give the backup a new file name" in answer.stderr
    assert target.read_bytes() == b"an earlier backup", "left as it was"
    fresh = tmp_path / "fresh.db"
    made = hub_backup(fresh)
    assert made.returncode == 0, made.stderr
    assert "integrity checked" in made.stdout
    copy = Database(f"sqlite:///{fresh}")
    try:
        with copy.transaction() as connection:
            assert connection.execute(select(outbox.c.id)).first() is None
    finally:
        copy.dispose()
