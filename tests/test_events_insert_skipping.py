"""The events' insert skips the ids stored already in one pass (issue 17, seventeenth
pass): on SQLite a statement's rows go in skipping conflicts, and when fewer went in
than were given, the new ones are read back as the newest rows. What it returns and
stores is what the plain insert, aborted and run again skipping conflicts, gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import hub.store.bulk
from hub.model.event import Event
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.tables import events, feed_entries
from tests.factories import case_event, make_case, register_network
from tests.statements import Ran, recorded

AT = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
STATUSES = ["received", "diagnosing", "in_repair", "repaired", "return_in_transit", "delivered"]


def _events(count: int, *, start: int = 0) -> list[Event]:
    """``count`` events of one case an hour apart, each its own id."""
    return [
        case_event(STATUSES[number % len(STATUSES)], AT + timedelta(hours=number))
        for number in range(start, start + count)
    ]


def _open_case(database: Database) -> None:
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))


def _stored(database: Database) -> list[tuple[Any, ...]]:
    """The partner's events' rows in recording order (the case's opening left out), a
    feed entry for each."""
    partner = events.c.reported_by == "atelier-dupont"
    with database.transaction() as connection:
        rows = connection.execute(
            select(events.c.event_id, events.c.status, events.c.occurred_at, events.c.case_id)
            .where(partner)
            .order_by(events.c.seq)
        ).all()
        feed = connection.execute(
            select(events.c.event_id)
            .join(feed_entries, feed_entries.c.event_seq == events.c.seq)
            .where(partner)
            .order_by(feed_entries.c.event_seq)
        ).all()
    assert [row[0] for row in feed] == [row[0] for row in rows], "one feed entry an event"
    return [tuple(row) for row in rows]


def _inserts(ran: list[Ran]) -> list[str]:
    """The statements of ``ran`` that inserted into ``events``."""
    return [r.sql for r in ran if r.sql.startswith(("INSERT INTO events", "COPY events"))]


@pytest.mark.parametrize("per_statement", [500, 2], ids=["one-statement", "statements-of-2"])
def test_only_the_new_ids_are_returned_in_order_and_stored_once(
    database: Database, monkeypatch: pytest.MonkeyPatch, per_statement: int
) -> None:
    monkeypatch.setattr(hub.store.bulk, "SQLITE_ROWS_PER_STATEMENT", per_statement)
    _open_case(database)
    first = _events(3)
    later = _events(3, start=3)
    with database.transaction() as connection:
        result = append_events(connection, first)
    assert result.stored_ids == [e.id for e in first]
    # Stored ids first, between and last: the new ones come back in the batch's order.
    batch = [first[1], later[0], first[0], later[1], later[2], first[2]]
    with recorded(database) as ran, database.transaction() as connection:
        result = append_events(connection, batch)
    assert result.stored_ids == [e.id for e in later]
    assert result.stored == 3
    assert result.duplicates == 3
    if database.dialect == "sqlite":  # each statement once: none aborted and run again
        assert len(_inserts(ran)) == -(-len(batch) // per_statement)
    rows = _stored(database)
    assert [row[0] for row in rows] == [e.id for e in first + later]
    assert [row[1] for row in rows] == [e.status.value for e in first + later if e.status]


def test_a_batch_stored_whole_already_adds_nothing(database: Database) -> None:
    _open_case(database)
    batch = _events(4)
    with database.transaction() as connection:
        append_events(connection, batch)
    before = _stored(database)
    with database.transaction() as connection:
        result = append_events(connection, list(reversed(batch)))
    assert result.stored_ids == []
    assert result.duplicates == 4
    assert _stored(database) == before


def test_a_new_batch_is_stored_whole_by_one_statement(database: Database) -> None:
    _open_case(database)
    batch = _events(5)
    with recorded(database) as ran, database.transaction() as connection:
        result = append_events(connection, batch)
    assert result.stored_ids == [e.id for e in batch]
    assert len(_inserts(ran)) == 1
    assert [row[0] for row in _stored(database)] == [e.id for e in batch]


def test_a_row_broken_otherwise_still_fails_and_stores_nothing(database: Database) -> None:
    """A conflict on the id is skipped; any other broken constraint (here a case that
    does not exist) still fails the statement, and the transaction rolls back whole."""
    _open_case(database)
    stored = _events(1)
    with database.transaction() as connection:
        append_events(connection, stored)
    before = _stored(database)
    with pytest.raises(IntegrityError), database.transaction() as connection:
        hub.store.bulk.insert_events(
            connection, stored + _events(2, start=1), [None, 999_999, None], message_id=None
        )
    assert _stored(database) == before
