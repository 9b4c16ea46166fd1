"""The store read without SQLAlchemy (hub.store.plain, issue 17 tenth pass): its SQL is the
store's statements compiled again, its URLs are the `Database`'s, and each read gives what
the store's own read gives, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import String, bindparam, cast, func, insert, select, update
from sqlalchemy.engine import make_url

from hub.bootstrap import require_schema
from hub.errors import ConfigurationError, Location, NotFoundError, PartnerDataError, TransientError
from hub.operators.listings import recent_file_warnings, recent_rejects, recent_runs, replay_run_ids
from hub.operators.overview import overview, plain_overview
from hub.operators.status import ConnectorState, network_status, plain_network_status
from hub.partners.alerts import pause_connector
from hub.partners.network import open_network
from hub.partners.network_cache import CACHE_DIR_VARIABLE, read_outline
from hub.partners.runs import ReplayMark, RunCounts, finish_run, start_run
from hub.ports import MessageRef, RawMessage
from hub.retailers.erasure import erase_case
from hub.store import (
    case_links,
    case_search,
    erasure,
    file_warnings,
    leases,
    migrate,
    plain_reads,
    unmapped,
    urls,
)
from hub.store.archive import archive_message
from hub.store.cases import case_id_of, case_state, open_case
from hub.store.db import Database
from hub.store.event_rows import row_to_event
from hub.store.events import append_events
from hub.store.plain import PlainStore
from hub.store.plain_statements import GENERATED, generated_module, query_of
from hub.store.runs import record_rejects
from hub.store.stored_events import stored_event
from hub.store.tables import case_references, outbox, rejects
from hub.store.types import UtcDateTime
from hub.sync import outbox as sync_outbox
from hub.sync.outbox import OutboxItem, enqueue
from tests.factories import case_event, make_case, register_network
from tests.test_rules_over_rows import state_facts
from tests.test_status import ROOT, modules_loaded_by


def test_the_generated_sql_is_what_the_store_s_statements_compile_to() -> None:
    """One source for each statement: the store's. A changed statement fails here until
    the module is generated again."""
    assert GENERATED.read_text(encoding="utf-8") == generated_module(), (
        "hub/store/plain_sql.py differs from the store's statements: "
        "run `python -m hub.store.plain_statements` and commit it"
    )


URLS = [
    "sqlite:///hub.db",
    "sqlite:////var/lib/hub/hub.db",
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///file:hub.db?mode=ro&uri=true",
    "sqlite+pysqlite:///a%20b.db",
    "sqlite:///hub.db?timeout=5",
    "postgresql://hub:s3cr%40t@db.example:5432/hub",
    "postgres://hub@db/hub",
    "postgresql+psycopg://hub:pw@[::1]:5433/hub?sslmode=require&application_name=x",
    "postgresql://hub:p%2Fw@/hub?host=/run/postgresql",
    "postgresql://u@h/d?a=1&a=2&b=",
    "postgresql://h:/d",
    "mysql://x@y/z",
    "nonsense",
    "postgresql://h:port/d",
    "",
]


def _engine_reading(url: str) -> tuple[str, str, str | None] | str:
    """What SQLAlchemy's URL reading made of ``url`` (the `Database` before this pass)."""
    try:
        parsed = make_url(url)
        if parsed.drivername in {"postgresql", "postgres"}:
            parsed = parsed.set(drivername="postgresql+psycopg")
        normal = parsed.render_as_string(hide_password=False)
        again = make_url(normal)
    except Exception as error:  # noqa: BLE001 - the refusal's words are compared
        return str(error)
    name = again.database
    plain = again.get_backend_name() == "sqlite" and name and name != ":memory:"
    file = name if plain and name and not name.startswith("file:") else None
    return normal, again.render_as_string(hide_password=True), file


def _hub_reading(url: str) -> tuple[str, str, str | None] | str:
    try:
        normal = urls.normalise_url(url)
    except ValueError as error:
        return str(error)
    file = urls.sqlite_file(normal)
    return normal, urls.safe_url(normal), None if file is None else str(file)


@pytest.mark.parametrize("url", URLS)
def test_a_url_is_read_as_the_engine_reads_it(url: str) -> None:
    assert _hub_reading(url) == _engine_reading(url)


def test_a_url_the_plain_reads_do_not_open_is_refused_as_the_database_refuses_it() -> None:
    for url in ("mysql://x@y/z", "nonsense"):
        with pytest.raises(ConfigurationError) as database_said:
            Database(url)
        with pytest.raises(ConfigurationError) as plain_said:
            PlainStore(url)
        assert plain_said.value.message == database_said.value.message


def _url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def test_the_revision_is_read_the_same_both_ways(database: Database) -> None:
    with PlainStore(_url(database)) as store:
        assert store.dialect == database.dialect
        assert store.safe_url() == database.safe_url()
        assert store.sqlite_file() == database.sqlite_file()
        assert plain_reads.current_revision(store) == migrate.current_revision(database)
        assert plain_reads.head_revision(store) == migrate.head_revision(database)
        assert plain_reads.current_revision(store) is not None
        plain_reads.require_schema(store)


def test_a_database_without_the_schema_is_refused_the_same_both_ways(
    blank_database: Database,
) -> None:
    with pytest.raises(ConfigurationError) as database_said:
        require_schema(blank_database)
    with PlainStore(_url(blank_database)) as store:
        with pytest.raises(ConfigurationError) as plain_said:
            plain_reads.require_schema(store)
        assert plain_said.value.message == database_said.value.message
        assert plain_reads.current_revision(store) is None
        assert migrate.current_revision(blank_database) is None
        with pytest.raises(ConfigurationError) as plain_said:  # the file is there now
            plain_reads.require_schema(store)
    with pytest.raises(ConfigurationError) as database_said:
        require_schema(blank_database)
    assert plain_said.value.message == database_said.value.message
    assert "has no hub schema" in plain_said.value.message


def test_a_missing_file_and_an_unreachable_server_are_said_the_same_both_ways(
    tmp_path: Path,
) -> None:
    missing = f"sqlite:///{tmp_path / 'nowhere.db'}"
    with pytest.raises(ConfigurationError) as database_said:
        require_schema(Database(missing))
    with pytest.raises(ConfigurationError) as plain_said:
        plain_reads.require_schema(PlainStore(missing))
    assert plain_said.value.message == database_said.value.message
    assert not (tmp_path / "nowhere.db").exists()
    closed = "postgresql://hub:secret@127.0.0.1:9/hub?connect_timeout=2"
    with pytest.raises(TransientError) as database_said:
        require_schema(Database(closed))
    with pytest.raises(TransientError) as plain_said:
        plain_reads.require_schema(PlainStore(closed))
    assert plain_said.value.message == database_said.value.message
    assert "secret" not in plain_said.value.message


def test_a_url_with_driver_options_is_read_through_the_database_s_connection(
    tmp_path: Path,
) -> None:
    """An in-memory database, or SQLite options in the URL: the engine opens it (its
    settings, its refusals) and the same statements run on its driver connection."""
    path = tmp_path / "hub.db"
    migrate.upgrade(Database(f"sqlite:///{path}"))
    with PlainStore(f"sqlite:///{path}?timeout=5") as store:
        assert plain_reads.current_revision(store) == plain_reads.head_revision(store)
    with PlainStore("sqlite://") as store:
        assert store.sqlite_file() is None
        assert plain_reads.current_revision(store) is None


NOW = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)


def test_dead_letters_and_what_they_hold_back_are_read_the_same_both_ways(
    database: Database,
) -> None:
    items = [
        OutboxItem("techniservice-orders", "repair_order", "k-1", {"n": 1, "é": [True]}, "ME-1"),
        OutboxItem("techniservice-orders", "repair_order", "k-2", {"n": 2}, "ME-2"),
        OutboxItem("webhook:bm", "case_changed", "k-3", {"n": 3}),
        OutboxItem("techniservice-orders", "repair_order", "k-4", {"n": 4}, "ME-1", after="k-1"),
        OutboxItem("webhook:bm", "case_changed", "k-5", {}, "ME-3", after="k-3"),
    ]
    with database.transaction() as connection:
        ids = enqueue(connection, items, now=NOW)
        connection.execute(
            update(outbox)
            .where(outbox.c.id.in_([ids[0], ids[2]]))
            .values(state="dead", attempts=8, last_error="HTTP 503", lease_until=NOW)
        )
    with PlainStore(_url(database)) as store:
        for target in (None, "techniservice-orders", "webhook:bm", "nobody"):
            letters = sync_outbox.dead_letters(database, target)
            held = sync_outbox.held_back_by(database, letters)
            assert plain_reads.dead_letters(store, target) == (letters, held)
        letters, held = plain_reads.dead_letters(store)
    assert [letter.id for letter in letters] == [ids[0], ids[2]]
    assert letters[0].payload == {"n": 1, "é": [True]}
    assert letters[0].created_at == NOW
    assert letters[0].created_at.tzinfo is UTC
    assert letters[0].lease_until == NOW
    assert [message.id for message in held[ids[0]]] == [ids[3]]


def _events_of_every_kind(database: Database) -> None:
    """Linked and unlinked events, mapped and not, by two parties, one replayed."""
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
        message = archive_message(
            connection,
            "atelier-dupont-status",
            RawMessage(MessageRef("STATUS_1.csv", 10, NOW), b"raw bytes"),
            now=NOW,
        )
        hour = timedelta(hours=1)
        append_events(
            connection,
            [
                case_event("received", NOW - 3 * hour, code="REC"),
                case_event(None, NOW - 3 * hour, code="ZZ1"),
                case_event(None, NOW - 2 * hour, code="ZZ1", recorded_at=NOW),
                case_event(None, NOW - hour, code="QQ9", case_ref="ME-000777"),
                case_event("received", NOW - hour, case_ref="ME-000778", by="techniservice"),
                case_event(None, NOW, case_ref="ME-000779", by="techniservice", code="X"),
            ],
            message_id=message.id,
        )


def test_unlinked_events_are_read_the_same_both_ways(database: Database) -> None:
    _events_of_every_kind(database)
    with PlainStore(_url(database)) as store:
        for party, limit in ((None, 200), ("techniservice", 200), ("atelier-dupont", 1), ("x", 5)):
            with database.transaction() as connection:
                expected = case_links.unlinked_events(connection, party=party, limit=limit)
            assert plain_reads.unlinked_events(store, party=party, limit=limit) == expected
        found = plain_reads.unlinked_events(store)
    assert [event.case_ref for event in found] == ["ME-000779", "ME-000778", "ME-000777"]
    assert found[0].occurred_at == NOW
    assert found[0].occurred_at.tzinfo is UTC
    assert found[0].reason == "no case ME-000779 yet: it links when the case is opened"


def test_unmapped_codes_are_read_the_same_both_ways(database: Database) -> None:
    _events_of_every_kind(database)
    with database.transaction() as connection:
        expected = unmapped.unmapped_codes(connection)
    with PlainStore(_url(database)) as store:
        found = plain_reads.unmapped_codes(store)
    assert found == expected
    assert [(code.reported_by, code.raw_code, code.count) for code in found] == [
        ("atelier-dupont", "ZZ1", 2),
        ("atelier-dupont", "QQ9", 1),
        ("techniservice", "X", 1),
    ]
    assert found[0].last_seen == NOW
    assert found[0].first_seen.tzinfo is UTC


def test_the_overview_is_read_the_same_both_ways(database: Database) -> None:
    with PlainStore(_url(database)) as store:
        assert plain_overview(store) == overview(database)  # nothing stored yet
        _events_of_every_kind(database)
        with database.transaction() as connection:
            enqueue(connection, [OutboxItem("techniservice-orders", "o", "k", {})], now=NOW)
        found = plain_overview(store)
    assert found == overview(database)
    assert (found.events, found.unmapped_events, found.orphan_events) == (7, 4, 3)
    assert found.outbox_by_state == {"pending": 1}
    assert found.schema_up_to_date


def test_an_overview_of_a_database_without_the_schema_says_so_both_ways(
    blank_database: Database,
) -> None:
    with PlainStore(_url(blank_database)) as store:
        assert plain_overview(store) == overview(blank_database)
        assert plain_overview(store).schema_revision is None


def test_a_case_is_shown_the_same_both_ways(database: Database) -> None:
    """`hub cases show`'s reads: the stored spelling of a reference, the timeline, the
    partners' references and the erasure, on the same data both ways."""
    _events_of_every_kind(database)
    with database.transaction() as connection:
        case_id = case_id_of(connection, "ME-000123")
        assert case_id is not None
        connection.execute(
            insert(case_references).values(
                case_id=case_id, party_id="atelier-dupont", reference="AD-7", recorded_by="partner"
            )
        )
    with PlainStore(_url(database)) as store:
        for typed in ("ME-000123", "me-000123 ", "", "ME-000999"):
            with database.transaction() as connection:
                expected = case_search.stored_reference(connection, typed)
            assert plain_reads.stored_reference(store, typed) == expected
        view = plain_reads.case_view(store, "ME-000123", row_to_event)
        with database.transaction() as connection:
            assert view.state == case_state(connection, "ME-000123")
            assert view.references == case_links.references_of_case(connection, "ME-000123")
        assert view.erasure is None
        erase_case(database, "ME-000123", by="ticket-1", now=NOW)
        view = plain_reads.case_view(store, "ME-000123", row_to_event)
        rows = plain_reads.case_view(store, "ME-000123", stored_event)
        with database.transaction() as connection:
            stored = case_state(connection, "ME-000123")
            assert view.state == stored
            assert state_facts(rows.state) == state_facts(stored)
            assert view.erasure == erasure.erasure_of(connection, case_id)
            assert (rows.references, rows.erasure) == (view.references, view.erasure)
        with pytest.raises(NotFoundError, match="no case ME-000999"):
            plain_reads.case_view(store, "ME-000999", stored_event)
    assert [kept.reference for kept in view.references] == ["AD-7"]
    assert view.erasure is not None
    assert view.erasure.requested_at == NOW
    offsets = [event.occurred_at.utcoffset() for event in view.state.timeline]
    assert offsets == [event.occurred_at.utcoffset() for event in stored.timeline]
    assert timedelta(hours=1) in offsets  # the partner's offset, kept: not UTC's


def test_cases_show_imports_no_sqlalchemy(tmp_path: Path) -> None:
    """Issue 17: `hub cases show` reads through hub.store.plain (its table reads stored
    rows, without pydantic either: tests/test_status.py; `--json` writes the model's)."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    database = Database(url)
    migrate.upgrade(database)
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    environ = {**os.environ, "HUB_DATABASE_URL": url, "COLUMNS": "200"}
    environ.pop("HUB_HOME", None)
    loaded = modules_loaded_by(["cases", "show", "me-000123"], environ, tmp_path / "m.txt")
    assert "hub.store.plain" in loaded
    unused = ("sqlalchemy", "hub.store.db", "hub.store.tables", "alembic")
    assert sorted(name for name in loaded if name.split(".")[0] in unused or name in unused) == []


def _a_network_at_work(database: Database) -> None:
    """Connectors in every state the status tells: failing after a success (a replay
    beside), paused, running on a host, backing off, a push received, unmapped codes,
    file warnings open and acknowledged, messages pending and dead."""
    _events_of_every_kind(database)  # unmapped codes on atelier-dupont-status
    minute = timedelta(minutes=1)
    for started, error, replay in (
        (NOW - 120 * minute, None, None),
        (NOW - 30 * minute, "timeout", None),
        (NOW - 10 * minute, None, ReplayMark(None, NOW - 200 * minute, "ops")),
    ):
        run_id = start_run(database, "atelier-dupont-status", now=started, replay=replay)
        counts = RunCounts(messages_read=1, records_read=12, rejected=2, unmapped=3)
        finish_run(
            database,
            run_id,
            counts,
            error=TransientError(error) if error else None,
            now=started + timedelta(seconds=20),
        )
    for started in (NOW - 40 * minute, NOW - 20 * minute):
        run_id = start_run(database, "techniservice-changes", now=started)
        finish_run(database, run_id, RunCounts(), error=TransientError("refused"), now=started)
    pause_connector(database, "repar-ouest-status", reason="partner asked", by="ops", now=NOW)
    with database.transaction() as connection:
        leases.claim(
            connection,
            "pieces-plus-answers",
            "host-1",
            now=NOW,
            until=NOW + 5 * minute,
            ignore_backoff=True,
        )
        leases.claim(
            connection,
            "techniservice-changes",
            "host-2",
            now=NOW,
            until=NOW + minute,
            ignore_backoff=True,
        )
        leases.release(
            connection, "techniservice-changes", "host-2", failures=2, not_before=NOW + 9 * minute
        )
        archive_message(
            connection,
            "colis-express-push",
            RawMessage(MessageRef("push-1", 3, NOW - 5 * minute), b"{}"),
            now=NOW - 5 * minute,
        )
        for reason in ("gap 4-6", "gap 8-9", "gap 11-12"):
            file_warnings.record_warning(
                connection,
                "relais-direct-tracking",
                kind="sequence",
                reason=reason,
                source="T.csv",
                message_id=None,
                run_id=None,
                now=NOW,
            )
            if reason == "gap 4-6":
                file_warnings.acknowledge_warnings(connection, "relais-direct-tracking", now=NOW)
        ids = enqueue(
            connection,
            [OutboxItem("techniservice-orders", "repair_order", f"s-{n}", {}) for n in range(3)],
            now=NOW - 5 * minute,
        )
        connection.execute(update(outbox).where(outbox.c.id == ids[0]).values(state="dead"))


def test_the_network_s_status_is_read_the_same_both_ways(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both reads, and the network's outline as `hub status` takes it (kept, then read
    back from its file: issue 17, twelfth pass) against the whole network."""
    network = open_network(ROOT / "connectors.yaml")
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / "kept"))
    read_outline(ROOT / "connectors.yaml")
    kept = read_outline(ROOT / "connectors.yaml")
    with PlainStore(_url(database)) as store:
        assert plain_network_status(store, network, now=NOW) == network_status(
            database, network, now=NOW
        ), "an empty store"
        assert plain_network_status(store, kept, now=NOW) == network_status(
            database, network, now=NOW
        )
        _a_network_at_work(database)
        for now in (NOW, NOW + timedelta(minutes=7), NOW + timedelta(days=1)):
            found = plain_network_status(store, network, now=now)
            assert found == network_status(database, network, now=now)
            assert plain_network_status(store, kept, now=now) == found
        shown = plain_network_status(store, network, now=NOW)
    assert found.outbox.oldest_pending_at == NOW - timedelta(minutes=5)
    assert found.outbox.oldest_pending_at.tzinfo is UTC
    states = {status.name: status.state for status in found.connectors}
    assert states["atelier-dupont-status"] is ConnectorState.FAILING
    assert states["repar-ouest-status"] is ConnectorState.PAUSED
    assert states["techniservice-changes"] is ConnectorState.FAILING  # its backoff is over
    assert states["techniservice-orders"] is ConnectorState.FAILING
    dupont = shown.connector("atelier-dupont-status")
    assert (dupont.consecutive_failures, dupont.unmapped_codes) == (1, 3), "no replay counted"
    assert dupont.last_success_at == NOW - timedelta(minutes=120) + timedelta(seconds=20)
    assert shown.connector("pieces-plus-answers").running_on == "host-1"
    assert shown.connector("techniservice-changes").state is ConnectorState.BACKING_OFF
    assert shown.connector("colis-express-push").last_success_at == NOW - timedelta(minutes=5)
    assert shown.connector("relais-direct-tracking").file_warnings == 2


def test_hub_status_imports_no_sqlalchemy(tmp_path: Path) -> None:
    """Issue 17, eleventh pass: `hub status` reads the store through hub.store.plain, with
    the network kept or read afresh."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate.upgrade(Database(url))
    environ = {**os.environ, "HUB_DATABASE_URL": url, "HUB_CACHE_DIR": str(tmp_path / "kept")}
    environ.pop("HUB_HOME", None)
    for turn in ("network checked and kept", "network kept"):
        loaded = modules_loaded_by(["status"], environ, tmp_path / "modules.txt")
        assert "hub.operators.status" in loaded, turn
        heavy = sorted(
            name
            for name in loaded
            if name.split(".")[0] == "sqlalchemy" or name in {"hub.store.db", "hub.store.tables"}
        )
        assert heavy == [], f"{turn}: {heavy}"


def test_runs_rejects_and_file_warnings_are_read_the_same_both_ways(database: Database) -> None:
    _a_network_at_work(database)
    run_id = start_run(database, "atelier-dupont-status", now=NOW)
    problems = [
        PartnerDataError(
            "date 31/02/2026 does not exist",
            location=Location("STATUS_1.csv", line=7, field="date"),
            raw="ME-000123;REC;31/02/2026",
        ),
        PartnerDataError("no case", location=Location("STATUS_2.csv")),
    ]
    with database.transaction() as connection:
        record_rejects(
            connection, "atelier-dupont-status", problems, run_id=run_id, message_id=None, now=NOW
        )
    with PlainStore(_url(database)) as store:
        for connector in (
            "atelier-dupont-status",
            "techniservice-changes",
            "relais-direct-tracking",
            "x",
        ):
            for limit in (1, 2, 100):
                runs = recent_runs(database, connector, limit)
                replays = replay_run_ids(database, [run.id for run in runs])
                assert plain_reads.recent_runs(store, connector, limit) == (runs, replays)
                assert plain_reads.recent_rejects(store, connector, limit=limit) == recent_rejects(
                    database, connector, limit=limit
                )
                assert plain_reads.recent_file_warnings(
                    store, connector, limit=limit
                ) == recent_file_warnings(database, connector, limit=limit)
        runs, replays = plain_reads.recent_runs(store, "atelier-dupont-status", 10)
        [first, second] = plain_reads.recent_rejects(store, "atelier-dupont-status", limit=5)
        warnings = plain_reads.recent_file_warnings(store, "relais-direct-tracking", limit=5)
    assert runs[0].id == run_id
    assert len(runs) == 4
    assert len(replays) == 1, "the replay among them, said so"
    assert runs[1].started_at.tzinfo is UTC
    assert (first.line, first.field, first.raw) in {
        (7, "date", "ME-000123;REC;31/02/2026"),
        (None, None, None),
    }
    assert {first.source, second.source} == {"STATUS_1.csv", "STATUS_2.csv"}
    assert [warning.acknowledged_at is None for warning in warnings].count(True) == 2


MICROSECOND = timedelta(microseconds=1)
INSTANTS = [
    datetime(2026, 11, 24, 10, 0, tzinfo=UTC),  # no microseconds
    datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 11, 24, 11, 0, 0, 500, tzinfo=timezone(timedelta(hours=1))),  # another zone
    datetime(2026, 3, 29, 3, 30, 1, tzinfo=ZoneInfo("Europe/Paris")),  # the day clocks go on
    datetime(2026, 11, 24, 4, 29, 59, 999999, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
]
AT = bindparam("at")
EXACT = select(rejects.c.id, rejects.c.created_at).where(rejects.c.created_at == AT)
BEFORE = select(func.count()).select_from(rejects).where(rejects.c.created_at < AT)
AMONG = select(rejects.c.id).where(rejects.c.created_at.in_(bindparam("ats", expanding=True)))
BOUND = select(cast(bindparam("at", type_=UtcDateTime()), String))
"""What the database was given for the instant, as its text."""


def test_an_instant_is_bound_as_the_column_type_binds_it_on_either_database(
    database: Database,
) -> None:
    """Issue 17: a plain statement's instant parameter (``binds``, from the generator) is
    written as SQLAlchemy's UtcDateTime writes it: in UTC, and on SQLite in its text
    with every microsecond, so that the same rows compare equal, before and after."""
    with database.transaction() as connection:
        for number, instant in enumerate(INSTANTS):
            connection.execute(
                insert(rejects).values(
                    connector="x", source="f.csv", reason=f"r{number}", raw="", created_at=instant
                )
            )
    exact, before, among, bound = (query_of(q) for q in (EXACT, BEFORE, AMONG, BOUND))
    assert exact.binds == before.binds == bound.binds == (("at", "instant"),)
    assert among.binds == (("ats", "instant"),)
    with PlainStore(_url(database)) as store, store.reading() as reader:
        with database.transaction() as connection:
            for instant in INSTANTS:
                found = [tuple(row) for row in connection.execute(EXACT, {"at": instant})]
                assert reader.rows(exact, at=instant) == found
                assert [stored for _, stored in found] == [instant], "its own row, once"
                assert found[0][1].tzinfo is UTC
                for moment in (instant - MICROSECOND, instant, instant + MICROSECOND):
                    counted = connection.execute(BEFORE, {"at": moment}).scalar_one()
                    assert reader.rows(before, at=moment) == [(counted,)]
                given = connection.execute(BOUND, {"at": instant}).scalar_one()
                assert reader.rows(bound, at=instant) == [(given,)]
            ids = sorted(connection.execute(AMONG, {"ats": INSTANTS[1:3]}).scalars())
            assert sorted(id_ for (id_,) in reader.rows(among, ats=INSTANTS[1:3])) == ids
            assert len(ids) == 2
        with pytest.raises(ValueError, match="naive datetime"):
            reader.rows(exact, at=datetime(2026, 11, 24, 10, 0))
        assert reader.rows(bound, at=None) == [(None,)]
    if database.dialect == "sqlite":
        assert given == "2026-11-24 09:59:59.999999"  # the last instant, in UTC
