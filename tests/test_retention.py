"""Retention: per kind, what is past its period goes, a batch per transaction, and what
the hub still needs stays whatever its age (an undelivered message, the events of an
open case, the archive of a message with rejected lines, each connector's last runs);
`hub retention --dry-run` says what would go; closed cases are anonymised after their
period. Both databases."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from cli import app
from hub.config.network import load_network
from hub.config.retention import RetentionSpec
from hub.errors import ConfigurationError, NotFoundError
from hub.model.personal_data import ERASED
from hub.operators.retention import apply_retention, retention_plan
from hub.operators.retention_plan import ANONYMISE, plan_of
from hub.partners.network import open_network
from hub.ports import MessageRef, RawMessage
from hub.retailers.erasure import erase_case
from hub.store import plain_reads
from hub.store.acknowledgements import owe, record_sent
from hub.store.archive import archive_message, message_content
from hub.store.cases import get_case, open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.migrate import upgrade
from hub.store.plain import PlainStore
from hub.store.plain_reads import retention_reads
from hub.store.retention import ConnectionRetentionReads
from hub.store.retention_rows import KINDS
from hub.store.tables import (
    connector_runs,
    events,
    feed_entries,
    file_warnings,
    outbox,
    raw_messages,
    rejects,
)
from tests.api_support import make_tenant
from tests.factories import case_event, make_case, register_network, stored_message
from tests.test_status import modules_loaded_by

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=2)
SPEC = RetentionSpec(
    raw_archive="180d",
    closed_case_events="300d",
    delivered_outbox="30d",
    run_records="90d",
    rejects="180d",
    file_warnings="180d",
    acknowledgements="90d",
    anonymise_closed_cases_after=None,
    batch_size=2,
)


def _message(database: Database, name: str, at: datetime) -> int:
    with database.transaction() as connection:
        raw = RawMessage(MessageRef(name), f"content of {name}".encode())
        return archive_message(connection, "retention-test", raw, now=at).id


def _outbox(database: Database, key: str, state: str, at: datetime, case_ref: str) -> None:
    stored_message(database, target="somewhere", key=key, state=state, at=at, case_ref=case_ref)


def _run(database: Database, connector: str, outcome: str, at: datetime) -> int:
    with database.transaction() as connection:
        return int(
            connection.execute(
                insert(connector_runs)
                .values(connector=connector, started_at=at, finished_at=at, outcome=outcome)
                .returning(connector_runs.c.id)
            ).scalar_one()
        )


def _reject(database: Database, message_id: int | None, at: datetime) -> None:
    with database.transaction() as connection:
        connection.execute(
            insert(rejects).values(
                connector="x",
                message_id=message_id,
                source="f.csv",
                reason="bad date",
                raw="a;b",
                created_at=at,
            )
        )


def _warning(database: Database, at: datetime, *, acknowledged: bool) -> None:
    with database.transaction() as connection:
        connection.execute(
            insert(file_warnings).values(
                connector="x",
                source="f.csv",
                kind="sequence_gap",
                reason="file 7 expected, 9 read",
                created_at=at,
                acknowledged_at=at if acknowledged else None,
            )
        )


def _closed_case(database: Database, reference: str, *, at: datetime) -> None:
    """A case opened, worked and closed on the given day."""
    with database.transaction() as connection:
        open_case(connection, make_case(reference, opened_at=at - timedelta(days=3)))
        append_events(
            connection,
            [
                case_event("received", at - timedelta(days=2), case_ref=reference),
                case_event("repaired", at - timedelta(days=1), case_ref=reference),
                case_event("closed", at, case_ref=reference),
            ],
        )


def _count(database: Database, table: object, *where: object) -> int:
    with database.transaction() as connection:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        for condition in where:
            query = query.where(condition)  # type: ignore[arg-type]
        return int(connection.execute(query).scalar_one())


@pytest.fixture
def populated(database: Database) -> Database:
    register_network(database)
    make_tenant(database, "maison-electro", "Maison Électro", "ME-")  # events feed it
    # raw archive: two old and free, one old with a rejected line, one recent
    for name in ("old-1", "old-2"):
        _message(database, name, OLD)
    _reject(database, _message(database, "old-rejected", OLD), RECENT)
    _message(database, "recent", RECENT)
    # outbox: old delivered ones go; old pending and dead ones stay
    for number in range(3):
        _outbox(database, f"delivered-{number}", "delivered", OLD, "ME-000001")
    _outbox(database, "pending", "pending", OLD, "ME-000001")
    _outbox(database, "dead", "dead", OLD, "ME-000001")
    _outbox(database, "delivered-recent", "delivered", RECENT, "ME-000001")
    # runs: the old success is the connector's last success, the old failure its last run
    _run(database, "a", "failed", OLD)
    _run(database, "a", "succeeded", OLD + timedelta(hours=1))
    _run(database, "a", "failed", OLD + timedelta(hours=2))
    _run(database, "b", "succeeded", OLD)
    _run(database, "b", "succeeded", RECENT)
    # rejects: one old without a message
    _reject(database, None, OLD)
    # file warnings: an old one acknowledged goes; an old one unseen and a recent one stay
    _warning(database, OLD, acknowledged=True)
    _warning(database, OLD, acknowledged=False)
    _warning(database, RECENT, acknowledged=True)
    # cases: closed long ago, closed long ago with a message still pending, still open
    _closed_case(database, "ME-000001", at=OLD)  # has pending and dead messages
    _closed_case(database, "ME-000002", at=OLD)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000003", opened_at=OLD))
        append_events(connection, [case_event("received", OLD, case_ref="ME-000003")])
    return database


def test_dry_run_counts_what_would_go_and_the_oldest_kept(populated: Database) -> None:
    plans = {plan.kind: plan for plan in retention_plan(populated, SPEC, now=NOW)}
    assert plans["raw_archive"].due == 2
    assert plans["raw_archive"].oldest_kept == OLD, "the rejected message's archive"
    assert plans["delivered_outbox"].due == 3
    assert plans["run_records"].due == 2, "a's first failure, b's old success"
    assert plans["rejects"].due == 1
    assert plans["file_warnings"].due == 1
    assert plans["file_warnings"].oldest_kept == OLD, "the warning not yet acknowledged"
    assert plans["closed_case_events"].due == 3, "ME-000002's opening, received, repaired"
    assert plans["acknowledgements"].due == 0
    assert plans["anonymise_closed_cases_after"].period is None


def test_retention_removes_what_is_due_in_batches_and_keeps_what_the_hub_needs(
    populated: Database,
) -> None:
    result = apply_retention(populated, SPEC, now=NOW)
    assert result.complete
    assert result.removed == {
        "raw_archive": 2,
        "closed_case_events": 3,
        "delivered_outbox": 3,
        "run_records": 2,
        "rejects": 1,
        "file_warnings": 1,
        "acknowledgements": 0,
    }
    with populated.transaction() as connection:
        kept = dict(
            connection.execute(select(raw_messages.c.name, raw_messages.c.compression)).all()
        )
        assert kept["old-rejected"] != "purged"
        assert kept["recent"] != "purged"
        assert kept["old-1"] == "purged", "the row stays, to recognise the file sent again"
        purged_id = connection.execute(
            select(raw_messages.c.id).where(raw_messages.c.name == "old-1")
        ).scalar_one()
        with pytest.raises(NotFoundError, match="past its retention"):
            message_content(connection, purged_id)
        states = sorted(connection.execute(select(outbox.c.idempotency_key)).scalars())
        assert states == ["dead", "delivered-recent", "pending"]
        runs = connection.execute(
            select(connector_runs.c.connector, connector_runs.c.outcome).order_by(
                connector_runs.c.id
            )
        ).all()
        assert [tuple(run) for run in runs] == [
            ("a", "succeeded"),
            ("a", "failed"),
            ("b", "succeeded"),
        ]
        closed = get_case(connection, "ME-000002")
        assert closed is not None
        assert closed.status is not None
        assert closed.status.value == "closed", "the case still reads closed"
    assert _count(populated, events, events.c.case_ref == "ME-000002") == 1
    assert _count(populated, file_warnings, file_warnings.c.acknowledged_at.is_(None)) == 1
    assert _count(populated, file_warnings) == 2
    assert _count(populated, feed_entries) == 4 + 2 + 1, "their feed entries went with them"
    assert _count(populated, events, events.c.case_ref == "ME-000001") == 4, "message pending"
    assert _count(populated, events, events.c.case_ref == "ME-000003") == 2, "case open"
    again = {plan.kind: plan.due for plan in retention_plan(populated, SPEC, now=NOW)}
    assert set(again.values()) == {0}


def test_closed_cases_are_anonymised_after_their_period(populated: Database) -> None:
    spec = SPEC.model_copy(update={"anonymise_closed_cases_after": "365d"})
    plans = {plan.kind: plan.due for plan in retention_plan(populated, spec, now=NOW)}
    assert plans["anonymise_closed_cases_after"] == 2
    result = apply_retention(populated, spec, now=NOW)
    assert sorted(result.anonymised) == ["ME-000001", "ME-000002"]
    with populated.transaction() as connection:
        for reference, erased in (("ME-000001", True), ("ME-000003", False)):
            record = get_case(connection, reference)
            assert record is not None
            assert (record.case.customer.name == ERASED) is erased, reference
    assert apply_retention(populated, spec, now=NOW).anonymised == [], "once"


def test_hub_retention_dry_run_on_the_command_line(populated: Database, tmp_path: Path) -> None:
    network = tmp_path / "connectors.yaml"
    network.write_text(
        "version: 1\nparties: []\nretention:\n  raw_archive: 180d\n  rejects: null\n",
        encoding="utf-8",
    )
    options = ["--database", populated.url, "--network", str(network)]
    result = CliRunner().invoke(app, ["retention", "--dry-run", "--json", *options])
    assert result.exit_code == 0, result.output
    lines = {line["kind"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert lines["raw_archive"]["would_go"] == 2
    assert lines["rejects"] == {
        "kind": "rejects",
        "period_days": None,
        "would_go": 0,
        "oldest_kept": OLD.isoformat(),
    }
    assert _count(populated, rejects) == 2, "a dry run removes nothing"
    applied = CliRunner().invoke(app, ["retention", *options])
    assert applied.exit_code == 0, applied.output
    assert "raw_archive: 2 removed" in applied.stdout
    assert _count(populated, rejects) == 2, "rejects are kept forever here"


def test_a_bad_retention_section_names_file_line_and_field(tmp_path: Path) -> None:
    network = tmp_path / "connectors.yaml"
    network.write_text(
        "version: 1\nparties: []\nretention:\n  raw_archive: 90 days\n  runs: 10d\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as error:
        load_network(network)
    message = str(error.value)
    assert f"{network}:4: retention.raw_archive:" in message
    assert f"{network}:5: retention.runs: Extra inputs are not permitted" in message


def test_the_job_runs_on_its_schedule_under_a_lease_one_process_at_a_time(
    populated: Database, tmp_path: Path
) -> None:
    from apscheduler.triggers.interval import IntervalTrigger

    from hub.bootstrap import Hub
    from hub.operators.retention import LEASE_NAME, retention_leased
    from hub.partners.connectors import open_network
    from hub.partners.leases import acquire_lease, release_lease

    network_file = tmp_path / "connectors.yaml"
    network_file.write_text(
        "version: 1\nparties: []\nretention: {every: 30m, raw_archive: 180d}\n",
        encoding="utf-8",
    )
    with Hub(populated, open_network(network_file), owner="this-process:1") as hub:
        job = {job.id: job for job in hub.scheduler().get_jobs()}[LEASE_NAME]
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == timedelta(minutes=30)

        assert acquire_lease(populated, LEASE_NAME, "other-process:2")
        assert hub.jobs.apply_retention() is None, "another process holds it"
        assert _count(populated, raw_messages, raw_messages.c.compression == "purged") == 0
        release_lease(populated, LEASE_NAME, "other-process:2", None)
        result = hub.jobs.apply_retention()
        assert result is not None
        assert result.removed["raw_archive"] == 2
    assert retention_leased(populated, SPEC, "x:3", lease=timedelta(seconds=60)) is not None, (
        "the lease was released after the run"
    )


def _more_to_count(database: Database) -> None:
    """Beside ``populated``: acknowledgements put long ago, lately and still owed; cases
    closed at other times, one of them erased; rows right on a day's boundary and with
    microseconds, for the cutoffs to fall on."""
    message = _message(database, "acknowledged", OLD)
    with database.transaction() as connection:
        for reference, at in ((1, OLD), (2, OLD + timedelta(days=1)), (3, RECENT), (4, None)):
            owed = owe(
                connection,
                "alpes-fret-orders",
                control_reference=reference,
                message_id=message,
                name=f"CONTRL-{reference}",
                content=b"UNB",
                accepted=True,
                now=OLD,
            )
            if at is not None:
                record_sent(connection, owed, now=at)
    _closed_case(database, "ME-000004", at=NOW - timedelta(days=100))
    _closed_case(database, "ME-000005", at=NOW - timedelta(days=500, microseconds=250))
    _closed_case(database, "ME-000006", at=OLD)
    erase_case(database, "ME-000006", by="operator:test", now=RECENT)
    _reject(database, None, OLD + timedelta(microseconds=1))
    _warning(database, OLD - timedelta(days=50), acknowledged=True)


FOREVER = RetentionSpec(**dict.fromkeys((*KINDS, "anonymise_closed_cases_after"), None))
DAILY = RetentionSpec(**dict.fromkeys(KINDS, "1d") | {"anonymise_closed_cases_after": "1d"})
MOMENTS = [
    NOW,
    NOW - timedelta(days=300),
    NOW + timedelta(days=200),
    NOW + timedelta(days=900),
    OLD + timedelta(days=1),  # DAILY's cutoff on OLD itself: not before it
    OLD + timedelta(days=1, microseconds=1),  # a microsecond after: before it
    OLD + timedelta(days=1, microseconds=2),
]


def test_the_dry_run_counts_the_same_both_ways_at_several_instants(populated: Database) -> None:
    """Issue 17: `hub retention --dry-run` reads through hub.store.plain; on the same
    data, at cutoffs before, between and after every row (some a microsecond apart), its
    figures are those of the `Database`'s reads."""
    _more_to_count(populated)
    anonymising = SPEC.model_copy(update={"anonymise_closed_cases_after": "365d"})
    seen: dict[tuple[str, int], list[int]] = {}
    with PlainStore(populated.engine.url.render_as_string(hide_password=False)) as store:
        for number, spec in enumerate((SPEC, anonymising, FOREVER, DAILY)):
            for moment in MOMENTS:
                with retention_reads(store) as reads:
                    plain = plan_of(reads, spec, moment)
                assert plain == retention_plan(populated, spec, now=moment), (spec, moment)
                seen[(f"spec {number}", MOMENTS.index(moment))] = [plan.due for plan in plain]
    # kinds: raw, closed events, outbox, runs, rejects, warnings, acknowledgements, cases
    assert seen[("spec 1", 0)] == [2, 10, 3, 2, 2, 2, 2, 3], "ME-000006 is erased already"
    assert seen[("spec 0", 0)][-1] == 0, "no anonymisation in SPEC"
    assert seen[("spec 1", 3)] == [3, 13, 4, 2, 3, 3, 3, 4], "everything past its period"
    assert {tuple(due) for key, due in seen.items() if key[0] == "spec 2"} == {(0,) * 8}
    assert seen[("spec 3", 4)] == [0, 3, 0, 0, 0, 1, 0, 1], "cutoff on OLD: only before it"
    assert seen[("spec 3", 5)] == [2, 10, 3, 2, 1, 2, 1, 3], "a microsecond after OLD"
    assert seen[("spec 3", 6)] == [2, 10, 3, 2, 2, 2, 1, 3], "the reject at OLD + 1 µs"


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_hub_retention_dry_run_says_the_same_as_through_the_database(
    populated: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    """The command's output, byte for byte, with its reads on the plain store and with
    the `Database`'s reads in their place."""
    _more_to_count(populated)
    network = tmp_path / "connectors.yaml"
    network.write_text(
        "version: 1\nparties: []\nretention:\n  raw_archive: 180d\n  rejects: null\n"
        "  closed_case_events: 300d\n  anonymise_closed_cases_after: 365d\n",
        encoding="utf-8",
    )
    arguments = ["retention", "--dry-run", "--database", populated.url, "--network", str(network)]
    arguments += ["--json"] if as_json else []
    plain = CliRunner().invoke(app, arguments)
    assert plain.exit_code == 0, plain.output

    @contextmanager
    def through_the_database(_store: PlainStore) -> Iterator[ConnectionRetentionReads]:
        yield ConnectionRetentionReads(populated)

    monkeypatch.setattr(plain_reads, "retention_reads", through_the_database)
    database = CliRunner().invoke(app, arguments)
    assert database.exit_code == 0, database.output
    assert plain.stdout == database.stdout
    assert "anonymise_closed_cases_after" in plain.stdout


def test_hub_retention_dry_run_imports_no_sqlalchemy(tmp_path: Path) -> None:
    """Issue 17: the dry run counts through hub.store.plain, with the network checked
    afresh or kept; `hub retention` itself (it writes) stays on the `Database`."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(Database(url))
    environ = {**os.environ, "HUB_DATABASE_URL": url, "HUB_CACHE_DIR": str(tmp_path / "kept")}
    environ.pop("HUB_HOME", None)
    heavy: tuple[str, ...] = ("sqlalchemy", "hub.store.db", "hub.store.tables")
    for turn in ("network checked and kept", "network kept"):
        loaded = modules_loaded_by(["retention", "--dry-run"], environ, tmp_path / "m.txt")
        assert "hub.store.plain" in loaded, turn
        found = sorted(name for name in loaded if name.split(".")[0] in heavy or name in heavy)
        assert found == [], f"{turn}: {found}"
        heavy += ("pydantic", "hub.config.retention")  # the periods from the kept outline
    applying = modules_loaded_by(["retention"], environ, tmp_path / "m.txt")
    assert "hub.store.db" in applying


@pytest.mark.parametrize(
    "section",
    ["", "retention:\n  raw_archive: 12h\n  rejects: null\n  anonymise_closed_cases_after: 2d\n"],
    ids=["defaults", "written"],
)
def test_the_network_outline_gives_every_kind_the_section_s_period(
    tmp_path: Path, section: str
) -> None:
    """The dry run takes its periods from the network's kept outline (no pydantic): for
    every kind, the period the validated section gives, defaults and nulls included."""
    network_file = tmp_path / "connectors.yaml"
    network_file.write_text(f"version: 1\nparties: []\n{section}", encoding="utf-8")
    network = open_network(network_file)
    outline = network.outline()
    for kind in (*KINDS, ANONYMISE):
        assert outline.period(kind) == network.config.retention.period(kind), kind
    assert [kind for kind, _ in outline.retention] == [*KINDS, ANONYMISE]
    with pytest.raises(KeyError, match="every"):
        outline.period("every")
