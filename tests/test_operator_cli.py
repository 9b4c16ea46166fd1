"""The operator commands, on both databases: in-process through typer's runner (the hub
takes seconds to start on a busy machine), and as a real process where what the operator
reads on screen or the exit code is the point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from typer.testing import CliRunner

from cli import app
from hub.errors import ConfigurationError, FatalError, HubError, Location, PartnerDataError
from hub.partners.leases import acquire_lease
from hub.partners.runs import RunCounts, finish_run, start_run
from hub.store.db import Database
from hub.store.runs import record_rejects
from hub.store.tables import connector_runs, outbox
from hub.sync.outbox import OutboxItem, enqueue

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = "atelier-dupont-status"


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


RUNNER = CliRunner()


def hub(database: Database, *args: str) -> Outcome:
    """In-process; a hub error ends the command as `main` ends it (exit 1, or 2 for config)."""
    env = {"HUB_CONNECTORS": str(ROOT / "connectors.yaml"), "HUB_DATABASE_URL": database.url}
    result = RUNNER.invoke(app, list(args), env=env)
    error = result.exception
    if isinstance(error, HubError):
        code = 2 if isinstance(error, ConfigurationError) else 1
        return Outcome(code, result.stdout, result.stderr + error.message)
    if error is not None and not isinstance(error, SystemExit):
        raise error
    return Outcome(result.exit_code, result.stdout, result.stderr)


def hub_process(database: Database, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `hub`, in its own process, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONNECTORS"] = str(ROOT / "connectors.yaml")
    env["HUB_DATABASE_URL"] = database.url
    env["COLUMNS"] = "250"
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _history(database: Database) -> tuple[int, int]:
    """A good run with a rejected row, then a failed run; returns both ids."""
    start = datetime.now(UTC) - timedelta(minutes=20)
    good = start_run(database, CONNECTOR, now=start)
    problem = PartnerDataError(
        "unknown date format",
        location=Location("STATUTS_1.csv", line=3, field="Date statut"),
        raw="AD-1;ME-000123;2026-13-45;09:00;REC",
    )
    with database.transaction() as connection:
        record_rejects(connection, CONNECTOR, [problem], run_id=good, message_id=None, now=start)
    finish_run(
        database,
        good,
        RunCounts(messages_seen=1, messages_read=1, records_read=40, events_stored=39, rejected=1),
        now=start + timedelta(seconds=3),
    )
    failed = start_run(database, CONNECTOR, now=start + timedelta(minutes=15))
    finish_run(
        database,
        failed,
        RunCounts(),
        error=FatalError("sftp: authentication failed"),
        now=start + timedelta(minutes=15, seconds=2),
    )
    return good, failed


def test_status_runs_and_rejects_as_json(database: Database) -> None:
    good, failed = _history(database)
    status = hub(database, "status", "--json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    names = [connector["name"] for connector in document["connectors"]]
    assert names[0] == CONNECTOR
    assert "bricomarket-nightly" in names
    mine = next(c for c in document["connectors"] if c["name"] == CONNECTOR)
    assert mine["state"] == "failing"
    assert mine["consecutive_failures"] == 1
    assert mine["last_run"]["id"] == failed
    assert mine["last_run"]["error_message"] == "sftp: authentication failed"
    assert mine["lag"] > 0
    assert document["outbox"] == {
        "pending": 0,
        "dead": 0,
        "delivered": 0,
        "oldest_pending_at": None,
        "by_target": {},
    }

    runs = json_lines(hub(database, "runs", CONNECTOR, "--json").stdout)
    assert [(run["id"], run["outcome"], run["replay"]) for run in runs] == [
        (failed, "failed", False),
        (good, "succeeded", False),
    ]
    assert runs[1]["counts"]["records_read"] == 40
    assert len(json_lines(hub(database, "runs", CONNECTOR, "--limit", "1", "--json").stdout)) == 1

    [reject] = json_lines(hub(database, "rejects", CONNECTOR, "--json").stdout)
    assert reject["raw"] == "AD-1;ME-000123;2026-13-45;09:00;REC"
    assert reject["reason"] == "unknown date format"
    assert (reject["line"], reject["run_id"]) == (3, good)

    table = hub_process(database, "status")
    assert table.returncode == 0, table.stderr
    assert CONNECTOR in table.stdout
    listed = hub_process(database, "runs", CONNECTOR)
    assert "succeeded with 1 reject" in listed.stdout  # never a bare "succeeded"
    assert "failing" in table.stdout
    readable = hub_process(database, "rejects", CONNECTOR)
    assert "2026-13-45" in readable.stdout
    assert "unknown date format" in readable.stdout


def test_pause_and_resume(database: Database) -> None:
    paused = hub(database, "pause", CONNECTOR, "--reason", "workshop moving servers", "--by", "ana")
    assert paused.returncode == 0, paused.stderr
    assert "paused by ana: workshop moving servers" in paused.stdout
    mine = next(
        c
        for c in json.loads(hub(database, "status", "--json").stdout)["connectors"]
        if c["name"] == CONNECTOR
    )
    assert (mine["state"], mine["paused_reason"], mine["paused_by"]) == (
        "paused",
        "workshop moving servers",
        "ana",
    )
    assert mine["next_run_at"] is None
    assert hub(database, "resume", CONNECTOR).returncode == 0
    again = hub(database, "resume", CONNECTOR)
    assert again.returncode == 1
    assert "is not paused" in again.stderr
    outbound = hub(database, "pause", "techniservice-orders", "--reason", "x")
    assert outbound.returncode == 1
    assert "only sends" in outbound.stderr


def test_a_run_by_hand_refuses_a_paused_connector_and_one_running_elsewhere(
    database: Database,
) -> None:
    assert hub(database, "pause", CONNECTOR, "--reason", "workshop moving servers").returncode == 0
    paused = hub(database, "run", CONNECTOR)
    assert paused.returncode == 1
    assert "is paused by" in paused.stderr
    assert f"hub resume {CONNECTOR}" in paused.stderr
    assert hub(database, "resume", CONNECTOR).returncode == 0
    assert acquire_lease(database, CONNECTOR, "serve-elsewhere:42")
    busy = hub(database, "run", CONNECTOR)
    assert busy.returncode == 1
    assert "running in another hub process" in busy.stderr
    with database.transaction() as connection:
        runs = connection.execute(select(func.count()).select_from(connector_runs)).scalar_one()
    assert runs == 0, "neither attempt started a run"


def test_unknown_connector_names_list_the_known_ones(database: Database) -> None:
    for args in (
        ("runs", "atelier"),
        ("rejects", "atelier"),
        ("pause", "atelier", "--reason", "x"),
    ):
        result = hub(database, *args)
        assert result.returncode == 1
        assert "no connector named 'atelier'" in result.stderr
        assert "atelier-dupont-status" in result.stderr
        assert "bricomarket-nightly" in result.stderr


def test_dead_letters_listed_and_retried(database: Database) -> None:
    items = [
        OutboxItem("colis-express-pickups", "pickup", f"pickup-{n}", {"n": n}, f"ME-00{n}")
        for n in range(3)
    ]
    with database.transaction() as connection:
        ids = enqueue(connection, items)
        connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids[:2]))
            .values(state="dead", attempts=8, last_error="TransientError: 503")
        )
    listed = json_lines(hub(database, "dead-letters", "--json").stdout)
    assert [(row["id"], row["last_error"]) for row in listed] == [
        (ids[0], "TransientError: 503"),
        (ids[1], "TransientError: 503"),
    ]
    one = hub(database, "dead-letters", "retry", str(ids[0]))
    assert one.returncode == 0, one.stderr
    assert [row["id"] for row in json_lines(hub(database, "dead-letters", "--json").stdout)] == [
        ids[1]
    ]
    assert hub(database, "dead-letters", "retry", "--all").returncode == 0
    assert json_lines(hub(database, "dead-letters", "--json").stdout) == []
    document = json.loads(hub(database, "status", "--json").stdout)
    assert document["outbox"]["pending"] == 3
    assert document["outbox"]["dead"] == 0
    neither = hub(database, "dead-letters", "retry")
    assert neither.returncode == 2
    assert "give a dead letter's ID, or --all" in neither.stderr


def test_replay_needs_a_message_or_a_connector_and_a_date(database: Database) -> None:
    bare = hub(database, "replay")
    assert bare.returncode == 2
    assert "--message ID, or --connector NAME with --since DATE" in bare.stderr
    naive = hub(database, "replay", "--connector", CONNECTOR, "--since", "2026-11-03T09:00")
    assert naive.returncode == 2
    assert "has no offset" in naive.stderr
    done = hub(database, "replay", "--connector", CONNECTOR, "--since", "2026-11-03", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["messages"] == []
    runs = json_lines(hub(database, "runs", CONNECTOR, "--json").stdout)
    assert [(run["id"], run["replay"]) for run in runs] == [(report["run_id"], True)]


def test_a_dead_letter_says_which_messages_wait_for_it(database: Database) -> None:
    """A rule's ``after``: the repair order waits for its pickup; the operator deciding
    on the dead pickup sees it, in the table and in JSON."""
    with database.transaction() as connection:
        pickup, order = enqueue(
            connection,
            [
                OutboxItem("colis-express-pickups", "pickup", "p-1", {}, "ME-000123"),
                OutboxItem(
                    "atelier-dupont-orders", "repair_order", "o-1", {}, "ME-000123", after="p-1"
                ),
            ],
        )
        connection.execute(
            update(outbox).where(outbox.c.id == pickup).values(state="dead", last_error="400")
        )
    [listed] = json_lines(hub(database, "dead-letters", "--json").stdout)
    assert (listed["id"], listed["holds_back"]) == (pickup, [order])
    table = hub(database, "dead-letters").stdout
    assert f"#{order} repair_order to atelier-dupont-orders" in table
