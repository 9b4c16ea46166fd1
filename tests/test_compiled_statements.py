"""A small file's fixed statements run on the driver (hub.store.compiled, issue 17) read
and write the same rows as SQLAlchemy's own execution of the same statements, on SQLite
and PostgreSQL: the values bound through the same type processors (aware instants, JSON),
the rows read through the same result processors, the driver's errors raised as the
store's classes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    String,
    bindparam,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from hub.partners.connectors import open_network
from hub.partners.ingest.message import ingest_message
from hub.ports import MessageRef, RawMessage
from hub.store.archive import archive_message
from hub.store.case_links import _KNOWN_LINKS, _known_links_query
from hub.store.cases import open_case
from hub.store.compiled import DriverStatement, binary_arrays
from hub.store.db import Connection, Database, StoreConflict
from hub.store.events import _MOVE, _MOVE_ON_DRIVER
from hub.store.inbound import mark_read
from hub.store.rejects import _SAME_NAME, _WITH_REPORTS, _later_file_candidates
from hub.store.tables import (
    case_references,
    cases,
    events,
    inbound_messages,
    raw_messages,
    rejects,
)
from hub.store.types import UtcDateTime
from hub.store.upsert import insert_ignoring_conflicts
from tests.api_support import make_hub
from tests.factories import make_case
from tests.statements import recorded

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
)
PARIS_WINTER = timezone(timedelta(hours=1))


def _workshop_file(database: Database, name: str, *lines: str) -> None:
    content = (HEADER + "".join(line + "\r\n" for line in lines)).encode("cp1252")
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    ingest_message(
        database,
        "atelier-dupont-status",
        pipeline,
        RawMessage(MessageRef(name, len(content)), content),
    )


def _as_sqlalchemy_reads(
    connection: Connection, statement: Any, values: dict[str, Any]
) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(statement, values)]


def _without(row: Any, *names: str) -> dict[str, Any]:
    return {key: value for key, value in row._mapping.items() if key not in names}


def _references(connection: Connection, wanted: list[str]) -> list[str] | str:
    """The links' read's references as ``_known_links`` binds them: an array on
    PostgreSQL, a JSON list on SQLite."""
    return wanted if connection.dialect.name == "postgresql" else json.dumps(wanted)


def test_reads_on_the_driver_give_sqlalchemys_rows(database: Database) -> None:
    """The links' read (its references one value, instants read back aware) for lists of
    several lengths, and the rejects' reads (a LIMIT the statement holds, booleans)."""
    make_hub(database)
    with database.transaction() as connection:
        for reference in ("ME-000580", "ME-000581", "ME-000582"):
            open_case(connection, make_case(reference))
    _workshop_file(
        database,
        "STATUTS_1.csv",
        "AD-580;ME-000580;02/03/2026;10:00;DIA;Diagnostic;;;;",
        "AD-581;ME-000581;02/03/2026;11:00;REP;En réparation;;;;",
        "AD-582;ME-000582;31/02/2026;11:00;REP",
    )
    _workshop_file(
        database, "STATUTS_2.csv", "AD-580;ME-000580;03/03/2026;10:00;REP;En réparation;;;;"
    )
    with database.transaction() as connection:
        for wanted in (
            ["ME-000580"],
            ["ME-000580", "ME-000581"],
            ["ME-000580", "ME-000581", "ME-000582", "ME-404040"],
            ["ME-404040"],
        ):
            values = {"references": _references(connection, wanted)}
            driver = _KNOWN_LINKS.rows(connection, values)
            assert driver == _as_sqlalchemy_reads(
                connection, _known_links_query(connection.dialect.name), values
            )
        heads = [
            row
            for row in _KNOWN_LINKS.rows(
                connection, {"references": _references(connection, ["ME-000580"])}
            )
            if row[0] == 0
        ]
        assert isinstance(heads[0][7], datetime)
        assert heads[0][7].utcoffset() == timedelta(0)
        same_name, with_reports = _later_file_candidates()
        message_id = connection.execute(select(rejects.c.message_id)).scalar_one()
        assert message_id is not None
        for source in ("STATUTS_1.csv", "STATUTS_2.csv"):
            values = {
                "connector": "atelier-dupont-status",
                "source": source,
                "message_id": message_id + 1,
            }
            assert _SAME_NAME.rows(connection, values) == _as_sqlalchemy_reads(
                connection, same_name, values
            )
            assert _WITH_REPORTS.rows(connection, values) == _as_sqlalchemy_reads(
                connection, with_reports, values
            )
        assert _WITH_REPORTS.rows(
            connection,
            {
                "connector": "atelier-dupont-status",
                "source": "STATUTS_2.csv",
                "message_id": message_id + 1,
            },
        )


def test_writes_on_the_driver_store_sqlalchemys_rows(database: Database) -> None:
    """The archive's insert, the read mark and the cases' update, each run once through
    SQLAlchemy and once on the driver with the same values: the same rows (instants given
    in another zone stored as the same UTC instant, the metadata's JSON, the bytes)."""
    make_hub(database)
    received = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=PARIS_WINTER)
    content = b"N\xb0 dossier;ref\r\n"
    with database.transaction() as connection:
        ours = archive_message(
            connection,
            "atelier-dupont-status",
            RawMessage(MessageRef("A.csv", len(content)), content, metadata={"path": "/in/A.csv"}),
            now=received,
        )
        theirs = connection.execute(
            insert_ignoring_conflicts(connection, raw_messages, "source", "sha256").returning(
                raw_messages.c.id
            ),
            {
                "source": "elsewhere",
                "name": "A.csv",
                "sha256": ours.sha256,
                "size": len(content),
                "content": content,
                "compression": "none",
                "received_at": received,
                "meta": {"path": "/in/A.csv"},
            },
        ).scalar_one()
        again = archive_message(
            connection,
            "atelier-dupont-status",
            RawMessage(MessageRef("B.csv", len(content)), content),
        )
        assert (again.id, again.duplicate, again.name) == (ours.id, True, "A.csv")
        archived = {row.id: row for row in connection.execute(select(raw_messages))}
        assert _without(archived[ours.id], "id", "source") == _without(
            archived[theirs], "id", "source"
        )
        assert archived[ours.id].received_at == received

        modified = datetime(2026, 3, 2, 9, 59, tzinfo=PARIS_WINTER)
        read = {
            "size": len(content),
            "modified_at": modified,
            "sha256": ours.sha256,
            "message_id": ours.id,
            "run_id": None,
            "read_at": received,
        }
        mark_read(connection, "atelier-dupont-status", name="A.csv", **read)
        connection.execute(
            insert(inbound_messages), {"connector": "other", "name": "A.csv", **read}
        )
        marks = connection.execute(select(inbound_messages).order_by(inbound_messages.c.id)).all()
        assert [_without(row, "id", "connector") for row in marks] == [
            _without(marks[1], "id", "connector")
        ] * 2
        assert marks[0].modified_at == modified

        ids = [
            open_case(connection, make_case(reference)).record.id
            for reference in ("ME-000590", "ME-000591", "ME-000592", "ME-000593")
        ]
        now = datetime(2026, 3, 4, 8, 0, tzinfo=PARIS_WINTER)
        moves = [
            {
                "new_status": "in_repair",
                "new_status_at": datetime(2026, 3, 3, 10, 0, tzinfo=PARIS_WINTER),
                "new_status_event_id": "ev-1",
                "now": now,
            },
            {"new_status": None, "new_status_at": None, "new_status_event_id": None, "now": now},
        ]
        connection.execute(
            _MOVE, [{"case_id": ids[0], **moves[0]}, {"case_id": ids[1], **moves[1]}]
        )
        _MOVE_ON_DRIVER.execute_many(
            connection, [{"case_id": ids[2], **moves[0]}, {"case_id": ids[3], **moves[1]}]
        )
        _MOVE_ON_DRIVER.execute_many(connection, [])
        rows = {row.id: row for row in connection.execute(select(cases).where(cases.c.id.in_(ids)))}

        def after(case_id: int, *names: str) -> list[Any]:
            return [rows[case_id]._mapping[name] for name in names]

        moved = ("status", "status_at", "status_event_id", "updated_at")
        assert after(ids[2], *moved) == after(ids[0], *moved)
        # A stamp keeps the case's own status (its event is its own) and dates it.
        assert after(ids[3], "status", "status_at", "updated_at") == after(
            ids[1], "status", "status_at", "updated_at"
        )
        assert rows[ids[3]].status_event_id.endswith("ME-000593")
        assert rows[ids[2]].status == "in_repair"
        assert rows[ids[2]].updated_at == now


def test_rows_sharing_an_instant_store_what_sqlalchemy_stores_it_processed_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An executemany's rows sharing one value (a batch's ``now``) have it processed once
    (issue 17, thirteenth pass), by identity: rows with the shared instant, with an equal
    instant in another zone, with ``None``, then the shared one again store what
    SQLAlchemy's own executemany of the same rows stores."""
    from hub.store import compiled
    from hub.store.types import UtcDateTime

    seen: list[datetime | None] = []
    bind = UtcDateTime.process_bind_param
    write = compiled.sqlite_text

    def counted(self: UtcDateTime, value: datetime | None, dialect: Any) -> Any:
        seen.append(value)
        return bind(self, value, dialect)

    def written(value: datetime) -> str:
        seen.append(value)
        return write(value)

    # The column type's processor on PostgreSQL, the store's instant writer on SQLite.
    monkeypatch.setattr(UtcDateTime, "process_bind_param", counted)
    monkeypatch.setattr(compiled, "sqlite_text", written)
    make_hub(database)
    now = datetime(2026, 3, 4, 8, 0, tzinfo=PARIS_WINTER)
    same_in_utc = datetime(2026, 3, 4, 7, 0, tzinfo=UTC)
    moved_at = datetime(2026, 3, 3, 10, 0, tzinfo=PARIS_WINTER)
    stamps = [now, now, same_in_utc, now, now]
    with database.transaction() as connection:
        ids = [
            open_case(connection, make_case(f"ME-00062{number}")).record.id for number in range(10)
        ]

        def rows(case_ids: list[int]) -> list[dict[str, Any]]:
            return [
                {
                    "case_id": case_id,
                    "new_status": "in_repair" if number % 2 else None,
                    "new_status_at": moved_at if number % 2 else None,
                    "new_status_event_id": f"ev-{number}" if number % 2 else None,
                    "now": stamp,
                }
                for number, (case_id, stamp) in enumerate(zip(case_ids, stamps, strict=True))
            ]

        connection.execute(_MOVE, rows(ids[:5]))
        seen.clear()
        DriverStatement(lambda _dialect: _MOVE).execute_many(connection, rows(ids[5:]))
        written = {
            # A stamp keeps the case's own status event, which names its case.
            row.id: (row.status, row.status_at, row.updated_at, row.status_event_id[:3])
            for row in connection.execute(select(cases).where(cases.c.id.in_(ids)))
        }
    assert [written[case_id] for case_id in ids[5:]] == [written[case_id] for case_id in ids[:5]]
    assert {written[case_id][2] for case_id in ids} == {now}
    assert [written[case_id][0] for case_id in ids[5:]] == ["created", "in_repair"] * 2 + [
        "created"
    ]
    # The stamps' instants: once for each run of the shared one (five rows, three calls).
    stamped = [value for value in seen if value == now]
    assert [id(value) for value in stamped] == [id(now), id(same_in_utc), id(now)]


def test_instants_bound_on_the_driver_are_written_as_the_column_type_writes_them(
    database: Database,
) -> None:
    """An instant a driver statement binds (on SQLite by hub.store.instants' writer, not
    the column type's call: issue 17, thirteenth pass, second round) is stored as
    SQLAlchemy's own execution stores it, on SQLite the same text (its sorting rests on
    it): with and without microseconds, in UTC, in fixed offsets of whole and half hours,
    in a named zone on both sides of its autumn fold, before the year 1000; a naive
    instant is refused, as the column type refuses it."""
    paris = ZoneInfo("Europe/Paris")
    instants = [
        datetime(2026, 3, 3, 10, 0, tzinfo=PARIS_WINTER),
        datetime(2026, 3, 3, 10, 0, 0, 70, tzinfo=PARIS_WINTER),
        datetime(2026, 3, 3, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 3, 1, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2026, 10, 25, 2, 30, tzinfo=paris),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=paris),
        datetime(987, 6, 5, 4, 3, 2, tzinfo=PARIS_WINTER),
    ]
    make_hub(database)
    with database.transaction() as connection:
        ids = [
            open_case(connection, make_case(f"ME-00064{number:02d}")).record.id
            for number in range(2 * len(instants))
        ]
        now = datetime(2026, 3, 4, 8, 0, tzinfo=PARIS_WINTER)

        def moves(case_ids: list[int]) -> list[dict[str, Any]]:
            return [
                {
                    "case_id": case_id,
                    "new_status": "in_repair",
                    "new_status_at": at,
                    "new_status_event_id": f"ev-{number}",
                    "now": now,
                }
                for number, (case_id, at) in enumerate(zip(case_ids, instants, strict=True))
            ]

        connection.execute(_MOVE, moves(ids[: len(instants)]))
        DriverStatement(lambda _dialect: _MOVE).execute_many(
            connection, moves(ids[len(instants) :])
        )
        if database.engine.dialect.name == "sqlite":
            stored = dict(connection.exec_driver_sql("SELECT id, status_at FROM cases").fetchall())
        else:
            stored = {row.id: row.status_at for row in connection.execute(select(cases))}
        theirs = [stored[case_id] for case_id in ids[: len(instants)]]
        assert [stored[case_id] for case_id in ids[len(instants) :]] == theirs
        assert len(set(theirs)) == len(instants)
        naive = {**moves(ids[: len(instants)])[0], "new_status_at": datetime(2026, 3, 3, 10, 0)}
        with pytest.raises(ValueError, match="naive datetime"):
            DriverStatement(lambda _dialect: _MOVE).execute_many(connection, [naive])


def test_instants_read_on_the_driver_are_given_back_as_the_column_type_gives_them(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instant a driver statement reads (on SQLite by hub.store.instants' reader, not
    the column type's: issue 17, fifteenth pass) is the aware UTC instant SQLAlchemy's
    own execution gives back: with and without microseconds, the last microsecond of a
    day, before the year 1000, NULL; on SQLite the reader is the instants' one."""
    from hub.store import compiled

    instants = [
        datetime(2026, 3, 3, 10, 0, tzinfo=PARIS_WINTER),
        datetime(2026, 3, 3, 10, 0, 0, 70, tzinfo=UTC),
        datetime(2026, 3, 3, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(987, 6, 5, 4, 3, 2, tzinfo=PARIS_WINTER),
        None,
    ]
    read: list[Any] = []
    reader = compiled.aware_or_none

    def counted(value: Any) -> Any:
        if value is not None:  # the instants read, not the NULLs
            read.append(value)
        return reader(value)

    monkeypatch.setattr(compiled, "aware_or_none", counted)
    make_hub(database)
    with database.transaction() as connection:
        ids = [
            open_case(connection, make_case(f"ME-00066{number:02d}")).record.id
            for number in range(len(instants))
        ]
        for case_id, at in zip(ids, instants, strict=True):
            connection.execute(
                update(cases)
                .where(cases.c.id == case_id)
                .values(status_at=at, updated_at=at or instants[0])
            )
        statement = DriverStatement(
            lambda _dialect: (
                select(cases.c.status_at, cases.c.updated_at)
                .where(cases.c.id.in_(bindparam("ids", expanding=True)))
                .order_by(cases.c.id)
            )
        )
        driver = statement.rows(connection, {"ids": ids})
        theirs = [
            tuple(row)
            for row in connection.execute(
                select(cases.c.status_at, cases.c.updated_at)
                .where(cases.c.id.in_(ids))
                .order_by(cases.c.id)
            )
        ]
    assert driver == theirs
    assert [row[0] for row in driver] == instants
    assert all(at.utcoffset() == timedelta(0) for row in driver for at in row if at is not None)
    expected = 2 * len(instants) - 1 if database.engine.dialect.name == "sqlite" else 0
    assert len(read) == expected


def test_a_drivers_error_is_raised_as_the_stores(database: Database) -> None:
    """A read mark written twice breaks its unique key: the store's conflict, as
    ``ingest_message`` catches it for a concurrent ingestion; the transaction rolls back
    whole and the connection serves the next one."""
    content = b"x;y\r\n"
    with database.transaction() as connection:
        archived = archive_message(
            connection, "atelier-dupont-status", RawMessage(MessageRef("A.csv", 5), content)
        )
    read = {
        "name": "A.csv",
        "size": 5,
        "modified_at": None,
        "sha256": archived.sha256,
        "message_id": archived.id,
        "run_id": None,
        "read_at": datetime(2026, 3, 2, tzinfo=UTC),
    }
    with database.transaction() as connection:
        mark_read(connection, "atelier-dupont-status", **read)

    def b_then_a_again() -> None:
        with database.transaction() as connection:
            mark_read(connection, "atelier-dupont-status", **{**read, "name": "B.csv"})
            mark_read(connection, "atelier-dupont-status", **read)

    with pytest.raises(StoreConflict):
        b_then_a_again()
    with database.transaction() as connection:
        names = connection.execute(select(inbound_messages.c.name)).scalars().all()
    assert names == ["A.csv"]


def test_a_statement_is_compiled_once_per_kind_names_and_list_length(database: Database) -> None:
    """The plans a statement keeps: one per database kind, parameter names and length of
    an expanding list; a value the statement holds itself (its LIMIT) is bound each time."""
    statement = DriverStatement(
        lambda _dialect: (
            select(raw_messages.c.id)
            .where(raw_messages.c.name.in_(bindparam("names", expanding=True)))
            .where(raw_messages.c.size >= bindparam("size", type_=Integer))
            .order_by(raw_messages.c.id)
            .limit(2)
        )
    )
    with database.transaction() as connection:
        ids = [
            archive_message(connection, "s", RawMessage(MessageRef(name, 1), name.encode())).id
            for name in ("a", "b", "c")
        ]
        assert statement.rows(connection, {"names": ["a"], "size": 1}) == [(ids[0],)]
        assert statement.rows(connection, {"names": ["a", "b", "c"], "size": 1}) == [
            (ids[0],),
            (ids[1],),
        ]
        assert statement.rows(connection, {"names": ["c", "b"], "size": 1}) == [
            (ids[1],),
            (ids[2],),
        ]
        assert statement.rows(connection, {"names": ["a", "b"], "size": 2}) == []
    assert len(statement._compiled) == 1
    assert len(statement._plans) == 3


def test_a_list_the_statement_holds_keeps_its_values_beside_the_callers(
    database: Database,
) -> None:
    """An ``IN`` of values the statement holds (the outbox claim's blocking states)
    beside a caller's list: the held one is bound from the statement at every call, the
    caller's from its values, the rows SQLAlchemy's own for the same values."""
    query = (
        select(raw_messages.c.name)
        .where(raw_messages.c.name.in_(["a", "c", "d"]))
        .where(raw_messages.c.source.in_(bindparam("sources", expanding=True)))
        .order_by(raw_messages.c.id)
    )
    statement = DriverStatement(lambda _dialect: query)
    with database.transaction() as connection:
        for source, name in (("s", "a"), ("s", "b"), ("t", "c"), ("u", "d")):
            archive_message(connection, source, RawMessage(MessageRef(name, 1), name.encode()))
        for sources in (["s"], ["s", "t"], ["t", "u", "s"], ["v"]):
            values = {"sources": sources}
            assert statement.rows(connection, values) == _as_sqlalchemy_reads(
                connection, query, values
            )
        assert statement.rows(connection, {"sources": ["s", "t"]}) == [("a",), ("c",)]
    assert len(statement._compiled) == 1


def test_the_engines_cursor_listeners_see_the_drivers_statements(database: Database) -> None:
    """What counts a file's statements (a ``before_cursor_execute`` listener) still sees
    those run on the driver, each once, with the values the driver is given."""
    seen: list[tuple[str, Any, bool]] = []

    def listener(*args: Any) -> None:
        seen.append((str(args[2]).split()[0].upper(), args[3], bool(args[5])))

    event.listen(database.engine, "before_cursor_execute", listener)
    try:
        with database.transaction() as connection:
            archived = archive_message(connection, "s", RawMessage(MessageRef("a", 1), b"a"))
            _MOVE_ON_DRIVER.execute_many(
                connection,
                [
                    {
                        "case_id": 0,
                        "new_status": None,
                        "new_status_at": None,
                        "new_status_event_id": None,
                        "now": datetime(2026, 3, 2, tzinfo=UTC),
                    }
                ]
                * 2,
            )
    finally:
        event.remove(database.engine, "before_cursor_execute", listener)
    assert [(kind, many) for kind, _, many in seen] == [("INSERT", False), ("UPDATE", True)]
    assert archived.sha256 in str(seen[0][1])
    assert len(seen[1][1]) == 2


def test_a_connection_outside_a_transaction_commits_what_the_driver_wrote(
    database: Database,
) -> None:
    """On a connection without ``begin()`` the driver's statements begin SQLAlchemy's
    transaction as its own execution would: ``commit()`` keeps them, closing without it
    rolls them back."""
    for name, committed in (("kept", True), ("dropped", False)):
        with database.engine.connect() as connection:
            archive_message(connection, "s", RawMessage(MessageRef(name, 1), name.encode()))
            assert connection.in_transaction()
            if committed:
                connection.commit()
    with database.transaction() as connection:
        names = connection.execute(select(raw_messages.c.name)).scalars().all()
    assert names == ["kept"]


@pytest.mark.parametrize("on_driver", [True, False], ids=["driver", "sqlalchemy"])
def test_a_lost_connection_is_invalidated_as_sqlalchemys_execution_does(
    migrated_postgres: Database, on_driver: bool
) -> None:
    """The server ends the session under a statement, on the driver or through
    SQLAlchemy: the store raises the driver's error, saying the connection was
    invalidated (not SQLAlchemy's PendingRollbackError), and the pool gives the next
    transaction a live connection."""
    database = migrated_postgres

    def read_after_the_session_ends() -> None:
        with database.transaction() as connection:
            session = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with database.engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(session)})")
            if on_driver:
                _KNOWN_LINKS.rows(connection, {"references": ["ME-000999"]})
            else:
                connection.execute(_known_links_query("postgresql"), {"references": ["ME-000999"]})

    with pytest.raises(DBAPIError) as caught:
        read_after_the_session_ends()
    assert caught.value.connection_invalidated
    with database.transaction() as connection:
        assert _KNOWN_LINKS.rows(connection, {"references": ["ME-000999"]}) == []


def test_an_array_goes_in_binary_only_where_the_sql_says_its_type() -> None:
    """``%(name)s`` becomes ``%(name)b`` when every place binds it as an array of a type
    the SQL says (a bind cast or a ``CAST``), lengths and spaces in the type's name
    included; a parameter bound once without a type, a scalar, or another name that
    begins alike stays in text."""
    sql = (
        "SELECT * FROM unnest(CAST(%(ids)s AS BIGINT[]), CAST(%(names)s AS VARCHAR(32)[])) "
        "WHERE a = any(%(refs)s::VARCHAR[]) OR b = any(%(refs)s::VARCHAR[]) "
        "OR c = any(%(ats)s::TIMESTAMP WITH TIME ZONE[]) OR d = any(%(loose)s) "
        "OR e = any(%(loose)s::TEXT[]) OR f = %(ref)s::VARCHAR OR g = %(refs_2)s"
    )
    names = ["ids", "names", "refs", "ats", "loose", "ref", "refs_2", "absent"]
    assert binary_arrays(sql, names) == (
        "SELECT * FROM unnest(CAST(%(ids)b AS BIGINT[]), CAST(%(names)b AS VARCHAR(32)[])) "
        "WHERE a = any(%(refs)b::VARCHAR[]) OR b = any(%(refs)b::VARCHAR[]) "
        "OR c = any(%(ats)b::TIMESTAMP WITH TIME ZONE[]) OR d = any(%(loose)s) "
        "OR e = any(%(loose)s::TEXT[]) OR f = %(ref)s::VARCHAR OR g = %(refs_2)s"
    )


ZONES = [ZoneInfo("Europe/Paris"), PARIS_WINTER, timezone(-timedelta(hours=3, minutes=30))]
"""Across Paris's change to summer time, a fixed offset, a negative half-hour one."""
AWKWARD_TEXTS = [
    'a "quoted" one',
    "back\\slash \\N",
    "comma, and; semicolon",
    "{braces}",
    "NULL",
    "",
    " spaced ",
    None,
    "tab\there\nnewline",
    "Réparé € «ok» 日本",
]


def test_arrays_on_the_driver_in_binary_read_what_sqlalchemy_sends_in_text(
    migrated_postgres: Database,
) -> None:
    """The ``unnest`` of typed arrays and an ``= ANY`` on the driver (binary) give the
    rows SQLAlchemy's own execution (text) gives, and the values given: texts with
    quotes, backslashes, commas, braces, the word NULL and non-ASCII, NULL elements,
    integers past 32 bits, instants with offsets, booleans."""
    from hub.store.arrays import among, unnested

    rows = unnested(
        ("text", String()),
        ("number", BigInteger()),
        ("small", Integer()),
        ("at", UtcDateTime()),
        ("flag", Boolean()),
        ordinality="position",
    )
    statement = (
        select(rows.c.position, rows.c.text, rows.c.number, rows.c.small, rows.c.at, rows.c.flag)
        .where(
            among(rows.c.text, "wanted", String(), "postgresql")
            | (rows.c.text.is_(None))
            | (rows.c.number > 5)
        )
        .order_by(rows.c.position)
    )
    count = len(AWKWARD_TEXTS)
    values: dict[str, Any] = {
        "texts": AWKWARD_TEXTS,
        "numbers": [None if n == 3 else (n - 4) * 2**40 + n for n in range(count)],
        "smalls": [None if n % 4 == 0 else -n for n in range(count)],
        "ats": [
            None
            if n == 5
            else datetime(2026, 3, 29, 0, 30, 0, n * 1001, tzinfo=UTC).astimezone(ZONES[n % 3])
            for n in range(count)
        ],
        "flags": [None if n == 7 else n % 2 == 0 for n in range(count)],
        "wanted": [text for text in AWKWARD_TEXTS[:6] if text is not None] + ["no such"],
    }
    database = migrated_postgres
    with recorded(database) as ran, database.transaction() as connection:
        driver = DriverStatement(lambda _dialect: statement)
        on_driver = [driver.rows(connection, values), driver.rows(connection, values)]
        by_sqlalchemy = _as_sqlalchemy_reads(connection, statement, values)
    sent = [r.sql for r in ran]
    assert "%(texts)b" in sent[0]
    assert "%(wanted)b" in sent[0]
    assert "%(texts)s" in sent[2]
    assert on_driver == [by_sqlalchemy, by_sqlalchemy]
    wanted = [
        n
        for n, text in enumerate(AWKWARD_TEXTS)
        if text in values["wanted"] or text is None or (values["numbers"][n] or 0) > 5
    ]
    assert [row[0] for row in by_sqlalchemy] == [n + 1 for n in wanted]
    for position, text, number, small, at, flag in by_sqlalchemy:
        n = position - 1
        assert (text, number, small, flag) == (
            AWKWARD_TEXTS[n],
            values["numbers"][n],
            values["smalls"][n],
            values["flags"][n],
        )
        assert at == values["ats"][n]


def test_a_small_file_of_awkward_values_is_stored_as_given(database: Database) -> None:
    """A small file whose references, labels and notes hold quotes, backslashes, commas,
    braces, the word NULL and non-ASCII, with an unmapped code (a NULL status), a line
    naming no case (a NULL case), and an instant just past Paris's change to summer time:
    its events and learned references (the arrays PostgreSQL binds in binary) are stored
    as the file gives them, the same on both databases."""
    make_hub(database)
    with database.transaction() as connection:
        for reference in ("ME-000580", "ME-000581"):
            open_case(connection, make_case(reference))
    _workshop_file(
        database,
        "STATUTS_1.csv",
        '"AD-""580""";ME-000580;02/03/2026;10:00;DIA;"Diag, ""rapide"" {1}";"back\\s; NULL";SN-1;;',
        "AD\\581,{x};ME-000581;29/03/2026;03:30;XYZ;Réparé «ok» ñ;;;;",
        "NULL;;02/03/2026;11:00;REP;En réparation;;SN-unknown;;",
    )
    with database.transaction() as connection:
        ids = {ref: id_ for ref, id_ in connection.execute(select(cases.c.reference, cases.c.id))}
        stored = [
            tuple(row)
            for row in connection.execute(
                select(
                    events.c.case_id,
                    events.c.partner_ref,
                    events.c.status,
                    events.c.unmapped,
                    events.c.occurred_at,
                    events.c.occurred_offset_minutes,
                    events.c.raw_code,
                    events.c.raw_label,
                    events.c.details,
                )
                .where(events.c.message_id.is_not(None))
                .order_by(events.c.seq)
            )
        ]
        learned = connection.execute(
            select(case_references.c.case_id, case_references.c.reference)
            .where(case_references.c.party_id == "atelier-dupont")
            .order_by(case_references.c.case_id)
        ).all()
    march_2 = datetime(2026, 3, 2, tzinfo=UTC)
    assert stored == [
        (
            ids["ME-000580"],
            'AD-"580"',
            "diagnosing",
            False,
            march_2 + timedelta(hours=9),
            60,
            "DIA",
            'Diag, "rapide" {1}',
            {"serial_number": "SN-1", "note": "back\\s; NULL"},
        ),
        (
            ids["ME-000581"],
            "AD\\581,{x}",
            None,
            True,
            datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
            120,
            "XYZ",
            "Réparé «ok» ñ",
            None,
        ),
        (
            None,
            "NULL",
            "in_repair",
            False,
            march_2 + timedelta(hours=10),
            60,
            "REP",
            "En réparation",
            {"serial_number": "SN-unknown"},
        ),
    ]
    assert [tuple(row) for row in learned] == [
        (ids["ME-000580"], 'AD-"580"'),
        (ids["ME-000581"], "AD\\581,{x}"),
    ]
