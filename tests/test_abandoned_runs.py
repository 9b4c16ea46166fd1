"""A run whose process stopped (SIGKILL, power loss) is closed by the claim that takes
its connector's lease over: failed, abandoned, ended when the dead owner's lease ran out;
on SQLite and PostgreSQL. A live owner's run and a replay are left alone, and concurrent
claims close it once. A paused connector is not claimed: its pause, or a claim it refuses,
closes its dead owner's run (never a live one's)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI, Response
from sqlalchemy import select

from hub.config.alerting import AlertingSpec
from hub.errors import NextAction
from hub.operators.status import ConnectorState, network_status
from hub.partners.alerts import ALERTING, pause_connector, resume_connector
from hub.partners.connectors import open_network
from hub.partners.ingest.report import RunReport
from hub.partners.leases import (
    LEASE,
    acquire_lease,
    claim_lease,
    release_lease,
    renew_lease,
)
from hub.partners.runs import ReplayMark, RunCounts, RunOutcome, finish_run, get_run, start_run
from hub.partners.supervisor import run_leased
from hub.store import leases, runs
from hub.store.db import Database
from hub.store.leases import pause_state
from hub.store.tables import connector_leases, connector_runs
from simulators.server import free_port
from tests.api_support import serving
from tests.conftest import BACKENDS, _postgres_base, private_postgres_database
from tests.factories import T0

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = "atelier-dupont-status"


def _died_running(database: Database, owner: str = "host-a:1") -> int:
    """``owner`` takes the lease at T0 and opens a run, then dies: no renewal, no end."""
    assert acquire_lease(database, CONNECTOR, owner, now=T0)
    return start_run(database, CONNECTOR, now=T0 + timedelta(seconds=1))


def _lease_owner(database: Database) -> str | None:
    with database.transaction() as connection:
        owner: str | None = connection.execute(
            select(connector_leases.c.owner).where(connector_leases.c.connector == CONNECTOR)
        ).scalar_one()
    return owner


def test_the_claim_after_the_lease_ran_out_closes_the_dead_owners_run_at_its_expiry(
    database: Database,
) -> None:
    run_id = _died_running(database)

    assert acquire_lease(database, CONNECTOR, "host-b:2", now=T0 + timedelta(seconds=95))

    run = get_run(database, run_id)
    assert run.outcome is RunOutcome.FAILED
    assert run.finished_at == T0 + LEASE, "at the lease's end, not at the takeover"
    assert run.error_action == NextAction.RETRY.value
    assert run.error_message == (
        "abandoned: its process (host-a:1) stopped renewing the lease, which ran out at "
        f"{(T0 + LEASE).astimezone(UTC).isoformat(timespec='seconds')}; taken over by host-b:2"
    )
    assert _lease_owner(database) == "host-b:2"


def test_a_live_owner_renewing_its_lease_is_never_touched(database: Database) -> None:
    run_id = _died_running(database)
    for beat in (20, 40, 60, 80):  # the keeper renews every third of the lease
        assert renew_lease(database, CONNECTOR, "host-a:1", now=T0 + timedelta(seconds=beat))
        assert not acquire_lease(
            database, CONNECTOR, "host-b:2", now=T0 + timedelta(seconds=beat + 15)
        )
        assert get_run(database, run_id).outcome is RunOutcome.RUNNING

    finish_run(database, run_id, RunCounts(messages_read=2), now=T0 + timedelta(seconds=90))
    release_lease(database, CONNECTOR, "host-a:1", None, now=T0 + timedelta(seconds=90))
    assert acquire_lease(database, CONNECTOR, "host-b:2", now=T0 + timedelta(seconds=91))
    run = get_run(database, run_id)
    assert (run.outcome, run.finished_at, run.error_message) == (
        RunOutcome.SUCCEEDED,
        T0 + timedelta(seconds=90),
        None,
    ), "a run its owner closed keeps its end"


def test_the_same_owner_claiming_again_after_its_own_lease_ran_out_closes_its_run(
    database: Database,
) -> None:
    """A restarted container keeps its host name and pid, so its owner name."""
    run_id = _died_running(database)

    assert acquire_lease(database, CONNECTOR, "host-a:1", now=T0 + timedelta(seconds=70))

    run = get_run(database, run_id)
    assert run.outcome is RunOutcome.FAILED
    assert run.finished_at == T0 + LEASE
    assert run.error_message is not None
    assert run.error_message.endswith("; taken over by its own owner again")


def _ended_when(run_error: str | None) -> str:
    assert run_error is not None
    return run_error.split("; ")[-1]


def test_pausing_a_connector_whose_owner_died_closes_its_run_at_the_lease_s_end(
    database: Database,
) -> None:
    """Nothing claims a paused connector: the pause itself closes the dead owner's run,
    as the claim that would have taken it over (issue 17, thirteenth pass)."""
    run_id = _died_running(database)

    pause_connector(database, CONNECTOR, reason="partner asked", by="ops", now=T0 + LEASE * 2)

    run = get_run(database, run_id)
    assert (run.outcome, run.finished_at) == (RunOutcome.FAILED, T0 + LEASE)
    assert run.error_action == NextAction.RETRY.value
    assert run.error_message == (
        "abandoned: its process (host-a:1) stopped renewing the lease, which ran out at "
        f"{(T0 + LEASE).astimezone(UTC).isoformat(timespec='seconds')}; found open when ops "
        "paused the connector"
    )
    assert _lease_owner(database) is None, "the dead owner cleared from the row"
    with database.transaction() as connection:
        paused = pause_state(connection, CONNECTOR)
    assert paused is not None
    assert (paused.by, paused.reason) == ("ops", "partner asked")
    with database.transaction() as connection:
        assert runs.consecutive_failures(connection, CONNECTOR) == 1, "a failed run, as claimed"


def test_pausing_a_connector_whose_run_is_live_leaves_the_run_running(
    database: Database,
) -> None:
    run_id = _died_running(database)
    assert renew_lease(database, CONNECTOR, "host-a:1", now=T0 + timedelta(seconds=40))

    pause_connector(database, CONNECTOR, reason="partner asked", by="ops", now=T0 + LEASE)
    assert not acquire_lease(database, CONNECTOR, "host-b:2", now=T0 + LEASE)

    assert get_run(database, run_id).outcome is RunOutcome.RUNNING, "its lease runs to 100 s"
    assert _lease_owner(database) == "host-a:1"
    finish_run(database, run_id, RunCounts(messages_read=2), now=T0 + timedelta(seconds=90))
    release_lease(database, CONNECTOR, "host-a:1", None, now=T0 + timedelta(seconds=90))
    pause_connector(database, CONNECTOR, reason="again", by="ops", now=T0 + LEASE * 3)
    run = get_run(database, run_id)
    assert (run.outcome, run.error_message) == (RunOutcome.SUCCEEDED, None)


def test_a_paused_connectors_dead_run_is_closed_by_the_next_claim_it_refuses(
    database: Database,
) -> None:
    """Paused while its run was going on, then the process died: the scheduler's next
    claim (or `hub run`) is refused, and closes the run; the resume finds nothing left."""
    run_id = _died_running(database)
    pause_connector(database, CONNECTOR, reason="partner asked", by="ops", now=T0 + LEASE / 2)
    assert get_run(database, run_id).outcome is RunOutcome.RUNNING, "its lease still ran"

    assert not acquire_lease(database, CONNECTOR, "host-b:2", now=T0 + timedelta(minutes=5))

    run = get_run(database, run_id)
    assert (run.outcome, run.finished_at) == (RunOutcome.FAILED, T0 + LEASE)
    assert _ended_when(run.error_message) == (
        "found open when host-b:2 came to run the paused connector"
    )
    assert _lease_owner(database) is None
    with database.transaction() as connection:
        assert pause_state(connection, CONNECTOR) is not None, "still paused"
    resume_connector(database, CONNECTOR, now=T0 + timedelta(minutes=6))
    assert claim_lease(database, CONNECTOR, "host-b:2", now=T0 + timedelta(minutes=7)) == []
    assert get_run(database, run_id).finished_at == T0 + LEASE


def test_pausing_again_closes_a_run_that_died_after_the_first_pause(
    database: Database,
) -> None:
    run_id = _died_running(database)
    pause_connector(database, CONNECTOR, reason="first", by="alerting", now=T0 + LEASE / 2)

    pause_connector(database, CONNECTOR, reason="second", by="ana", now=T0 + LEASE * 2)

    run = get_run(database, run_id)
    assert (run.outcome, _ended_when(run.error_message)) == (
        RunOutcome.FAILED,
        "found open when ana paused the connector",
    )
    with database.transaction() as connection:
        paused = pause_state(connection, CONNECTOR)
    assert paused is not None
    assert paused.reason == "first", "the first reason stays"


def test_concurrent_pauses_and_refused_claims_close_the_dead_run_once(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = _died_running(database)
    pause_connector(database, CONNECTOR, reason="first", by="ops", now=T0 + LEASE / 2)
    start = threading.Barrier(6)
    later = T0 + LEASE * 2
    caplog.set_level(logging.WARNING, logger="hub.partners.leases")

    def touch(number: int) -> None:
        start.wait()
        if number % 2:
            pause_connector(database, CONNECTOR, reason="again", by=f"op-{number}", now=later)
        else:
            assert not acquire_lease(database, CONNECTOR, f"host-{number}:1", now=later)

    threads = [threading.Thread(target=touch, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    run = get_run(database, run_id)
    assert (run.outcome, run.finished_at) == (RunOutcome.FAILED, T0 + LEASE)
    closings = [r for r in caplog.records if "abandoned by a stopped process" in r.getMessage()]
    assert len(closings) == 1, "one of them ended the lease and closed the run"
    assert _lease_owner(database) is None


def test_hub_pause_closes_the_run_of_a_process_that_died(database: Database) -> None:
    """The command an operator types after a crash."""
    from tests.test_operator_cli import hub

    died_at = datetime.now(UTC) - timedelta(minutes=5)
    assert acquire_lease(database, CONNECTOR, "host-a:1", now=died_at)
    run_id = start_run(database, CONNECTOR, now=died_at + timedelta(seconds=1))

    paused = hub(database, "pause", CONNECTOR, "--reason", "after the crash", "--by", "ana")
    assert paused.returncode == 0, paused.stderr

    shown = hub(database, "runs", CONNECTOR, "--json")
    [run] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert (run["id"], run["outcome"]) == (run_id, "failed")
    assert run["error_message"].startswith("abandoned: its process (host-a:1) stopped")
    assert run["error_message"].endswith("found open when ana paused the connector")


def test_concurrent_claims_close_the_dead_run_once(database: Database) -> None:
    run_id = _died_running(database)
    claimers = [f"host-{n}:{n}" for n in range(2, 8)]
    start = threading.Barrier(len(claimers))
    won: dict[str, bool] = {}

    def claim(owner: str) -> None:
        start.wait()
        won[owner] = acquire_lease(database, CONNECTOR, owner, now=T0 + timedelta(seconds=90))

    threads = [threading.Thread(target=claim, args=(owner,)) for owner in claimers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [owner for owner, took in won.items() if took]
    assert len(winners) == 1, won
    run = get_run(database, run_id)
    assert run.outcome is RunOutcome.FAILED
    assert run.error_message is not None
    assert run.error_message.endswith(f"taken over by {winners[0]}")
    with database.transaction() as connection:
        assert not runs.close_abandoned_run(
            connection, run_id, finished_at=T0 + timedelta(hours=1), error_message="again"
        ), "a closed run is never closed twice"
    assert get_run(database, run_id).error_message == run.error_message


def test_a_run_stuck_from_before_is_closed_at_the_start_of_the_next_run(
    database: Database,
) -> None:
    """A store that has them today: the dead run was taken over long ago (nothing closed
    it then), later runs came and went, and the lease is free."""
    stuck = _died_running(database)
    later = T0 + timedelta(minutes=2)
    assert acquire_lease(database, CONNECTOR, "host-b:2", now=later)
    with database.transaction() as connection:  # what the claim of earlier releases did
        connection.execute(
            connector_runs.update()
            .where(connector_runs.c.id == stuck)
            .values(outcome=RunOutcome.RUNNING.value, finished_at=None, error_message=None)
        )
    done = start_run(database, CONNECTOR, now=later + timedelta(seconds=1))
    finish_run(database, done, RunCounts(), now=later + timedelta(seconds=5))
    release_lease(database, CONNECTOR, "host-b:2", None, now=later + timedelta(seconds=5))

    assert acquire_lease(database, CONNECTOR, "host-c:3", now=T0 + timedelta(hours=1))

    run = get_run(database, stuck)
    assert run.outcome is RunOutcome.FAILED
    assert run.finished_at == later + timedelta(seconds=1), "before the next run began"
    assert run.error_message is not None
    assert run.error_message.startswith("abandoned: its process stopped before the next run")
    assert get_run(database, done).outcome is RunOutcome.SUCCEEDED


def test_a_run_left_open_with_the_lease_released_is_closed_when_found(
    database: Database,
) -> None:
    """Its process could not write its end (the database went away) but released."""
    run_id = _died_running(database)
    release_lease(database, CONNECTOR, "host-a:1", None, now=T0 + timedelta(seconds=5))
    found = T0 + timedelta(minutes=3)

    assert acquire_lease(database, CONNECTOR, "host-b:2", now=found)

    run = get_run(database, run_id)
    assert (run.outcome, run.finished_at) == (RunOutcome.FAILED, found)
    assert run.error_message is not None
    assert "stopped without closing it" in run.error_message


def test_a_replay_holds_no_lease_and_is_left_running(database: Database) -> None:
    mark = ReplayMark(message_id=None, since=T0 - timedelta(days=1), requested_by="ops")
    replay = start_run(database, CONNECTOR, now=T0, replay=mark)
    dead = _died_running(database)

    assert acquire_lease(database, CONNECTOR, "host-b:2", now=T0 + timedelta(seconds=90))

    assert get_run(database, replay).outcome is RunOutcome.RUNNING
    assert get_run(database, dead).outcome is RunOutcome.FAILED


def test_an_abandoned_run_is_a_failure_in_a_row_in_the_status(database: Database) -> None:
    network = open_network(ROOT / "connectors.yaml")
    ok = start_run(database, CONNECTOR, now=T0 - timedelta(hours=1))
    finish_run(database, ok, RunCounts(), now=T0 - timedelta(hours=1))
    dead = _died_running(database)
    moment = T0 + timedelta(seconds=90)

    before = network_status(database, network, now=moment).connector(CONNECTOR)
    assert before.last_run is not None
    assert before.last_run.outcome is RunOutcome.RUNNING

    assert acquire_lease(database, CONNECTOR, "host-b:2", now=moment)
    after = network_status(database, network, now=moment).connector(CONNECTOR)
    assert after.last_run is not None
    assert after.last_run.id == dead
    assert after.last_run.outcome is RunOutcome.FAILED
    assert after.consecutive_failures == 1
    assert after.state is ConnectorState.FAILING
    assert after.running_on == "host-b:2"


def test_a_crash_loop_is_paused_by_alerting_at_the_claim_instead_of_run_again(
    database: Database,
) -> None:
    """Each run killed its process, so none reached the end where alerting is asked: the
    claim that closes the last one asks, and the connector is paused, not run again."""
    policy = AlertingSpec(flag_after_failures=2, pause_after_failures=2)
    now = datetime.now(UTC)
    for number, started in enumerate((now - timedelta(minutes=10), now - timedelta(minutes=5))):
        assert acquire_lease(database, CONNECTOR, f"host-{number}:1", now=started)
        start_run(database, CONNECTOR, now=started + timedelta(seconds=1))

    def run() -> RunReport:
        raise AssertionError("a paused connector's run started")

    assert run_leased(database, CONNECTOR, "host-9:9", run, alerting=policy) is None

    with database.transaction() as connection:
        paused = pause_state(connection, connector=CONNECTOR)
        outcomes = connection.execute(
            select(connector_runs.c.outcome).where(connector_runs.c.connector == CONNECTOR)
        ).all()
    assert paused is not None
    assert paused.by == ALERTING
    assert paused.reason.startswith("paused after 2 failed runs in a row: abandoned: ")
    assert outcomes == [(RunOutcome.FAILED.value,)] * 2
    assert _lease_owner(database) is None, "the lease given back"
    with database.transaction() as connection:
        assert leases.failures_in_a_row(connection, CONNECTOR) == 0, "its backoff untouched"


def test_a_run_still_going_writes_its_real_end_over_the_abandonment(
    database: Database,
) -> None:
    """Its process was cut off from the database for a whole lease, then finished."""
    run_id = _died_running(database)
    assert acquire_lease(database, CONNECTOR, "host-b:2", now=T0 + timedelta(seconds=90))

    finish_run(database, run_id, RunCounts(messages_read=1), now=T0 + timedelta(seconds=95))

    run = get_run(database, run_id)
    assert (run.outcome, run.error_message) == (RunOutcome.SUCCEEDED, None)


# --- end to end: a `hub serve` killed by SIGKILL in a run, the next process's claim ---

E2E_CONNECTOR = "gated-changes"
E2E_LEASE = 3.0
"""`hub serve --lease-seconds` of the process that is killed."""
EMPTY_PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ts:Changes xmlns:ts="urn:techniservice:repairs:v2" next="t1" more="false"/>'
)


@dataclass
class Partner:
    """A repairer's changes feed that holds every request until ``gate`` is set."""

    url: str = ""
    asked: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def partner() -> Iterator[Partner]:
    state = Partner()
    app = FastAPI()

    @app.get("/changes")
    async def changes() -> Response:
        state.asked.set()
        await asyncio.to_thread(state.gate.wait)
        return Response(EMPTY_PAGE, media_type="application/xml")

    with serving(app) as url:
        state.url = url
        yield state
        state.gate.set()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A private database of the test's own: a SQLite file, or a PostgreSQL database."""
    if request.param == "postgresql":
        with private_postgres_database(_postgres_base()) as url:
            yield url
        return
    yield f"sqlite:///{tmp_path / 'hub.db'}"


def _e2e_network(tmp_path: Path, partner_url: str) -> Path:
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: hub, role: hub, name: After-sales hub}}
  - {{id: techniservice, role: repairer, name: TechniService}}
connectors:
  - name: {E2E_CONNECTOR}
    partner: techniservice
    mapping: {ROOT / "mappings" / "techniservice.yaml"}
    message: changes
    transport:
      type: http-pull
      base_url: {partner_url}
      page_path: /changes
      cursor_param: since
      next_field: next
      more_field: more
    schedule: {{every: 1s}}
""",
        encoding="utf-8",
    )
    return path


def test_a_hub_killed_in_a_run_is_closed_by_the_next_processs_claim(
    tmp_path: Path, partner: Partner, database_url: str
) -> None:
    network = _e2e_network(tmp_path, partner.url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    env |= {"HUB_DATABASE_URL": database_url, "HUB_CONNECTORS": str(network)}
    cli = [sys.executable, str(ROOT / "cli.py")]

    def hub(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *arguments], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    for command in (["db", "upgrade"], ["up", "--network", str(network)]):
        assert hub(*command).returncode == 0
    log = (tmp_path / "serve.log").open("wb")
    victim = subprocess.Popen(
        [*cli, "serve", "--port", str(free_port()), "--lease-seconds", str(E2E_LEASE)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    database = Database(database_url)
    try:
        # A liveness bound, not a speed check: the process starts, then its first run
        # asks the partner, who holds the request: the run is open when it is killed.
        assert partner.asked.wait(timeout=120), "the connector's run never asked"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        partner.gate.set()
        with database.transaction() as connection:
            (dead,) = connection.execute(
                select(connector_runs.c.id, connector_runs.c.outcome).where(
                    connector_runs.c.connector == E2E_CONNECTOR
                )
            ).all()
            lease = connection.execute(
                select(connector_leases.c.owner, connector_leases.c.lease_until).where(
                    connector_leases.c.connector == E2E_CONNECTOR
                )
            ).one()
        assert dead.outcome == RunOutcome.RUNNING.value, "the killed run is left open"
        assert lease.owner.endswith(f":{victim.pid}")
        (seen,) = json.loads(hub("status", "--json").stdout)["connectors"]
        assert seen["last_run"]["outcome"] == "running", "before: shown running"

        # `hub run` takes the lease once it has run out (until then it says the
        # connector runs elsewhere), and closes the dead run as it takes it.
        while (ran := hub("run", E2E_CONNECTOR)).returncode != 0:
            assert "running in another hub process" in ran.stderr + ran.stdout, ran
            time.sleep(max(0.1, (lease.lease_until - datetime.now(UTC)).total_seconds()))

        shown = [
            json.loads(line) for line in hub("runs", E2E_CONNECTOR, "--json").stdout.splitlines()
        ]
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        log.close()
        database.dispose()
    after, before = shown
    assert after["outcome"] == "succeeded", "the next run read the partner"
    assert before["id"] == dead.id
    assert before["outcome"] == "failed"
    assert before["error_action"] == "retry"
    assert datetime.fromisoformat(before["finished_at"]) == lease.lease_until
    assert before["error_message"].startswith(
        f"abandoned: its process ({lease.owner}) stopped renewing the lease, which ran out at "
    )
    assert "; taken over by hub run:" in before["error_message"]
    (status,) = json.loads(hub("status", "--json").stdout)["connectors"]
    assert status["last_run"]["id"] == after["id"]
    assert status["last_run"]["outcome"] == "succeeded", "nothing shown running any more"
    assert status["running_on"] is None
