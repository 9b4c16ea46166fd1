"""Alembic migrations build exactly the tables the code declares, and undo cleanly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex

from hub.partners.leases import acquire_lease
from hub.partners.runs import RunOutcome, get_run
from hub.store.connector_health import last_received
from hub.store.db import Database, StoreConflict
from hub.store.migrate import current_revision, downgrade, head_revision, upgrade
from hub.store.runs import open_own_runs
from hub.store.tables import add_postgresql_predicates, metadata, partial_indexes


def _differences(database: Database) -> list[object]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_upgrade_builds_the_declared_schema(blank_database: Database) -> None:
    assert current_revision(blank_database) is None
    upgrade(blank_database)
    assert current_revision(blank_database) == head_revision(blank_database)
    assert _differences(blank_database) == []


def test_a_partial_index_has_one_predicate_on_both_databases(blank_database: Database) -> None:
    """Each partial index states its predicate once; PostgreSQL's copy is added where a
    PostgreSQL database is migrated (so that a SQLite hub never imports that dialect).
    Alembic does not compare predicates: the migrated indexes are checked here."""
    add_postgresql_predicates()
    add_postgresql_predicates()  # idempotent
    indexes = partial_indexes()
    assert len(indexes) == 9
    for index in indexes:
        on_postgresql = str(CreateIndex(index).compile(dialect=postgresql.dialect()))
        on_sqlite = str(CreateIndex(index).compile(dialect=sqlite.dialect()))
        assert " WHERE " in on_postgresql, on_postgresql
        assert on_postgresql.split(" WHERE ")[1] == on_sqlite.split(" WHERE ")[1]
    upgrade(blank_database)
    with blank_database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            found = connection.execute(text("SELECT indexname, indexdef FROM pg_indexes"))
        else:
            found = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
            )
        definitions = {name: sql for name, sql in found if sql}
    for index in indexes:
        assert " WHERE " in definitions[str(index.name)].upper(), definitions[str(index.name)]


def test_downgrade_to_base_and_back(blank_database: Database) -> None:
    upgrade(blank_database)
    downgrade(blank_database, "base")
    tables = set(inspect(blank_database.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade(blank_database)
    assert _differences(blank_database) == []


def test_upgrade_twice_is_harmless(blank_database: Database) -> None:
    upgrade(blank_database)
    upgrade(blank_database)
    assert current_revision(blank_database) == head_revision(blank_database)


def test_case_links_sort_existing_references_and_holders_out_of_the_events(
    blank_database: Database,
) -> None:
    """0007: a reference the partner reported with the case is the partner's, any other
    the retailer's; a partner that reported on a case holds it."""
    upgrade(blank_database, "0006")
    at = "2026-11-03 09:00:00+00:00"
    with blank_database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO parties (id, role, name) VALUES ('me', 'retailer', 'ME'), "
                "('ad', 'repairer', 'AD'), ('ts', 'repairer', 'TS')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cases (id, reference, retailer_id, document, content_hash, "
                "opened_at, created_at, updated_at) "
                "VALUES (1, 'ME-1', 'me', '{}', 'x', :at, :at, :at)"
            ),
            {"at": at},
        )
        connection.execute(
            text(
                "INSERT INTO case_references (case_id, party_id, reference) "
                "VALUES (1, 'ad', 'AD-1'), (1, 'ts', 'TS-1')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO events (event_id, case_id, case_ref, partner_ref, type, unmapped, "
                "occurred_at, occurred_offset_minutes, recorded_at, reported_by) VALUES "
                "('e1', 1, 'ME-1', 'AD-1', 'case_status', false, :at, 60, :at, 'ad'), "
                "('e2', 1, 'ME-1', NULL, 'case_status', false, :at, 60, :at, 'me')"
            ),
            {"at": at},
        )
    upgrade(blank_database)
    with blank_database.engine.connect() as connection:
        recorded = dict(
            connection.execute(text("SELECT party_id, recorded_by FROM case_references")).all()
        )
        holders = connection.execute(text("SELECT party_id, how FROM case_parties")).all()
    assert recorded == {"ad": "partner", "ts": "retailer"}
    assert [tuple(row) for row in holders] == [("ad", "report")]


def test_acknowledgements_keep_one_control_reference_per_connector(
    blank_database: Database,
) -> None:
    """0010: two acknowledgements of a connector never share a control reference; another
    connector counts on its own."""
    upgrade(blank_database, "0008")
    upgrade(blank_database)
    at = "2026-11-04 09:00:00+00:00"
    row = (
        "INSERT INTO acknowledgements (connector, control_reference, message_id, name, "
        "content, accepted, created_at) VALUES (:connector, :reference, 1, 'A.edi', "
        ":content, true, :at)"
    )
    with blank_database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO raw_messages (id, source, name, sha256, size, content, "
                "compression, received_at, meta) VALUES (1, 'c', 'IFTSTA.edi', 'x', 1, "
                ":content, 'none', :at, '{}')"
            ),
            {"content": b"x", "at": at},
        )
        for connector in ("c", "d"):
            connection.execute(
                text(row), {"connector": connector, "reference": 1, "content": b"U", "at": at}
            )
    with pytest.raises(StoreConflict), blank_database.engine.begin() as connection:
        connection.execute(text(row), {"connector": "c", "reference": 1, "content": b"U", "at": at})


def test_dead_letters_already_there_get_their_failure_kept(blank_database: Database) -> None:
    """0012: a message already dead when the hub is upgraded gets its failure, with its
    error and attempts, dated by its last attempt; others get none."""
    upgrade(blank_database, "0011")
    row = (
        "INSERT INTO outbox (id, target, kind, case_ref, ordering_key, idempotency_key, "
        "payload, created_at, state, attempts, next_attempt_at, last_error) VALUES "
        "(:id, 'carrier-pickups', 'pickup', 'ME-000123', 'ME-000123', :key, '{}', :at, "
        ":state, :attempts, :last, :error)"
    )
    created, last = "2026-11-04 09:00:00+00:00", "2026-11-04 10:00:00+00:00"
    with blank_database.engine.begin() as connection:
        for id_, state, attempts, error in (
            (1, "dead", 8, "400 Bad Request"),
            (2, "delivered", 1, None),
        ):
            connection.execute(
                text(row),
                {
                    "id": id_,
                    "key": f"k{id_}",
                    "at": created,
                    "state": state,
                    "attempts": attempts,
                    "last": last,
                    "error": error,
                },
            )
    upgrade(blank_database)
    with blank_database.engine.connect() as connection:
        kept = connection.execute(
            text("SELECT message_id, case_ref, error, attempts, resent_at FROM outbox_failures")
        ).all()
    assert [tuple(found) for found in kept] == [(1, "ME-000123", "400 Bad Request", 8, None)]


def test_runs_stuck_before_0022_are_found_by_the_index_of_open_runs(
    blank_database: Database,
) -> None:
    """0022: the records still marked running when the hub is upgraded (left by processes
    that died) are in the new index, and the first claim of their connector closes them."""
    upgrade(blank_database, "0021")
    row = (
        "INSERT INTO connector_runs (id, connector, started_at, finished_at, outcome, "
        "messages_seen, messages_read, records_read, events_stored, duplicates, unmapped, "
        "orphans, rejected) VALUES (:id, 'c', :started, :finished, :outcome, 0, 0, 0, 0, 0, "
        "0, 0, 0)"
    )
    with blank_database.engine.begin() as connection:
        for run_id, started, finished, outcome in (
            (1, "2026-11-04 09:00:00", None, "running"),
            (2, "2026-11-04 09:15:00", "2026-11-04 09:15:02", "succeeded"),
        ):
            connection.execute(
                text(row),
                {"id": run_id, "started": started, "finished": finished, "outcome": outcome},
            )
    upgrade(blank_database)

    with blank_database.engine.connect() as connection:
        indexes = {index["name"] for index in inspect(connection).get_indexes("connector_runs")}
        found = open_own_runs(connection, "c", before=datetime(2026, 12, 1, tzinfo=UTC))
    assert "ix_connector_runs_running" in indexes
    assert [run.id for run in found] == [1]
    assert acquire_lease(blank_database, "c", "host-1:1", now=datetime(2026, 12, 1, tzinfo=UTC))
    stuck = get_run(blank_database, 1)
    assert stuck.outcome is RunOutcome.FAILED
    assert stuck.finished_at == datetime(2026, 11, 4, 9, 15, tzinfo=UTC), "by the next run"
    downgrade(blank_database, "0021")
    with blank_database.engine.connect() as connection:
        indexes = {index["name"] for index in inspect(connection).get_indexes("connector_runs")}
    assert "ix_connector_runs_running" not in indexes


def test_messages_archived_before_0023_are_in_the_index_of_arrivals(
    blank_database: Database,
) -> None:
    """0023: the archive's messages already there are indexed by source and arrival, and
    the last arrivals read through it; the downgrade drops the index and keeps them."""
    upgrade(blank_database, "0022")
    row = (
        "INSERT INTO raw_messages (source, name, sha256, size, content, compression, "
        "received_at, meta) VALUES (:source, :name, :name, 1, :content, 'none', :at, '{}')"
    )
    with blank_database.engine.begin() as connection:
        for source, name, at in (
            ("push-a", "1", "2026-11-04 09:00:00+00:00"),
            ("push-a", "2", "2026-11-04 11:00:00+00:00"),
            ("push-a", "3", "2026-11-04 10:00:00+00:00"),
            ("push-b", "4", "2026-11-03 08:00:00+00:00"),
        ):
            connection.execute(
                text(row), {"source": source, "name": name, "content": b"x", "at": at}
            )
    upgrade(blank_database)

    def arrival_indexes() -> dict[str, list[str | None]]:
        with blank_database.engine.connect() as connection:
            found = inspect(connection).get_indexes("raw_messages")
        return {str(index["name"]): list(index["column_names"]) for index in found}

    assert arrival_indexes()["ix_raw_messages_source_received_at"] == ["source", "received_at"]
    with blank_database.engine.connect() as connection:
        last = last_received(connection, ["push-a", "push-b", "push-c"])
    assert last == {
        "push-a": datetime(2026, 11, 4, 11, tzinfo=UTC),
        "push-b": datetime(2026, 11, 3, 8, tzinfo=UTC),
    }
    downgrade(blank_database, "0022")
    assert "ix_raw_messages_source_received_at" not in arrival_indexes()
    with blank_database.engine.connect() as connection:
        kept = connection.execute(text("SELECT count(*) FROM raw_messages")).scalar_one()
    assert kept == 4
