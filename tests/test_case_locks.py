"""The cases' locks the sync rules and corrections take, and the cases they read at once,
on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.model import Case
from hub.store.cases import get_case, get_cases, lock_cases, open_case
from hub.store.db import Database
from hub.store.tables import cases
from tests.factories import make_case, register_network
from tests.locks import assert_case_held

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ("ME-000201", "ME-000202", "BM-000203")


@pytest.fixture
def opened(database: Database) -> Database:
    register_network(database)
    with database.transaction() as connection:
        for reference in REFERENCES:
            open_case(connection, make_case(reference))
    return database


def test_cases_read_at_once_are_those_read_one_by_one(opened: Database) -> None:
    with opened.transaction() as connection:
        read = get_cases(connection, [*REFERENCES, "ME-999999", REFERENCES[0]])
        one_by_one = {reference: get_case(connection, reference) for reference in REFERENCES}
        assert get_cases(connection, []) == {}
    assert read == one_by_one
    assert "ME-999999" not in read


def test_every_field_of_the_shipped_cases_reads_back_as_one_by_one(opened: Database) -> None:
    """The cases read at once are validated from their documents' JSON text, those read
    one by one from the decoded document: the fixtures' every field (amounts, instants
    with their offsets, addresses) gives the same case either way."""
    fixtures = sorted((ROOT / "fixtures/cases").glob("*.json"))
    shipped = [Case.model_validate_json(path.read_bytes()) for path in fixtures]
    with opened.transaction() as connection:
        for case in shipped:
            open_case(connection, case)
        references = [case.reference for case in shipped]
        read = get_cases(connection, references)
        one_by_one = {reference: get_case(connection, reference) for reference in references}
    assert len(read) == len(shipped) == 3
    assert read == one_by_one
    assert [read[case.reference].case for case in shipped] == shipped


def test_locking_cases_changes_no_row(opened: Database) -> None:
    with opened.transaction() as connection:
        before = connection.execute(select(cases).order_by(cases.c.id)).all()
        lock_cases(connection, [REFERENCES[1], REFERENCES[0]])
        lock_cases(connection, [])
        assert connection.execute(select(cases).order_by(cases.c.id)).all() == before


def test_a_locked_case_keeps_a_concurrent_writer_out_until_the_commit(opened: Database) -> None:
    """SQLite: the database's one writer lock; PostgreSQL: the named cases' row locks
    (a case not named stays free)."""
    with opened.transaction() as connection:
        lock_cases(connection, [REFERENCES[0]])
        assert_case_held(opened, REFERENCES[0], free=REFERENCES[1])
    # Committed: the lock is gone.
    with opened.transaction() as connection:
        lock_cases(connection, [REFERENCES[0]])
