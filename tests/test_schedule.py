"""The scheduler's leases and jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from hub.bootstrap import Hub
from hub.errors import ConfigurationError, TransientError
from hub.partners.connectors import open_network
from hub.partners.ingest.report import RunReport
from hub.partners.leases import RUN_BACKOFF, acquire_lease, release_lease, renew_lease
from hub.partners.runs import RunCounts
from hub.partners.supervisor import run_leased
from hub.store.db import Database
from simulators.server import free_port

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_one_run_of_a_connector_at_a_time_across_processes(database: Database) -> None:
    assert acquire_lease(database, "ad-status", "host-a:1", now=NOW)
    assert not acquire_lease(database, "ad-status", "host-b:2", now=NOW)
    assert acquire_lease(database, "other", "host-b:2", now=NOW), "leases are per connector"
    release_lease(database, "ad-status", "host-a:1", None, now=NOW)
    assert acquire_lease(database, "ad-status", "host-b:2", now=NOW)


def test_a_dead_process_loses_its_lease_when_it_expires(database: Database) -> None:
    assert acquire_lease(database, "ad-status", "killed:1", now=NOW)
    assert not acquire_lease(database, "ad-status", "alive:2", now=NOW + timedelta(seconds=30))
    assert acquire_lease(database, "ad-status", "alive:2", now=NOW + timedelta(seconds=61))


def test_a_renewed_lease_stays_with_its_owner(database: Database) -> None:
    assert acquire_lease(database, "ad-status", "long:1", now=NOW)
    assert renew_lease(database, "ad-status", "long:1", now=NOW + timedelta(seconds=50))
    assert not acquire_lease(database, "ad-status", "other:2", now=NOW + timedelta(seconds=90))
    assert not renew_lease(database, "ad-status", "other:2", now=NOW), "only its owner renews it"
    assert acquire_lease(database, "ad-status", "other:2", now=NOW + timedelta(seconds=111))
    assert not renew_lease(database, "ad-status", "long:1", now=NOW + timedelta(seconds=112))


def test_a_run_longer_than_its_lease_keeps_it_to_the_end(database: Database) -> None:
    lease = timedelta(seconds=0.3)
    stolen: list[bool] = []

    def long_run() -> RunReport:
        for _ in range(4):  # 1.2 s in all: four lease lengths
            time.sleep(0.3)
            stolen.append(acquire_lease(database, "ad-status", "thief:2", lease=lease))
        return RunReport(0, "ad-status", RunCounts(), [])

    assert run_leased(database, "ad-status", "long:1", long_run, lease=lease) is not None
    assert stolen == [False] * 4, "the lease was renewed while the run went on"
    assert acquire_lease(database, "ad-status", "thief:2", lease=lease), "and released after it"


def test_a_passing_failure_backs_off_and_a_config_error_does_not(database: Database) -> None:
    assert acquire_lease(database, "ts-changes", "a", now=NOW)
    release_lease(database, "ts-changes", "a", TransientError("503", retry_after=900), now=NOW)
    assert not acquire_lease(database, "ts-changes", "a", now=NOW + timedelta(minutes=10))
    assert acquire_lease(database, "ts-changes", "a", now=NOW + timedelta(minutes=16))
    release_lease(database, "ts-changes", "a", ConfigurationError("bad key"), now=NOW)
    assert acquire_lease(database, "ts-changes", "a", now=NOW + timedelta(seconds=1))


def test_a_run_by_hand_skips_the_backoff_but_not_a_held_lease(database: Database) -> None:
    assert acquire_lease(database, "ts-changes", "a", now=NOW)
    release_lease(database, "ts-changes", "a", TransientError("503", retry_after=900), now=NOW)
    later = NOW + timedelta(minutes=1)
    assert not acquire_lease(database, "ts-changes", "serve", now=later)
    assert acquire_lease(database, "ts-changes", "by-hand", now=later, ignore_backoff=True)
    assert not acquire_lease(database, "ts-changes", "again", now=later, ignore_backoff=True)


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [RUN_BACKOFF.step(n) for n in (1, 2, 3)] == [60, 120, 240]
    assert RUN_BACKOFF.step(30) == timedelta(hours=1).total_seconds()
    assert RUN_BACKOFF.wait(1, retry_after=1800) == timedelta(minutes=30).total_seconds()
    assert [RUN_BACKOFF.wait(3, draw=lambda d=d: d) for d in (0.0, 1.0)] == [120, 240]


def test_two_schedulers_never_run_a_connector_together(database: Database) -> None:
    running: list[str] = []
    overlaps: list[str] = []
    runs: list[str] = []

    def slow_run(owner: str) -> RunReport:
        if running:
            overlaps.append(owner)
        running.append(owner)
        time.sleep(0.2)
        running.remove(owner)
        runs.append(owner)
        return RunReport(0, "ad-status", RunCounts(), [])

    threads = [
        threading.Thread(
            target=run_leased, args=(database, "ad-status", owner, lambda o=owner: slow_run(o))
        )
        for owner in ("a", "b", "c")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert len(runs) >= 1


def test_the_network_s_schedules_become_jobs(database: Database) -> None:
    network = open_network(ROOT / "connectors.yaml")
    scheduler = Hub(database, network, owner="test").scheduler()
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert isinstance(jobs["atelier-dupont-status"].trigger, IntervalTrigger)
    assert jobs["atelier-dupont-status"].trigger.interval == timedelta(minutes=15)
    assert isinstance(jobs["bricomarket-nightly"].trigger, CronTrigger)
    assert "dispatcher" in jobs
    assert "colis-express-push-recovery" in jobs
    assert "atelier-dupont-orders" not in jobs, "outbound messages go out with the dispatcher"
    assert "colis-express-push" not in jobs, "pushes are received, not polled"


def test_the_dispatchers_loop_ends_when_its_scheduler_shuts_down(database: Database) -> None:
    """The dispatcher runs as one long job (woken by queued messages, else every
    ``dispatch_every``): shutting the scheduler down ends it, even with the process not
    stopping (the live demo), instead of waiting for it forever."""
    network = open_network(ROOT / "connectors.yaml")
    with Hub(database, network, owner="test") as hub:
        scheduler = hub.scheduler(dispatch_every=timedelta(hours=1))
        scheduler.start()
        done = threading.Event()

        def stop() -> None:
            scheduler.shutdown(wait=True)
            done.set()

        stopper = threading.Thread(target=stop, daemon=True)
        time.sleep(0.5)  # the loop has started and waits on its bell
        stopper.start()
        assert done.wait(60), "the scheduler's shutdown waited for the dispatcher for ever"
        assert not hub.stopping.is_set()


def test_hub_serve_answers_and_stops_cleanly(tmp_path: Path) -> None:
    """The whole process: API up, scheduler running, a clean stop on SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONNECTORS"] = str(ROOT / "connectors.yaml")
    cli = [sys.executable, str(ROOT / "cli.py")]
    subprocess.run([*cli, "up"], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "hub serve did not answer"
                time.sleep(0.2)
        assert answer.status_code == 200
        unsigned = httpx.post(f"http://127.0.0.1:{port}/partners/colis-express-push/events")
        assert unsigned.status_code in (401, 503), "push endpoints are served"
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the process ends by it.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "jobs" in output
