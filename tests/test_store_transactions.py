"""Two writers on one database, interleaved between a unit of work's first read and its
first write: what the unit read must still hold when it writes, on SQLite and PostgreSQL.

SQLite's Python driver began a transaction only at its first INSERT, UPDATE or DELETE
(its legacy transaction control): the reads before it ran outside the transaction, each
in its own snapshot, so another writer could commit in between and the unit wrote from
what it had read, stale (issue 17, seventeenth pass)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.model.event import Event
from hub.partners.resolve import resolve_cases
from hub.store import case_links, events
from hub.store.cases import get_case, open_case
from hub.store.db import Database
from hub.store.events import CaseHead, append_events
from hub.store.tables import cases
from tests.factories import T0, case_event, make_case, register_network
from tests.locks import assert_case_held

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
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, rival_work: Callable[[], None]
) -> threading.Thread:
    """Run ``rival_work`` in a thread right after this thread's unit has run the store's
    read ``module.name`` (the cases' heads), and give it ``RIVAL_GIVEN`` seconds before
    the unit goes on to its writes."""
    real = getattr(module, name)
    me = threading.current_thread()
    done = threading.Event()

    def work() -> None:
        try:
            rival_work()
        finally:
            done.set()

    thread = threading.Thread(target=work)

    def read_then_rival(*args: Any, **kwargs: Any) -> Any:
        read = real(*args, **kwargs)
        if threading.current_thread() is me and not thread.is_alive() and not done.is_set():
            thread.start()
            done.wait(RIVAL_GIVEN)
        return read

    monkeypatch.setattr(module, name, read_then_rival)
    return thread


def _appending(rival: Database, event: Event) -> tuple[Callable[[], None], list[Exception]]:
    """The rival's work, storing ``event`` in a unit of its own, and the list where a
    failure of it is kept (a thread's exception would be lost)."""
    failures: list[Exception] = []

    def append() -> None:
        try:
            with rival.transaction() as connection:
                append_events(connection, [event])
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in the thread
            failures.append(exc)

    return append, failures


def _status_and_timeline(database: Database) -> tuple[str | None, Any, list[str]]:
    with database.reading() as connection:
        record = get_case(connection, REFERENCE)
        timeline = [event.id for event in events.events_of_case(connection, record.id)]
    return record.status, record.status_at, timeline


def _assert_the_later_status_kept(database: Database, earlier: Event, later: Event) -> None:
    """The case keeps the rival's later status, and the rival's event was stored after
    the unit's: it waited for the unit's commit."""
    status, status_at, timeline = _status_and_timeline(database)
    assert (status, status_at) == (later.status.value if later.status else None, later.occurred_at)
    assert timeline[1:] == [earlier.id, later.id]


def test_a_status_a_rival_committed_after_the_heads_read_is_not_moved_back(
    database: Database, rival: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit reads the case at ``created``; a rival stores ``in_repair`` (later) and
    commits; the unit then stores ``received`` (earlier): the case must stay
    ``in_repair``, the maximum of its events in the timeline's order."""
    earlier = case_event("received", T0 + timedelta(hours=1))
    later = case_event("in_repair", T0 + timedelta(hours=2))
    rival_appends, failures = _appending(rival, later)
    thread = _rival_between_read_and_write(monkeypatch, events, "_case_heads", rival_appends)
    with database.transaction() as connection:
        stored = append_events(connection, [earlier])
    thread.join()
    assert failures == []
    assert stored.stored_ids == [earlier.id]
    _assert_the_later_status_kept(database, earlier, later)


def test_heads_read_with_the_named_cases_links_hold_until_the_commit(
    database: Database, rival: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file's path: the named cases' heads come with their links (resolution), handed
    to ``append_events``, which does not read them again. A rival storing a later status
    after that read must not be moved back either."""
    earlier = case_event("received", T0 + timedelta(hours=1))
    later = case_event("in_repair", T0 + timedelta(hours=2))
    rival_appends, failures = _appending(rival, later)
    thread = _rival_between_read_and_write(monkeypatch, case_links, "_known_links", rival_appends)
    with database.transaction() as connection:
        heads: dict[str, CaseHead] = {}
        resolved = resolve_cases(connection, [earlier], heads=heads)
        assert set(heads) == {REFERENCE}
        stored = append_events(connection, resolved, heads_read=heads)
    thread.join()
    assert failures == []
    assert stored.stored_ids == [earlier.id]
    _assert_the_later_status_kept(database, earlier, later)


def test_a_unit_that_has_only_read_keeps_other_writers_out(
    database: Database, rival: Database
) -> None:
    """SQLite: the writer's lock from the transaction's first statement, a read; before,
    the driver began the transaction at its first write. PostgreSQL: the heads read
    locks the cases it read (a case not read stays free)."""
    with database.transaction() as connection:
        connection.execute(select(cases.c.id)).all()
        if database.dialect == "postgresql":
            events._case_heads(connection, {REFERENCE}, {})
        assert_case_held(database, REFERENCE)


def test_a_reading_unit_reads_beside_a_writer_without_waiting(
    database: Database, rival: Database
) -> None:
    """``Database.reading``: one snapshot of what was committed, taken while another
    unit holds the writer's lock with a write not committed yet (it would wait for the
    busy timeout, 30 s, and fail, if it asked for the lock)."""
    later = case_event("in_repair", T0 + timedelta(hours=2))
    with rival.transaction() as writing:
        append_events(writing, [later])
        status, _, timeline = _status_and_timeline(database)
        assert status == "created"
        assert len(timeline) == 1
    assert _status_and_timeline(database)[0] == "in_repair"
