"""`hub status` reads every connector's own runs in one statement, and the push
connectors' last arrivals in one more (issue 17, thirteenth pass): the same status as the
reads one connector at a time it replaced, on SQLite and PostgreSQL, through SQLAlchemy
and through the plain reads, whatever the number of connectors or the history's length."""

from __future__ import annotations

import random
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from hub.errors import TransientError
from hub.operators.status import (
    ConnectorState,
    NetworkStatus,
    network_status,
    outline_of,
    plain_network_status,
    status_of,
)
from hub.partners.alerts import pause_connector, resume_connector
from hub.partners.leases import acquire_lease
from hub.partners.network import open_network
from hub.partners.runs import ReplayMark, RunCounts, finish_run, start_run
from hub.ports import MessageRef, RawMessage
from hub.store import plain_sql
from hub.store.archive import archive_message
from hub.store.connector_health import ConnectionStatusReads
from hub.store.db import Database
from hub.store.health_rows import OwnRunSummary, StatusReads
from hub.store.plain import PlainStore
from hub.store.plain_reads import status_reads
from hub.store.run_rows import run_record
from hub.store.runs import push_window_run
from hub.store.tables import connector_leases, connector_runs, raw_messages, replays

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


# --- the reads one connector at a time, worked out from every row ---------------------


def _one_by_one(database: Database) -> tuple[dict[str, OwnRunSummary], dict[str, datetime]]:
    """What the reads of before gave, connector by connector, worked out here from every
    row by their definitions: the latest own run by start then id, the end of the latest
    successful one, the failed own runs since the last success's start and the last
    resume; when the archive last stored a message from each source."""
    with database.reading() as connection:
        rows = connection.execute(select(connector_runs)).all()
        replayed = set(connection.execute(select(replays.c.run_id)).scalars())
        resets = dict(
            connection.execute(
                select(connector_leases.c.connector, connector_leases.c.failures_reset_at)
            ).all()
        )
        arrivals = connection.execute(select(raw_messages.c.source, raw_messages.c.received_at))
        received: dict[str, datetime] = {}
        for source, at in arrivals:
            received[source] = max(at, received.get(source, at))
    own: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        if row.id not in replayed:
            own[row.connector].append(row)
    summaries = {}
    for name, runs in own.items():
        runs.sort(key=lambda run: (run.started_at, run.id))
        succeeded = [run for run in runs if run.outcome == "succeeded"]
        since = max((run.started_at for run in succeeded), default=None)
        reset = resets.get(name)
        failures = sum(
            1
            for run in runs
            if run.outcome == "failed"
            and (since is None or run.started_at > since)
            and (reset is None or run.started_at >= reset)
        )
        success_at = succeeded[-1].finished_at if succeeded else None
        summaries[name] = OwnRunSummary(run_record(runs[-1]), success_at, failures)
    return summaries, received


class _OneByOneReads:
    """The status's reads with its runs and arrivals as `_one_by_one` works them out; the
    rest (leases, codes, warnings, outbox) as the store reads them."""

    def __init__(
        self,
        one_by_one: tuple[dict[str, OwnRunSummary], dict[str, datetime]],
        reads: StatusReads,
    ) -> None:
        self._reads = reads
        self._summaries, self._received = one_by_one

    def lease_states(self) -> Any:
        return self._reads.lease_states()

    def unmapped_codes_by_source(self) -> dict[str, int]:
        return self._reads.unmapped_codes_by_source()

    def open_warning_counts(self) -> dict[str, int]:
        return self._reads.open_warning_counts()

    def outbox_counts_by_target(self) -> dict[str, dict[str, int]]:
        return self._reads.outbox_counts_by_target()

    def oldest_pending_at(self) -> datetime | None:
        return self._reads.oldest_pending_at()

    def own_run_summaries(self, connectors: Sequence[str]) -> dict[str, OwnRunSummary]:
        return {name: self._summaries[name] for name in connectors if name in self._summaries}

    def last_received(self, sources: Sequence[str]) -> dict[str, datetime]:
        return {name: self._received[name] for name in sources if name in self._received}


def _one_by_one_status(database: Database, now: datetime) -> NetworkStatus:
    outline = outline_of(open_network(ROOT / "connectors.yaml"))
    one_by_one = _one_by_one(database)  # a unit of its own, not one inside the status's
    with database.reading() as connection:
        reads = _OneByOneReads(one_by_one, ConnectionStatusReads(connection))
        return status_of(reads, outline, now=now)


# --- a network's history of every kind -------------------------------------------------


def _run(
    database: Database,
    connector: str,
    started: datetime,
    error: str | None = None,
    *,
    replay: ReplayMark | None = None,
) -> int:
    run_id = start_run(database, connector, now=started, replay=replay)
    counts = RunCounts(messages_read=1, records_read=4, rejected=1, unmapped=2)
    failed = TransientError(error) if error else None
    finish_run(database, run_id, counts, error=failed, now=started + timedelta(seconds=9))
    return run_id


def _insert_runs(database: Database, rows: list[dict[str, Any]]) -> None:
    with database.transaction() as connection:
        connection.execute(insert(connector_runs), rows)


def _history_of_every_kind(database: Database) -> None:
    """Runs of every outcome, failures in a row after a success, without any success and
    across a resume, a run abandoned by a dead owner and closed by the next claim, a live
    run, replays (the latest run one of them; a connector with replays only), hours of
    pushes, a push connector that only received, ties on the start, a never-run
    connector, a connector the network no longer names and an outbound one with a run."""
    dupont, start = "atelier-dupont-status", NOW - 300 * MINUTE
    _run(database, dupont, start)
    for number in range(1, 4):
        _run(database, dupont, start + number * 10 * MINUTE, "partner timed out")
    _run(database, dupont, start + 50 * MINUTE, "replayed", replay=ReplayMark(None, start, "ops"))

    for number in range(3):  # never a success
        _run(database, "alpes-fret-status", start + number * MINUTE, "refused")

    changes = "techniservice-changes"
    _run(database, changes, start)
    _run(database, changes, start + MINUTE, "refused")
    _run(database, changes, start + 2 * MINUTE, "refused")
    pause_connector(database, changes, reason="looked at", by="ops", now=start + 3 * MINUTE)
    resume_connector(database, changes, now=start + 4 * MINUTE)
    _run(database, changes, start + 4 * MINUTE, "refused")  # at the resume: counted

    answers = "pieces-plus-answers"  # a dead owner's run, closed by the next claim
    assert acquire_lease(database, answers, "host-a:1", now=start)
    start_run(database, answers, now=start + MINUTE)
    assert acquire_lease(database, answers, "host-b:2", now=start + 30 * MINUTE)
    assert acquire_lease(database, "elec-distrib-events", "host-c:3", now=NOW)
    start_run(database, "elec-distrib-events", now=NOW - MINUTE)  # live
    _run(database, "relais-direct-tracking", start, replay=ReplayMark(None, start, "ops"))

    with database.transaction() as connection:
        for hour in range(3):
            window = start + hour * 60 * MINUTE
            push_window_run(connection, "colis-express-push", window, window + 5 * MINUTE)
        for number, source in enumerate(("colis-express-push", "relais-direct-push") * 2):
            at = start + (number * 50 + 7) * MINUTE
            message = RawMessage(MessageRef(f"push-{number}", 2, at), b"{%d}" % number)
            archive_message(connection, source, message, now=at)

    parcels, tie = "colis-express-parcels", start + 100 * MINUTE
    common = {"messages_read": 0, "records_read": 0, "rejected": 0, "unmapped": 0,
              "error_message": None}  # fmt: skip
    _insert_runs(
        database,
        [
            {"connector": parcels, "started_at": tie, "finished_at": tie + MINUTE,
             "outcome": "succeeded", **common},
            {"connector": parcels, "started_at": tie, "finished_at": tie + 2 * MINUTE,
             "outcome": "failed", **common, "error_message": "same start, later id"},
            {"connector": parcels, "started_at": tie - MINUTE, "finished_at": tie,
             "outcome": "succeeded", **common},
        ],
    )  # fmt: skip
    _run(database, "bricomarket-nightly", start)
    _run(database, "retired-connector", start, "gone")
    _run(database, "techniservice-orders", start, "an outbound connector runs no pulls")


def test_every_connector_s_runs_read_at_once_say_what_the_reads_one_by_one_said(
    database: Database,
) -> None:
    network = open_network(ROOT / "connectors.yaml")
    with PlainStore(_url(database)) as store:
        empty = network_status(database, network, now=NOW)
        assert empty == _one_by_one_status(database, NOW), "an empty store"
        assert plain_network_status(store, network, now=NOW) == empty
        _history_of_every_kind(database)
        for now in (NOW, NOW + 7 * MINUTE, NOW + timedelta(days=2)):
            found = network_status(database, network, now=now)
            assert found == _one_by_one_status(database, now)
            assert plain_network_status(store, network, now=now) == found
    status = {connector.name: connector for connector in found.connectors}
    last = {name: shown.last_run for name, shown in status.items() if shown.last_run}
    dupont = status["atelier-dupont-status"]
    assert (dupont.state, dupont.consecutive_failures) == (ConnectorState.FAILING, 3)
    assert last[dupont.name].error_message == "partner timed out", "the replay after is not"
    assert dupont.last_success_at == NOW - 300 * MINUTE + timedelta(seconds=9)
    never = status["alpes-fret-status"]
    assert (never.consecutive_failures, never.last_success_at) == (3, None)
    assert status["techniservice-changes"].consecutive_failures == 1, "the resume counts again"
    assert (last["pieces-plus-answers"].error_message or "").startswith("abandoned:")
    assert status["pieces-plus-answers"].consecutive_failures == 1
    assert last["elec-distrib-events"].outcome.value == "running"
    assert status["relais-direct-tracking"].state is ConnectorState.NEVER_RUN, "replays only"
    assert status["repar-ouest-status"].state is ConnectorState.NEVER_RUN
    start = NOW - 300 * MINUTE
    assert status["colis-express-push"].last_success_at == start + 125 * MINUTE, "its last hour"
    assert "relais-direct-push" not in last
    assert status["relais-direct-push"].last_success_at == start + 157 * MINUTE, "received"
    assert last["colis-express-parcels"].outcome.value == "failed", "the same start, a later id"
    assert status["colis-express-parcels"].consecutive_failures == 0, "not after the success"
    assert "techniservice-orders" not in last
    assert "retired-connector" not in status


def _random_history(database: Database, seed: int) -> None:
    """Eight connectors' runs drawn at random: outcomes, replays, starts that tie, a
    resume now and then, some connectors without runs."""
    draw = random.Random(seed)
    names = ["atelier-dupont-status", "repar-ouest-status", "pieces-plus-answers",
             "techniservice-changes", "colis-express-push", "colis-express-parcels",
             "alpes-fret-status", "bricomarket-nightly"]  # fmt: skip
    rows = []
    for name in draw.sample(names, 6):
        for _ in range(draw.randint(1, 40)):
            started = NOW - draw.randint(0, 30) * MINUTE
            outcome = draw.choice(("succeeded", "failed", "failed", "running"))
            rows.append(
                {"connector": name, "started_at": started, "outcome": outcome,
                 "finished_at": None if outcome == "running" else started + MINUTE,
                 "messages_read": 0, "records_read": draw.randint(0, 9), "rejected": 0,
                 "unmapped": 0}
            )  # fmt: skip
    _insert_runs(database, rows)
    with database.transaction() as connection:
        ids = list(connection.execute(select(connector_runs.c.id)).scalars())
        chosen = draw.sample(ids, len(ids) // 5)
        if chosen:
            connection.execute(
                insert(replays), [{"run_id": run_id, "requested_by": "ops"} for run_id in chosen]
            )
        for name in draw.sample(names, 3):
            connection.execute(
                insert(connector_leases),
                {"connector": name, "failures": 0,
                 "failures_reset_at": NOW - draw.randint(0, 30) * MINUTE},
            )  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_histories_drawn_at_random_are_summed_up_as_one_by_one(
    database: Database, seed: int
) -> None:
    _random_history(database, seed)
    expected, _ = _one_by_one(database)
    names = [*expected, "never-ran"]
    with database.transaction() as connection:
        assert ConnectionStatusReads(connection).own_run_summaries(names) == expected
    with PlainStore(_url(database)) as store, status_reads(store) as reads:
        assert reads.own_run_summaries(names) == expected
        assert reads.own_run_summaries([]) == {}
    assert network_status(database, open_network(ROOT / "connectors.yaml"), now=NOW) == (
        _one_by_one_status(database, NOW)
    )


@contextmanager
def _statements_counted(database: Database) -> Iterator[list[str]]:
    run: list[str] = []

    def counted(*args: Any) -> None:
        run.append(args[2])

    event.listen(database.engine, "before_cursor_execute", counted)
    try:
        yield run
    finally:
        event.remove(database.engine, "before_cursor_execute", counted)


def test_the_status_runs_as_many_statements_for_any_number_of_connectors(
    database: Database,
) -> None:
    """Seven statements: leases, codes, warnings, the outbox's two, the runs, the pushes'
    arrivals; none more for a connector with runs."""
    network = open_network(ROOT / "connectors.yaml")
    with _statements_counted(database) as before:
        network_status(database, network, now=NOW)
    _history_of_every_kind(database)
    with _statements_counted(database) as after:
        network_status(database, network, now=NOW)
    assert len(before) == len(after) == 7, after


def test_sqlite_reads_the_runs_through_the_indexes_not_the_history(tmp_path: Path) -> None:
    """The plan on SQLite: every read of connector_runs is an index search, the failed
    runs in a row a range from the last success; never a scan of the history."""
    from hub.store.migrate import upgrade
    from hub.store.plain import _expanded

    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(database)
    query = plain_sql.OWN_RUN_SUMMARIES
    sql, params = _expanded(
        query.sqlite, {**query.params, "connectors": ["a", "b"]}, "connectors", postgresql=False
    )
    with sqlite3.connect(tmp_path / "hub.db") as connection:
        plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    database.dispose()
    runs = [step for step in plan if "connector_runs" in step or "_runs " in step]
    assert runs, plan
    assert all(step.startswith("SEARCH") for step in runs), plan
    assert any(step.startswith("SEARCH failed_runs") and "started_at>?" in step for step in plan)


# --- the push connectors' last arrivals --------------------------------------------------


def _arrived(database: Database, source: str, number: int, at: datetime) -> None:
    with database.transaction() as connection:
        message = RawMessage(MessageRef(f"push-{number}", 2, at), b"{%d}" % number)
        archive_message(connection, source, message, now=at)


def _last_received_both_ways(database: Database, sources: list[str]) -> dict[str, datetime]:
    with database.transaction() as connection:
        found = ConnectionStatusReads(connection).last_received(sources)
    with PlainStore(_url(database)) as store, status_reads(store) as reads:
        assert reads.last_received(sources) == found
    return found


def test_each_source_s_last_arrival_is_its_own_whatever_else_the_archive_holds(
    database: Database,
) -> None:
    """Sources interleaved in the archive, asked in any order (twice, too); a name that is
    the start of another; the latest arrival stored before earlier ones (by arrival, not
    by id); two messages of a source arriving at once, and two sources' last arrivals at
    the same instant; sources asked with no message, a source with messages not asked;
    none asked; an empty archive."""
    asked = ["relais-direct-push", "colis-express-push", "relais-direct", "never-pushed",
             "a-first", "zz-last"]  # fmt: skip
    assert _last_received_both_ways(database, asked) == {}, "an empty archive"
    start = NOW - 60 * MINUTE
    arrivals = [
        ("colis-express-push", start),
        ("relais-direct-push", start + MINUTE),
        ("colis-express-push", start + 9 * MINUTE),
        ("colis-express-push", start + 3 * MINUTE),  # stored after the latest
        ("relais-direct-push", start + 9 * MINUTE),  # the same instant as colis-express's
        ("relais-direct-push", start + 9 * MINUTE),  # and as its own other message
        ("relais-direct", start + 2 * MINUTE),
        ("pulled-not-asked", start + 30 * MINUTE),
        ("a-first", start + 4 * MINUTE),
        ("zz-last", start - MINUTE),
    ]
    for number, (source, at) in enumerate(arrivals):
        _arrived(database, source, number, at)
    expected = {
        "colis-express-push": start + 9 * MINUTE,
        "relais-direct-push": start + 9 * MINUTE,
        "relais-direct": start + 2 * MINUTE,
        "a-first": start + 4 * MINUTE,
        "zz-last": start - MINUTE,
    }
    assert _last_received_both_ways(database, asked) == expected
    assert _last_received_both_ways(database, asked[::-1] + asked) == expected
    assert _last_received_both_ways(database, ["zz-last"]) == {"zz-last": start - MINUTE}
    assert _last_received_both_ways(database, ["relais-direct"]) == {
        "relais-direct": start + 2 * MINUTE
    }
    assert _last_received_both_ways(database, ["never-pushed", "zzz"]) == {}
    assert _last_received_both_ways(database, []) == {}
    _, one_by_one = _one_by_one(database)
    assert expected == {name: at for name, at in one_by_one.items() if name in asked}


def _archived_pushes(database: Database, sources: list[str], numbers: range) -> None:
    rows = [
        {"source": source, "name": f"push-{number}", "sha256": f"{number:064x}", "size": 2,
         "content": b"{}", "compression": "none", "received_at": NOW + number * MINUTE,
         "meta": {}}
        for source in sources
        for number in numbers
    ]  # fmt: skip
    with database.transaction() as connection:
        connection.execute(insert(raw_messages), rows)


def _sqlite_steps(path: str, sql: str, params: dict[str, Any]) -> int:
    """How many instructions of its virtual machine SQLite runs for the statement (a
    progress handler called at each): what it reads, whatever the machine's load."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    with closing(sqlite3.connect(path)) as connection:
        connection.set_progress_handler(count, 1)
        connection.execute(sql, params).fetchall()
    return steps


def test_the_last_arrivals_are_read_through_the_index_not_the_archive(database: Database) -> None:
    """A step of the index on source and arrival for each source of the archive and each
    source asked, never the sources' messages: SQLite runs as many instructions for 2 x
    3,010 archived messages as for 2 x 10, searching that index only; PostgreSQL, with
    the statistics of 2 x 3,010, reads index entries a row at a time (the latest arrival
    backward) and aggregates nothing."""
    from hub.store.plain import _expanded

    sources = ["colis-express-push", "relais-direct-push"]
    postgresql = database.engine.dialect.name == "postgresql"
    query = plain_sql.LAST_RECEIVED
    sql, params = _expanded(
        query.postgresql if postgresql else query.sqlite,
        {**query.params, "sources": [*sources, "never-pushed"]},
        "sources",
        postgresql=postgresql,
    )
    index = "ix_raw_messages_source_received_at"
    _archived_pushes(database, sources, range(10))
    if postgresql:
        _archived_pushes(database, sources, range(10, 3_010))
        # Run (ANALYZE): without, PostgreSQL 15 leaves the recursive step's subquery out.
        explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)"
        with database.transaction() as connection:
            connection.exec_driver_sql("ANALYZE raw_messages")
            found = connection.exec_driver_sql(f"{explain} {sql}", params).scalars()
            plan = [str(line).strip() for line in found]
        scans = [line for line in plan if " on raw_messages" in line]
        assert len(scans) == 3, plan
        assert all("Index Only Scan" in line for line in scans), plan
        assert all(re.search(r"actual rows=[01] ", line) for line in scans), plan
        assert any(line.startswith(f"->  Index Only Scan Backward using {index}") for line in scans)
        assert not any("Aggregate" in line or "Sort" in line for line in plan), plan
    else:
        path = str(database.engine.url.database)
        few = _sqlite_steps(path, sql, params)
        _archived_pushes(database, sources, range(10, 3_010))
        assert _sqlite_steps(path, sql, params) == few
        with closing(sqlite3.connect(path)) as connection:
            found = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = [str(row[3]) for row in found]
        archive = [line for line in plan if "raw_messages" in line or "later" in line]
        assert len(archive) == 3, plan
        assert all(line.startswith("SEARCH") and f"COVERING INDEX {index}" in line
                   for line in archive), plan  # fmt: skip
    assert _last_received_both_ways(database, sources) == dict.fromkeys(
        sources, NOW + 3_009 * MINUTE
    )
