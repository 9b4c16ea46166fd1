"""Two files sharing cases, stored at once by two writers (two processes' connections):
the state they leave is the state of the one stored after the other, on SQLite and
PostgreSQL.

A file is stored in chunks (``hub.partners.ingest.message.CHUNK``), in one transaction,
and on PostgreSQL each chunk locks its cases as it reads them (issue 17, seventeenth
pass): a file locks its cases chunk by chunk, not in one order over the whole file. Two
files naming the same cases in opposite orders each hold their first chunk's cases and
wait for the other's: PostgreSQL fails one of them (a deadlock, SQLSTATE 40P01), which
the unit runs again once (issue 17, eighteenth pass). SQLite has one writer at a time:
the second file waits for the first one's commit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, select
from sqlalchemy.exc import OperationalError

import hub.partners.ingest.message
import hub.partners.resolve
from hub.errors import NextAction, WritersDeadlocked
from hub.model.event import Event
from hub.model.timeline import event_order_key
from hub.partners.connectors import open_network
from hub.partners.ingest.message import MessageOutcome, ingest_message
from hub.ports import MessageRef, RawMessage
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import events_of_case
from hub.store.tables import cases, events, inbound_messages, raw_messages
from hub.store.turns import STORING, take_storing_turn
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
)
NOW = datetime(2026, 11, 3, 14, 15, tzinfo=UTC)
CONNECTOR = "atelier-dupont-status"
REFERENCES = tuple(f"ME-00010{n}" for n in range(1, 9))
FIRST = [f"AD-{r[-3:]};{r};03/11/2026;09:00;REC;Reçu;;;;" for r in REFERENCES]
"""The first file: each case received at 9:00, the cases in the ids' order (four chunks
of two rows)."""
SECOND = [
    f"AD-{r[-3:]};{r};03/11/2026;10:00;DIA;Diagnostic;;;;" for r in reversed(REFERENCES[4:])
] + [f"AD-{r[-3:]};{r};03/11/2026;08:00;REC;Reçu;;;;" for r in reversed(REFERENCES[:4])]
"""The second file: the same cases in the opposite order; the last four cases' events
sort before the first file's (their status stays the first file's)."""
EXPECTED = {
    **{r: ("received", "first") for r in REFERENCES[:4]},
    **{r: ("diagnosing", "second") for r in REFERENCES[4:]},
}
"""Each case's status, and the file whose event set it, in whichever order they commit."""
GIVEN = 20.0
"""Seconds a rendezvous waits at most: far longer than either file takes (a failed
test, not a hung one, when the other writer never comes)."""


def _message(lines: list[str], name: str) -> RawMessage:
    content = (HEADER + "".join(line + "\r\n" for line in lines)).encode("latin-1")
    return RawMessage(MessageRef(name, len(content)), content)


def _ingest(
    database: Database,
    message: RawMessage,
    connector: str = CONNECTOR,
    on_stored: Callable[[Connection, Sequence[Event]], None] | None = None,
) -> MessageOutcome:
    pipeline = open_network(ROOT / "connectors.yaml").connector(CONNECTOR).pipeline()
    return ingest_message(database, connector, pipeline, message, now=NOW, on_stored=on_stored)


@pytest.fixture
def shared(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The cases opened, two rows a chunk (each file is four chunks), and a second
    ``Database`` on the same database: its own engine, as another process's."""
    monkeypatch.setattr(hub.partners.ingest.message, "CHUNK", 2)
    register_network(database)
    with database.transaction() as connection:
        for reference in REFERENCES:
            open_case(connection, make_case(reference))
    other = Database(database.url)
    yield other
    other.dispose()


def _state(database: Database) -> dict[str, Any]:
    """Each case's status and the event that set it (checked to be the latest of its
    timeline), its events' ids, and every stored event id once."""
    found: dict[str, Any] = {}
    with database.reading() as connection:
        for reference in REFERENCES:
            row = connection.execute(
                select(cases.c.id, cases.c.status, cases.c.status_event_id).where(
                    cases.c.reference == reference
                )
            ).one()
            timeline = events_of_case(connection, row.id)
            latest = max((e for e in timeline if e.status is not None), key=event_order_key)
            assert row.status_event_id == latest.id
            found[reference] = (row.status, latest.id, sorted(e.id for e in timeline))
        ids = connection.execute(select(events.c.event_id)).scalars().all()
    assert len(ids) == len(set(ids)), "no event stored twice"
    found["events"] = sorted(ids)
    return found


def _event_ids(lines: list[str], name: str, *, caseless: bool = False) -> dict[str, str]:
    """The event id each case's line of a file gives, by reference (the events of rows
    naming unknown cases too, ``caseless``)."""
    pipeline = open_network(ROOT / "connectors.yaml").connector(CONNECTOR).pipeline()
    message = _message(lines, name)
    parsed = pipeline.parse(message.content, source=name, recorded_at=NOW)
    return {
        e.case_ref: e.id
        for e in parsed
        if isinstance(e, Event) and e.case_ref and (caseless or e.case_ref in REFERENCES)
    }


def _assert_as_one_after_the_other(database: Database) -> None:
    """The two files' events, each once, and each case at its latest status: what the
    files stored one after the other leave."""
    by_file = {
        "first": _event_ids(FIRST, "first.csv"),
        "second": _event_ids(SECOND, "second.csv"),
    }
    state = _state(database)
    for reference, (status, which) in EXPECTED.items():
        kept_status, kept_event, timeline = state[reference]
        assert (kept_status, kept_event) == (status, by_file[which][reference])
        assert {by_file["first"][reference], by_file["second"][reference]} <= set(timeline)
    every = {i for ids in by_file.values() for i in ids.values()}
    assert every <= set(state["events"])
    assert len(state["events"]) == len(every) + len(REFERENCES)  # and each case's opening


class _Writers:
    """Two units at once, each in a thread of its own with its own ``Database``; the
    failure of either kept for the test (a thread's exception would be lost)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, MessageOutcome] = {}
        self.failures: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def start(self, name: str, work: Callable[[], MessageOutcome]) -> None:
        def run() -> None:
            try:
                self.outcomes[name] = work()
            except BaseException as error:  # noqa: BLE001 - reported by the test
                self.failures.append(error)

        thread = threading.Thread(target=run, name=name)
        self.threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(GIVEN * 2)
            assert not thread.is_alive(), "a writer never finished"


def _after_first_chunk(meet: Callable[[], None]) -> Callable[[Connection, Sequence[Event]], None]:
    """A stored hook (where the sync rules run: the chunk's cases locked) that calls
    ``meet`` after the unit's first chunk, in its first attempt only."""
    calls: list[int] = []

    def hook(_connection: Connection, _stored: Sequence[Event]) -> None:
        calls.append(1)
        if len(calls) == 1:
            meet()

    return hook


def _at_once_past_their_first_chunk(
    database: Database, shared: Database, first: list[str], second: list[str]
) -> _Writers:
    """Two files stored at once, ``first`` by ``database`` and ``second`` by ``shared``,
    each unit waiting after its first chunk for the other to reach the end of its own
    (PostgreSQL only: on SQLite the second unit cannot reach its first chunk while the
    first is open, it waits for the writer's lock). Both joined."""
    both = threading.Barrier(2, timeout=GIVEN)

    def meet() -> None:
        if database.dialect == "postgresql":
            both.wait()

    writers = _Writers()
    writers.start(
        "first",
        lambda: _ingest(database, _message(first, "first.csv"), on_stored=_after_first_chunk(meet)),
    )
    writers.start(
        "second",
        lambda: _ingest(shared, _message(second, "second.csv"), on_stored=_after_first_chunk(meet)),
    )
    writers.join()
    return writers


def test_two_files_naming_the_same_cases_one_after_the_other(
    database: Database, shared: Database
) -> None:
    """The reference state the concurrent tests compare with."""
    first = _ingest(database, _message(FIRST, "first.csv"))
    second = _ingest(shared, _message(SECOND, "second.csv"))
    assert (first.counts.events_stored, second.counts.events_stored) == (8, 8)
    _assert_as_one_after_the_other(database)


def test_two_files_naming_the_same_cases_in_opposite_orders_at_once(
    database: Database, shared: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Each unit stores its first chunk (its cases locked on PostgreSQL) before either
    goes on to its second, whose cases the other holds. PostgreSQL fails one of the two
    with a deadlock; that unit is run again once, after the other's commit. Both files
    are stored whole; the state is the one of the files stored one after the other.

    SQLite: the second unit waits for the writer's lock until the first commits (the
    rendezvous is PostgreSQL's only: on SQLite the second cannot reach its first chunk
    while the first unit is open)."""
    writers = _at_once_past_their_first_chunk(database, shared, FIRST, SECOND)
    assert writers.failures == []
    assert {n: o.counts.events_stored for n, o in writers.outcomes.items()} == {
        "first": len(FIRST),
        "second": len(SECOND),
    }
    _assert_as_one_after_the_other(database)
    if database.dialect == "postgresql":
        assert "deadlock" in caplog.text  # the unit PostgreSQL failed said why it ran again


def _blocked_on_a_lock(database: Database) -> None:
    """Wait until another connection to this database waits for a lock (PostgreSQL): the
    other unit has reached the cases this one holds."""
    url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    with psycopg.connect(url, autocommit=True) as watcher:
        ready = threading.Event()
        for _ in range(int(GIVEN * 100)):
            row = watcher.execute(waiting).fetchone()
            if row is not None and row[0] > 0:
                return
            ready.wait(0.01)
    raise AssertionError("the other unit never waited for this one's cases")


@pytest.mark.parametrize("connector", [CONNECTOR, "atelier-dupont-copy"], ids=["retried", "twice"])
def test_the_same_file_stored_twice_at_once(
    database: Database, shared: Database, connector: str
) -> None:
    """The same file (redelivered to a second connector, or a run retried beside the
    one still storing it) stored by two units at once: the second waits for the first
    one's cases at its first chunk, then finds every event stored. Nothing twice."""
    message = _message(FIRST + SECOND, "both.csv")
    writers = _Writers()

    def let_the_other_in() -> None:
        writers.start("again", lambda: _ingest(shared, message, connector))
        if database.dialect == "postgresql":
            _blocked_on_a_lock(database)

    writers.start(
        "first", lambda: _ingest(database, message, on_stored=_after_first_chunk(let_the_other_in))
    )
    writers.join()
    writers.join()  # the second writer started from the first one's thread
    assert writers.failures == []
    stored = {n: o.counts.events_stored for n, o in writers.outcomes.items()}
    assert stored["first"] == len(FIRST) + len(SECOND)
    assert stored["again"] == 0
    _assert_as_one_after_the_other(database)
    with database.reading() as connection:
        marks = connection.execute(
            select(inbound_messages.c.connector).where(inbound_messages.c.name == "both.csv")
        ).scalars()
        assert sorted(marks) == sorted({CONNECTOR, connector})


UNKNOWN = [f"AD-9{n};ME-00099{n};03/11/2026;09:00;REC;Reçu;;;;" for n in range(4)]
"""Rows naming cases the hub does not know: their events are stored without a case (no
case locked), so two units meet on the events' ids alone."""


def test_two_files_of_the_same_caseless_events_in_opposite_orders_at_once(
    database: Database, shared: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The same events in opposite orders, no case to lock: each unit's first chunk
    inserts the events the other's second chunk inserts, and waits for them there (a
    unique key not committed yet). PostgreSQL fails one with a deadlock; it is run
    again and finds every event stored. Each event once."""
    writers = _at_once_past_their_first_chunk(database, shared, UNKNOWN, UNKNOWN[::-1])
    assert writers.failures == []
    assert sum(o.counts.events_stored for o in writers.outcomes.values()) == len(UNKNOWN)
    with database.reading() as connection:
        ids = connection.execute(
            select(events.c.event_id).where(events.c.case_id.is_(None))
        ).scalars()
        assert sorted(ids) == sorted(_event_ids(UNKNOWN, "first.csv", caseless=True).values())
    if database.dialect == "postgresql":
        assert "deadlock" in caplog.text


def _deadlocked_at_the_second_chunk(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """``append_events`` as a message's unit calls it, failed as PostgreSQL fails the
    unit it chose to break a deadlock, at the second chunk of the unit's first
    ``times`` attempts (the first chunk's events written, then rolled back). The
    attempts' chunks, counted."""
    real = hub.partners.ingest.message.append_events
    calls: list[int] = []

    def append(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) % 2 == 0 and len(calls) <= 2 * times:
            lost = psycopg.errors.DeadlockDetected("deadlock detected")
            raise OperationalError("SELECT ... FOR UPDATE", None, lost)
        return real(*args, **kwargs)

    monkeypatch.setattr(hub.partners.ingest.message, "append_events", append)
    return calls


def test_a_unit_failed_by_a_deadlock_is_stored_again_once(
    database: Database, shared: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run again from the archived bytes: every event once, and the counts of the one
    attempt that committed (not the failed attempt's added)."""
    calls = _deadlocked_at_the_second_chunk(monkeypatch, times=1)
    outcome = _ingest(database, _message(FIRST, "first.csv"))
    assert len(calls) == 2 + 4  # failed at its second chunk, then four chunks
    assert outcome.counts.events_stored == len(FIRST)
    assert outcome.counts.records_read == len(FIRST)
    state = _state(database)
    assert len(state["events"]) == 2 * len(REFERENCES)


def test_a_unit_failed_by_deadlocks_twice_leaves_the_file_unread(
    database: Database, shared: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the operator sees: a passing fault (``WritersDeadlocked``, retried by the
    run's backoff) naming the file; nothing of the file written but its archived bytes;
    the next attempt stores it whole."""
    _deadlocked_at_the_second_chunk(monkeypatch, times=2)
    message = _message(FIRST, "first.csv")
    with pytest.raises(WritersDeadlocked, match=r"first\.csv not stored") as raised:
        _ingest(database, message)
    assert raised.value.action is NextAction.RETRY
    assert len(_state(database)["events"]) == len(REFERENCES)  # the cases' openings only
    with database.reading() as connection:
        assert connection.execute(select(inbound_messages.c.id)).first() is None
        assert connection.execute(select(raw_messages.c.id)).scalars().all() != []
    monkeypatch.undo()
    monkeypatch.setattr(hub.partners.ingest.message, "CHUNK", 2)
    assert _ingest(database, message).counts.events_stored == len(FIRST)


def test_a_unit_run_again_stores_alone(migrated_postgres: Database) -> None:
    """PostgreSQL: while a unit holds the storing turn, others take it beside it, and
    the turn of a unit run again after a deadlock is not given (it waits for every
    unit storing); the commit gives it."""
    url = migrated_postgres.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as other:
        alone = "SELECT pg_try_advisory_lock(%s)"
        beside = "SELECT pg_try_advisory_lock_shared(%s)"
        with migrated_postgres.transaction() as connection:
            take_storing_turn(connection)
            assert other.execute(beside, (STORING,)).fetchone() == (True,)
            other.execute("SELECT pg_advisory_unlock_shared(%s)", (STORING,))
            assert other.execute(alone, (STORING,)).fetchone() == (False,)
        assert other.execute(alone, (STORING,)).fetchone() == (True,)
        with migrated_postgres.transaction() as connection:
            other.execute("SELECT pg_advisory_unlock(%s)", (STORING,))
            take_storing_turn(connection, alone=True)
            assert other.execute(beside, (STORING,)).fetchone() == (False,)


LEARNT = FIRST[:2]
"""The first two cases named with the workshop's own numbers (AD-101, AD-102): the hub
learns them, and a later row may name its case by that number alone."""
CROSSED = {
    "one.csv": [
        "AD-101;ME-000101;03/11/2026;10:00;DIA;Diagnostic;;;;",
        "AD-102;;03/11/2026;10:00;DIA;Diagnostic;;SN8841XK2;;",
    ],
    "two.csv": [
        "AD-102;ME-000102;03/11/2026;11:00;DIA;Diagnostic;;;;",
        "AD-101;;03/11/2026;11:00;DIA;Diagnostic;;SN8841XK2;;",
    ],
}
"""Two files of one chunk each: each names one case and links the other by the
workshop's number alone (no case reference on the row), crosswise."""


def _meeting_once_a_thread(
    monkeypatch: pytest.MonkeyPatch, meet: Callable[[], None]
) -> Callable[[], int]:
    """``reference_candidates`` (read after the chunk's named cases are locked, before
    the cases its other rows link to are) calling ``meet`` at its first call in each
    thread only: a unit run again does not wait there. How many threads met."""
    real = hub.partners.resolve.reference_candidates
    met: set[int] = set()

    def candidates(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() not in met:
            met.add(threading.get_ident())
            meet()
        return real(*args, **kwargs)

    monkeypatch.setattr(hub.partners.resolve, "reference_candidates", candidates)
    return lambda: len(met)


def test_two_files_naming_one_case_and_linking_the_other_crosswise_in_one_chunk(
    database: Database,
    shared: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Within ONE chunk a unit takes its cases' locks in two statements: the cases its
    rows name (with their links, in the ids' order), then the cases its other rows link
    to by a partner's number, a parcel, a serial or an order (in the ids' order among
    themselves, but after the first). File one names A and links B, file two names B and
    links A: each holds the case it names and waits for the other's. PostgreSQL fails one
    with a deadlock; it is run again alone, and both files are stored whole: each case
    has both files' events, at the later one's status. SQLite: one writer at a time."""
    _ingest(database, _message(LEARNT, "learnt.csv"))
    both = threading.Barrier(2, timeout=GIVEN)

    def meet() -> None:
        if database.dialect == "postgresql":
            both.wait()

    met = _meeting_once_a_thread(monkeypatch, meet)
    writers = _Writers()
    writers.start("one", lambda: _ingest(database, _message(CROSSED["one.csv"], "one.csv")))
    writers.start("two", lambda: _ingest(shared, _message(CROSSED["two.csv"], "two.csv")))
    writers.join()
    assert writers.failures == []
    assert met() == 2
    assert {n: o.counts.events_stored for n, o in writers.outcomes.items()} == {"one": 2, "two": 2}
    pipeline = open_network(ROOT / "connectors.yaml").connector(CONNECTOR).pipeline()
    ids = {
        name: sorted(
            e.id
            for e in pipeline.parse(_message(lines, name).content, source=name, recorded_at=NOW)
            if isinstance(e, Event)
        )
        for name, lines in CROSSED.items()
    }
    state = _state(database)
    for reference in REFERENCES[:2]:
        status, latest, timeline = state[reference]
        assert status == "diagnosing"
        assert len(set(timeline) & set(ids["one.csv"])) == 1
        assert len(set(timeline) & set(ids["two.csv"])) == 1
        assert len(timeline) == 4  # opened, received, then one diagnosis of each file
        assert latest in ids["two.csv"]
    if database.dialect == "postgresql":
        assert "deadlock" in caplog.text
