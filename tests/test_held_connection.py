"""A message's two transactions on one held connection (issue 17, twelfth pass): each
commits or rolls back on its own, as two ``Database.transaction()`` did."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from hub.model.event import Event
from hub.partners.connectors import open_network
from hub.partners.ingest.listed import run_inbound
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.report import RunReport
from hub.ports import MessageRef, RawMessage
from hub.store import inbound
from hub.store.archive import archive_message
from hub.store.cases import open_case
from hub.store.db import Connection, Database, after_commit
from hub.store.tables import events, inbound_messages, raw_messages
from tests.conftest import empty_tables
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent

HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
)
LINES = [
    "AD-1;ME-000123;03/11/2026;09:00;REC;Reçu;;;;",
    "AD-1;ME-000123;03/11/2026;10:00;DIA;Diagnostic;;;;",
]


class Refused(Exception):
    """What the test's hook raises inside the storing transaction."""


def _message(name: str = "STATUTS_20261103_1415.csv") -> RawMessage:
    content = (HEADER + "".join(line + "\r\n" for line in LINES)).encode("latin-1")
    return RawMessage(MessageRef(name, len(content)), content)


def _count(database: Database, table: Any) -> int:
    query = select(func.count()).select_from(table)
    if table is events:
        query = query.where(events.c.message_id.is_not(None))  # not the case's opening
    with database.transaction() as connection:
        return int(connection.execute(query).scalar_one())


def _prepared(database: Database) -> None:
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))


def test_each_transaction_of_a_held_connection_commits_on_its_own(database: Database) -> None:
    """The first commits whatever the second does; a hook runs after its own commit only."""
    _prepared(database)
    ran: list[str] = []
    message = _message()
    with database.held() as held:
        with held.transaction() as connection:
            archived = archive_message(connection, "atelier-dupont-status", message)
            after_commit(connection, lambda: ran.append("first"))
        assert ran == ["first"]

        def refused() -> None:
            with held.transaction() as connection:
                connection.execute(raw_messages.delete().where(raw_messages.c.id == archived.id))
                after_commit(connection, lambda: ran.append("second"))
                raise Refused

        with pytest.raises(Refused):
            refused()
        with held.transaction() as connection:
            kept = connection.execute(
                select(raw_messages.c.id).where(raw_messages.c.id == archived.id)
            ).all()
        assert len(kept) == 1
    assert ran == ["first"]


def test_a_message_takes_one_connection_from_the_pool(database: Database) -> None:
    """The archive's transaction and the events' share one checkout; both commit."""
    _prepared(database)
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    checkouts: list[object] = []

    def counted(*_args: object) -> None:
        checkouts.append(_args[0])

    event.listen(database.engine.pool, "checkout", counted)
    try:
        outcome = ingest_message(database, "atelier-dupont-status", pipeline, _message())
    finally:
        event.remove(database.engine.pool, "checkout", counted)
    assert len(checkouts) == 1
    assert outcome.counts.events_stored == 2
    assert _count(database, raw_messages) == 1
    assert _count(database, events) == 2
    assert _count(database, inbound_messages) == 1


def test_a_failed_store_keeps_the_archive_and_a_second_try_stores_the_message_whole(
    database: Database,
) -> None:
    """The storing transaction fails after its events were written: it rolls back whole,
    the archive committed before it stays, and the next try stores every event once."""
    _prepared(database)
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()

    def refuse(_connection: Connection, _stored: Sequence[Event]) -> None:
        raise Refused

    with pytest.raises(Refused):
        ingest_message(database, "atelier-dupont-status", pipeline, _message(), on_stored=refuse)
    assert _count(database, raw_messages) == 1
    assert _count(database, events) == 0
    assert _count(database, inbound_messages) == 0
    outcome = ingest_message(database, "atelier-dupont-status", pipeline, _message())
    assert not outcome.skipped
    assert outcome.counts.events_stored == 2
    assert _count(database, raw_messages) == 1
    assert _count(database, events) == 2
    again = ingest_message(database, "atelier-dupont-status", pipeline, _message())
    assert again.skipped
    assert _count(database, events) == 2


def test_a_twin_that_stored_the_message_first_makes_ours_a_skip(database: Database) -> None:
    """Our storing transaction meets the twin's read mark (a conflict): it rolls back and
    the message, found read on a connection of its own, is reported skipped."""
    _prepared(database)
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    first = ingest_message(database, "atelier-dupont-status", pipeline, _message())
    assert first.counts.events_stored == 2
    with database.transaction() as connection:
        archived = archive_message(connection, "atelier-dupont-status", _message())
    assert archived.duplicate
    # As a twin that archived the bytes before the first one read them would see it.
    unseen = dataclasses.replace(archived, duplicate=False)
    outcome = ingest_message(
        database, "atelier-dupont-status", pipeline, _message(), archived=unseen
    )
    assert outcome.skipped
    assert outcome.counts.events_stored == 0
    assert _count(database, events) == 2
    assert _count(database, inbound_messages) == 1


@pytest.mark.parametrize(
    "modified_at",
    [datetime(2026, 11, 3, 15, 16, tzinfo=timezone(timedelta(hours=1))), None],
    ids=["time", "no-time"],
)
def test_a_listed_file_is_known_by_its_size_and_time_or_their_absence(
    database: Database, modified_at: datetime | None
) -> None:
    """The read state's statement on the driver: a time the listing did not give matches
    a row without one, and only such a row; a size not given matches none (every mark
    has its message's size); the acknowledgement is marked once."""
    size = len(_message().content)
    message = _message()
    now = datetime(2026, 11, 3, 16, 0, tzinfo=UTC)
    with database.transaction() as connection:
        archived = archive_message(connection, "atelier-dupont-status", message)
        inbound.mark_read(
            connection,
            "atelier-dupont-status",
            name=message.ref.name,
            size=size,
            modified_at=modified_at,
            sha256=archived.sha256,
            message_id=archived.id,
            run_id=None,
            read_at=now,
        )
    other_size = None  # a listing that gives no size: matched IS NULL, as it always was
    other_time = now if modified_at is None else None
    with database.transaction() as connection:
        found = inbound.read_state(
            connection, "atelier-dupont-status", message.ref.name, size, modified_at
        )
        assert found is not None
        assert not found.acknowledged
        for wrong in (
            ("atelier-dupont-status", message.ref.name, other_size, modified_at),
            ("atelier-dupont-status", message.ref.name, size, other_time),
            ("atelier-dupont-status", "OTHER.csv", size, modified_at),
            ("other-connector", message.ref.name, size, modified_at),
        ):
            assert inbound.read_state(connection, *wrong) is None
    first = now + timedelta(minutes=1)
    with database.transaction() as connection:
        inbound.mark_acknowledged(connection, "atelier-dupont-status", message.ref.name, first)
        inbound.mark_acknowledged(
            connection, "atelier-dupont-status", message.ref.name, first + timedelta(hours=1)
        )
        state = inbound.read_state(
            connection, "atelier-dupont-status", message.ref.name, size, modified_at
        )
        assert state == found.__class__(found.id, True)
        at = connection.execute(
            select(inbound_messages.c.acknowledged_at).where(inbound_messages.c.id == found.id)
        ).scalar_one()
    assert at == first


class _Folder:
    """A transport over files in memory: what a run lists, fetches and acknowledges."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)
        self.acknowledged: list[str] = []
        self.refuse_acknowledgements = False

    def list(self) -> list[MessageRef]:
        return [MessageRef(name, len(content)) for name, content in sorted(self.files.items())]

    def fetch(self, ref: MessageRef) -> RawMessage:
        return RawMessage(ref, self.files[ref.name])

    def acknowledge(self, ref: MessageRef) -> None:
        if self.refuse_acknowledgements:
            raise Refused
        self.acknowledged.append(ref.name)
        del self.files[ref.name]

    def put(self, name: str, content: bytes) -> None:
        self.files[name] = content


def _run_checkouts(database: Database, folder: _Folder) -> tuple[int, RunReport]:
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    checkouts: list[object] = []

    def counted(*args: object) -> None:
        checkouts.append(args[0])

    event.listen(database.engine.pool, "checkout", counted)
    try:
        report = run_inbound(database, "atelier-dupont-status", folder, pipeline)
    finally:
        event.remove(database.engine.pool, "checkout", counted)
    return len(checkouts), report


def test_a_run_takes_one_connection_a_file_and_acknowledges_after_the_commit(
    database: Database,
) -> None:
    """Each listed file's state, archive, events and acknowledged mark share one
    checkout; an acknowledgement that fails after the events' commit leaves the file
    stored and unmarked, and the next run only acknowledges and marks it."""
    _prepared(database)
    content = _message().content
    empty, _ = _run_checkouts(database, _Folder({}))
    folder = _Folder(
        {f"STATUTS_{n}.csv": content.replace(b"AD-1", f"AD-{n}".encode()) for n in (1, 2, 3)}
    )
    three, report = _run_checkouts(database, folder)
    assert report.error is None
    assert three - empty == 3
    assert report.counts.messages_read == 3
    assert folder.acknowledged == ["STATUTS_1.csv", "STATUTS_2.csv", "STATUTS_3.csv"]
    with database.transaction() as connection:
        marks = connection.execute(select(inbound_messages.c.acknowledged_at)).scalars().all()
    assert len(marks) == 3
    assert all(mark is not None for mark in marks)

    late = _Folder({"STATUTS_4.csv": content.replace(b"AD-1", b"AD-4")})
    late.refuse_acknowledgements = True
    _, failed = _run_checkouts(database, late)
    assert failed.error is not None
    assert (failed.counts.messages_read, failed.counts.events_stored) == (1, 2)
    with database.transaction() as connection:
        state = inbound.read_state(
            connection,
            "atelier-dupont-status",
            "STATUTS_4.csv",
            len(late.files["STATUTS_4.csv"]),
            None,
        )
    assert state is not None
    assert not state.acknowledged
    stored = _count(database, events)
    late.refuse_acknowledgements = False
    _, again = _run_checkouts(database, late)
    assert again.error is None
    assert again.counts.messages_read == 0
    assert late.acknowledged == ["STATUTS_4.csv"]
    assert _count(database, events) == stored
    with database.transaction() as connection:
        state = inbound.read_state(
            connection, "atelier-dupont-status", "STATUTS_4.csv", len(content), None
        )
    assert state is not None
    assert state.acknowledged


def _in_transaction(connection: Connection) -> bool:
    """Whether the driver has a transaction open (PostgreSQL: its status; SQLite: the
    sqlite3 module's flag)."""
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        return bool(driver.info.transaction_status != 0)  # 0 is psycopg's IDLE
    return bool(driver.in_transaction)


def test_a_unit_alone_commits_each_statement_as_it_runs_on_postgresql(
    database: Database,
) -> None:
    """``alone()``: on PostgreSQL a write is committed once its statement returns (no
    transaction left open, seen from another connection before the block ends), its
    hook after the block; the held connection's next ``transaction()`` is one unit
    again, rolled back whole. The same on SQLite, which begins nothing for it."""
    _prepared(database)
    ran: list[str] = []
    # Another connection's view: another Database, as a unit of this one's inside the
    # held unit would be refused (UnitInsideUnit).
    outside = Database(database.url)
    with database.held() as held:
        with held.alone() as connection:
            archived = archive_message(connection, "atelier-dupont-status", _message())
            after_commit(connection, lambda: ran.append("alone"))
            assert not _in_transaction(connection)  # SQLite too (seventeenth pass)
            assert _count(outside, raw_messages) == 1
            assert ran == []
        outside.dispose()
        assert ran == ["alone"]
        assert _count(database, raw_messages) == 1

        def refused() -> None:
            with held.transaction() as connection:
                connection.execute(raw_messages.delete().where(raw_messages.c.id == archived.id))
                assert _in_transaction(connection)
                raise Refused

        with pytest.raises(Refused):
            refused()
        assert _count(database, raw_messages) == 1


def test_a_run_opens_one_transaction_a_file_on_postgresql(migrated_postgres: Database) -> None:
    """A listed file's read state, archive and acknowledged mark go alone, committed as
    they run; its events, rejects and read mark are its one transaction (a BEGIN and a
    COMMIT round trip each were 6 of a small file's 23, issue 17). Counted as the
    statements the driver runs with no transaction open outside autocommit: each of
    those starts one."""
    database = migrated_postgres  # SQLite's transactions are begun in this process
    empty_tables(database)
    _prepared(database)
    content = _message().content
    begun: list[str] = []

    def counted(connection: Connection, *_args: object) -> None:
        driver: Any = connection.connection.driver_connection
        if not driver.autocommit and not _in_transaction(connection):
            begun.append(str(_args[1]))

    def run(folder: _Folder) -> RunReport:
        pipeline = (
            open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
        )
        begun.clear()
        event.listen(database.engine, "before_cursor_execute", counted)
        try:
            return run_inbound(database, "atelier-dupont-status", folder, pipeline)
        finally:
            event.remove(database.engine, "before_cursor_execute", counted)

    run(_Folder({}))
    empty = len(begun)
    folder = _Folder(
        {f"STATUTS_{n}.csv": content.replace(b"AD-1", f"AD-{n}".encode()) for n in (1, 2, 3)}
    )
    report = run(folder)
    assert report.error is None
    assert report.counts.messages_read == 3
    assert len(begun) - empty == 3
    assert folder.acknowledged == ["STATUTS_1.csv", "STATUTS_2.csv", "STATUTS_3.csv"]
    assert _count(database, raw_messages) == 3
    assert _count(database, events) == 6
    with database.transaction() as connection:
        marks = connection.execute(select(inbound_messages.c.acknowledged_at)).scalars().all()
    assert len(marks) == 3
    assert all(mark is not None for mark in marks)
