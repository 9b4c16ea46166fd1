"""Two writers on one database, interleaved between a unit of work's first read and its
first write: what the unit read must still hold when it writes, on SQLite and PostgreSQL.

SQLite's Python driver began a transaction only at its first INSERT, UPDATE or DELETE
(its legacy transaction control): the reads before it ran outside the transaction, each
in its own snapshot, so another writer could commit in between and the unit wrote from
what it had read, stale (issue 17, seventeenth pass)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta

import pytest
from sqlalchemy import Connection

from hub.store import events
from hub.store.cases import get_case, open_case
from hub.store.db import Database
from hub.store.events import CaseHead, append_events
from tests.factories import T0, case_event, make_case, register_network

REFERENCE = "ME-000123"
RIVAL_GIVEN = 1.0
"""Seconds the first unit lets the rival run between its read and its write. The rival
either finishes in that time (it was not kept out: the interleaving this file tests) or
cannot finish before the first unit commits (it waits for the writer's lock)."""


@pytest.fixture
def rival(database: Database) -> Iterator[Database]:
    """A second ``Database`` on the same database: its own engine and connections, as
    another thread's or another process's."""
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case(REFERENCE))
    other = Database(database.url)
    yield other
    other.dispose()


def _rival_between_read_and_write(
    monkeypatch: pytest.MonkeyPatch, rival_work: Callable[[], None]
) -> threading.Thread:
    """Run ``rival_work`` in a thread right after this thread's unit has read the cases'
    heads, and give it ``RIVAL_GIVEN`` seconds before the unit goes on to its writes."""
    real = events._case_heads
    me = threading.current_thread()
    done = threading.Event()

    def work() -> None:
        try:
            rival_work()
        finally:
            done.set()

    thread = threading.Thread(target=work)

    def heads_then_rival(
        connection: Connection, references: set[str], read: Mapping[str, CaseHead]
    ) -> dict[str, CaseHead]:
        heads = real(connection, references, read)
        if threading.current_thread() is me and not thread.is_alive() and not done.is_set():
            thread.start()
            done.wait(RIVAL_GIVEN)
        return heads

    monkeypatch.setattr(events, "_case_heads", heads_then_rival)
    return thread


def test_a_status_a_rival_committed_after_the_heads_read_is_not_moved_back(
    database: Database, rival: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit reads the case at ``created``; a rival stores ``in_repair`` (later) and
    commits; the unit then stores ``received`` (earlier): the case must stay
    ``in_repair``, the maximum of its events in the timeline's order."""
    earlier = case_event("received", T0 + timedelta(hours=1))
    later = case_event("in_repair", T0 + timedelta(hours=2))
    failures: list[Exception] = []

    def rival_appends() -> None:
        try:
            with rival.transaction() as connection:
                append_events(connection, [later])
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in the thread
            failures.append(exc)

    thread = _rival_between_read_and_write(monkeypatch, rival_appends)
    with database.transaction() as connection:
        stored = append_events(connection, [earlier])
    thread.join()
    assert failures == []
    assert stored.stored_ids == [earlier.id]
    with database.transaction() as connection:
        record = get_case(connection, REFERENCE)
        timeline = [event.id for event in events.events_of_case(connection, record.id)]
    assert record.status == "in_repair"
    assert record.status_at == later.occurred_at
    assert set(timeline[1:]) == {earlier.id, later.id}
