"""The shortcuts ingestion takes for speed give exactly what the plain path gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Row, select

import hub.partners.ingest.message
import hub.store.bulk
from hub.mapping.values import ValueProblem, instant_parser, parse_instant, steady_offset
from hub.model.event import EventDetails
from hub.partners.connectors import open_network
from hub.partners.ingest.message import ingest_message
from hub.partners.runs import RunCounts
from hub.ports import MessageRef, RawMessage
from hub.store.archive import archive_message
from hub.store.cases import open_case
from hub.store.db import Database, StoreConflict
from hub.store.instants import sqlite_time
from hub.store.tables import case_references, cases, events, feed_entries
from tests.factories import case_event, make_case, register_network
from tests.statements import recorded

ROOT = Path(__file__).resolve().parent.parent

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/St_Johns", "UTC"]
"""Hour and half-hour daylight-saving changes, a 30-minute shift (Lord Howe), no change."""


def _quarter_hours_around_changes(zone: ZoneInfo) -> list[datetime]:
    """Every quarter hour of the days where the zone's offset changes in 2026."""
    days = []
    day = datetime(2026, 1, 1)
    while day.year == 2026:
        if (
            day.replace(tzinfo=zone).utcoffset()
            != (day + timedelta(days=1)).replace(tzinfo=zone).utcoffset()
        ):
            days.append(day)
        day += timedelta(days=1)
    days.append(datetime(2026, 6, 15))  # an ordinary day too
    return [d + timedelta(minutes=15 * q) for d in days for q in range(2 * 24 * 4)]


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize(
    ("ambiguous", "nonexistent"),
    [("earlier", "shift_forward"), ("later", "shift_forward"), ("reject", "reject")],
)
def test_the_hourly_offset_cache_agrees_with_localize(
    zone_name: str,
    ambiguous: Literal["earlier", "later", "reject"],
    nonexistent: Literal["shift_forward", "reject"],
) -> None:
    zone = ZoneInfo(zone_name)
    fast = instant_parser("%d/%m/%Y %H:%M", zone, ambiguous=ambiguous, nonexistent=nonexistent)
    walls = _quarter_hours_around_changes(zone)
    assert len(walls) > 100
    for wall in walls:
        text = f"{wall:%d/%m/%Y %H:%M}"
        try:
            expected: datetime | str = parse_instant(
                text, "%d/%m/%Y %H:%M", zone, ambiguous=ambiguous, nonexistent=nonexistent
            )
        except ValueProblem as problem:
            expected = str(problem)
        try:
            got: datetime | str = fast(text)
        except ValueProblem as problem:
            got = str(problem)
        assert got == expected, text
        if isinstance(got, datetime) and isinstance(expected, datetime):
            assert got.isoformat() == expected.isoformat(), text


def test_an_hour_with_a_change_has_no_steady_offset() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert steady_offset(datetime(2026, 10, 25, 2), paris) is None  # clocks go back at 03:00
    assert steady_offset(datetime(2026, 3, 29, 2), paris) is None  # 02:00 never happens
    steady = steady_offset(datetime(2026, 10, 25, 4), paris)
    assert steady is not None
    assert steady.utcoffset(None) == timedelta(hours=1)


def test_a_bad_date_is_still_refused_with_its_text() -> None:
    fast = instant_parser("%d/%m/%Y %H:%M", ZoneInfo("Europe/Paris"))
    with pytest.raises(ValueProblem, match="31/02/2026 10:00"):
        fast("31/02/2026 10:00")


HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce\r\n"
)


def test_a_message_read_in_many_chunks_learns_each_partner_reference_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two rows: a link seen in an earlier chunk is not written again, and a
    link first seen in a later chunk is still learnt."""
    monkeypatch.setattr(hub.partners.ingest.message, "CHUNK", 2)
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
        open_case(connection, make_case("ME-000124"))
    lines = [
        "AD-1;ME-000123;03/11/2026;09:00;REC;Reçu;;;;",
        "AD-1;ME-000123;03/11/2026;10:00;DIA;Diagnostic;;;;",
        "AD-1;ME-000123;03/11/2026;11:00;REP;Réparation;;;;",
        "AD-2;ME-000124;03/11/2026;12:00;REC;Reçu;;;;",
        "AD-2;ME-000124;03/11/2026;13:00;DIA;Diagnostic;;;;",
    ]
    content = (HEADER + "".join(line + "\r\n" for line in lines)).encode("latin-1")
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    message = RawMessage(MessageRef("STATUTS_20261103_1415.csv", len(content)), content)
    outcome = ingest_message(database, "atelier-dupont-status", pipeline, message)
    assert outcome.counts.events_stored == 5
    assert outcome.counts.rejected == 0
    with database.transaction() as connection:
        links = connection.execute(
            select(cases.c.reference, case_references.c.reference)
            .join(cases, cases.c.id == case_references.c.case_id)
            .where(case_references.c.party_id == "atelier-dupont")
            .order_by(case_references.c.reference)
        ).all()
    assert [tuple(link) for link in links] == [("ME-000123", "AD-1"), ("ME-000124", "AD-2")]


@pytest.mark.parametrize("copy_from", [1, 1_000_000], ids=["copy", "unnest"])
def test_a_large_chunk_is_stored_in_file_order_once_whichever_way_it_goes_in(
    database: Database, monkeypatch: pytest.MonkeyPatch, copy_from: int
) -> None:
    """PostgreSQL's COPY path (from ``PG_COPY_FROM`` rows) and its ``unnest`` path store
    the same events: file order in ``events`` and in the feed, known ids skipped,
    details, offsets and orphans kept. On SQLite both runs take the one path."""
    monkeypatch.setattr(hub.store.bulk, "PG_COPY_FROM", copy_from)
    register_network(database)
    with database.transaction() as connection:
        for number in range(3):
            open_case(connection, make_case(f"ME-00012{number}"))
    lines = [
        f"AD-{n % 4};ME-00012{n % 4};{1 + n // 60:02d}/11/2026;{(n // 4) % 24:02d}:{n % 60:02d};"
        f"{'DEV' if n % 5 == 0 else 'REC'};Libellé {n};Note {n};;{'12,50' if n % 5 == 0 else ''};"
        for n in range(240)
    ]
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()

    def ingest(name: str, chosen: list[str]) -> RunCounts:
        content = (HEADER + "".join(line + "\r\n" for line in chosen)).encode("latin-1")
        message = RawMessage(MessageRef(name, len(content)), content)
        return ingest_message(database, "atelier-dupont-status", pipeline, message).counts

    first = ingest("STATUTS_20261103_0900.csv", lines[::3])
    assert (first.events_stored, first.duplicates) == (80, 0)
    second = ingest("STATUTS_20261103_1415.csv", lines)
    assert (second.events_stored, second.duplicates, second.rejected) == (160, 80, 0)
    with database.transaction() as connection:
        stored = connection.execute(
            select(events.c.seq, events.c.raw_label, events.c.case_id, events.c.details)
            .where(events.c.message_id.is_not(None))
            .order_by(events.c.seq)
        ).all()
        fed = connection.execute(
            select(feed_entries.c.event_seq).order_by(feed_entries.c.position)
        ).scalars()
        fed_seqs = [seq for seq in fed if seq in {row.seq for row in stored}]
    expected = [n for n in range(0, 240, 3)] + [n for n in range(240) if n % 3]
    assert [row.raw_label for row in stored] == [f"Libellé {n}" for n in expected]
    assert fed_seqs == [row.seq for row in stored if row.case_id is not None]
    orphans = {row.raw_label for row in stored if row.case_id is None}
    assert orphans == {f"Libellé {n}" for n in range(240) if n % 4 == 3}
    quoted = [row.details for row in stored if row.raw_label == "Libellé 5"]
    assert len(quoted) == 1
    assert "12.5" in str(quoted[0]), quoted


def test_a_copy_meeting_a_stored_id_leaves_the_transaction_whole(database: Database) -> None:
    """A large chunk goes into ``events`` by one COPY in a savepoint (on PostgreSQL).
    When some of its ids are stored already, that COPY fails whole, the savepoint keeps
    what the transaction wrote before it, and the chunk's new events alone are stored,
    once each, reported in file order; the transaction goes on and commits them all.
    SQLite takes its one path, with the same outcome."""
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    start = datetime(2026, 11, 1, tzinfo=ZoneInfo("Europe/Paris"))
    made = [
        case_event("received", start + timedelta(minutes=n), code=f"C{n}")
        for n in range(2 * hub.store.bulk.PG_COPY_FROM)
    ]
    half = len(made) // 2
    with database.transaction() as connection:
        (case_id,) = connection.execute(
            select(cases.c.id).where(cases.c.reference == "ME-000123")
        ).one()
        first = hub.store.bulk.insert_events(
            connection, made[:half], [case_id] * half, message_id=None
        )
        second = hub.store.bulk.insert_events(
            connection, made, [case_id] * len(made), message_id=None
        )
        counted = connection.execute(select(events.c.event_id).order_by(events.c.seq)).all()
    assert first == [event.id for event in made[:half]]
    assert second == [event.id for event in made[half:]]
    stored = [row.event_id for row in counted if row.event_id in {e.id for e in made}]
    assert stored == [event.id for event in made]


def test_sqlite_returns_ids_only_from_a_statement_that_met_a_stored_one(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite each statement's rows go in once, skipping stored ids; when the driver
    counts all of them written their ids are the rows' own, and a statement that met a
    stored id is followed by one read of that many newest ids, exactly its new ones
    (issue 17, seventeenth pass: no statement aborted and run again). Statements before
    and after it read nothing. PostgreSQL (its ``unnest`` here) reports the same."""
    monkeypatch.setattr(hub.store.bulk, "SQLITE_ROWS_PER_STATEMENT", 10)
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    start = datetime(2026, 11, 1, tzinfo=ZoneInfo("Europe/Paris"))
    made = [case_event("received", start + timedelta(minutes=n), code=f"C{n}") for n in range(30)]
    with database.transaction() as connection:
        (case_id,) = connection.execute(
            select(cases.c.id).where(cases.c.reference == "ME-000123")
        ).one()
        before = hub.store.bulk.insert_events(
            connection, made[12:15], [case_id] * 3, message_id=None
        )
        with recorded(database) as ran:
            stored = hub.store.bulk.insert_events(
                connection, made, [case_id] * len(made), message_id=None
            )
        counted = connection.execute(select(events.c.event_id).order_by(events.c.seq)).all()
    assert before == [e.id for e in made[12:15]]
    assert stored == [e.id for n, e in enumerate(made) if not 12 <= n < 15]
    ours = [row.event_id for row in counted if row.event_id in {e.id for e in made}]
    assert ours == [e.id for e in made[12:15]] + stored
    if database.dialect == "sqlite":
        kinds = [
            "insert" if one.sql.startswith("INSERT INTO events") else "newest"
            for one in ran
            if one.sql.startswith(("INSERT INTO events", "SELECT event_id FROM events"))
        ]
        assert kinds == ["insert", "insert", "newest", "insert"]
        assert not any("RETURNING" in one.sql for one in ran)


def test_a_column_empty_in_a_whole_sqlite_statement_is_written_null(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a column NULL in every row of a statement is written ``NULL`` in it
    rather than bound; a column NULL in some rows only is bound as before. What is stored
    is the same either way, on both databases (PostgreSQL's ``unnest`` here)."""
    monkeypatch.setattr(hub.store.bulk, "SQLITE_ROWS_PER_STATEMENT", 4)
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    start = datetime(2026, 11, 1, tzinfo=ZoneInfo("Europe/Paris"))
    made = [case_event("received", start + timedelta(minutes=n), code=f"C{n}") for n in range(8)]
    # The second statement's rows: a subject on two, details on one, no case on one.
    made[4] = made[4].model_copy(update={"subject": "1Z999"})
    made[6] = made[6].model_copy(update={"subject": "1Z998"})
    made[5] = made[5].model_copy(update={"details": EventDetails(note="Pièce HS")})
    with database.transaction() as connection:
        (case_id,) = connection.execute(
            select(cases.c.id).where(cases.c.reference == "ME-000123")
        ).one()
        case_ids: list[int | None] = [case_id] * 8
        case_ids[7] = None
        with recorded(database) as ran:
            stored = hub.store.bulk.insert_events(connection, made, case_ids, message_id=None)
        rows = connection.execute(
            select(events.c.event_id, events.c.case_id, events.c.subject, events.c.details)
            .where(events.c.event_id.in_([e.id for e in made]))
            .order_by(events.c.seq)
        ).all()
    assert stored == [e.id for e in made]
    assert [tuple(row) for row in rows] == [
        (
            e.id,
            case_ids[n],
            e.subject,
            {"note": "Pièce HS"} if n == 5 else None,
        )
        for n, e in enumerate(made)
    ]
    if database.dialect == "sqlite":
        bound = [
            (one.sql.split(" VALUES ")[1].split("), (")[0], len(one.parameters))
            for one in ran
            if one.sql.startswith("INSERT INTO events") and " VALUES " in one.sql
        ]
        columns = len(hub.store.bulk.COLUMNS)
        # First: partner_ref, raw_label, subject, details, message_id NULL in every row.
        first, second = bound
        assert first[0].count("NULL") == 5
        assert first[1] == 4 * (columns - 5)
        # Second: partner_ref, raw_label and message_id alone NULL throughout.
        assert second[0].count("NULL") == 3
        assert second[1] == 4 * (columns - 3)


def test_a_large_chunk_naming_a_missing_case_is_a_store_conflict(database: Database) -> None:
    """A foreign key a chunk breaks is raised as the store's conflict on both databases,
    COPY or not, so that callers telling errors apart (the API, a concurrent twin) still
    can; nothing of the chunk stays."""
    start = datetime(2026, 11, 1, tzinfo=ZoneInfo("Europe/Paris"))
    made = [
        case_event("received", start + timedelta(minutes=n), code=f"C{n}")
        for n in range(hub.store.bulk.PG_COPY_FROM)
    ]
    with pytest.raises(StoreConflict), database.transaction() as connection:
        hub.store.bulk.insert_events(connection, made, [987654] * len(made), message_id=None)
    with database.transaction() as connection:
        left = connection.execute(
            select(events.c.event_id).where(events.c.event_id.in_([e.id for e in made]))
        ).all()
    assert left == []


class _Undone(Exception):
    """Raised to roll a transaction back once its rows are read."""


@pytest.mark.parametrize("copy_from", [1, 1_000_000], ids=["copy", "unnest"])
def test_every_value_of_a_row_is_stored_the_same_whichever_way_it_goes_in(
    database: Database, monkeypatch: pytest.MonkeyPatch, copy_from: int
) -> None:
    """PostgreSQL's COPY goes in binary, each column's type said; its ``unnest`` path (and
    SQLite's one path) sends the values themselves (PostgreSQL's arrays in binary). Both
    store the same values: texts with tabs, newlines, backslashes, quotes, commas, braces,
    the word NULL and accents, instants in zones and fixed offsets with and
    without microseconds, details as JSON, no status (unmapped), no case, the message's id."""
    monkeypatch.setattr(hub.store.bulk, "PG_COPY_FROM", copy_from)
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    # Zones and fixed offsets (as the parse gives), each for three events in a row.
    zones = [
        ZoneInfo("Europe/Paris"),
        timezone(timedelta(hours=2)),
        ZoneInfo("America/St_Johns"),
        UTC,
        timezone(-timedelta(hours=3, minutes=30)),
    ]
    made = [
        case_event(
            None if n % 7 == 0 else "received", datetime(2026, 3, 28, tzinfo=UTC), code=f"C{n}"
        ).model_copy(
            update={
                "partner_ref": None if n % 5 == 0 else f"AD-{n}",
                "raw_label": f'Libellé {n}\tcolonne\nligne \\N € «{n}» "q", {{b}} NULL',
                "subject": None if n % 2 else f"PP-{n}",
                "details": EventDetails(note=f"note\r\n{n}", serial_number=f"SN{n:08d}")
                if n % 3
                else EventDetails(),
                # Across Paris's change to summer time, each instant in its zone.
                "occurred_at": (
                    datetime(2026, 3, 28, 22, tzinfo=UTC)
                    + timedelta(minutes=37 * n, microseconds=n % 4 * 250_001)
                ).astimezone(zones[n // 3 % len(zones)]),
            }
        )
        for n in range(60)
    ]
    stored: list[str] = []
    rows: list[Row[Any]] = []
    case_ids: list[int | None] = []
    message_ids: list[int] = []

    def store_and_read() -> None:
        with database.transaction() as connection:
            message = RawMessage(MessageRef("F.csv", 7), b"fichier")
            message_ids.append(archive_message(connection, "atelier-dupont-status", message).id)
            (case_id,) = connection.execute(
                select(cases.c.id).where(cases.c.reference == "ME-000123")
            ).one()
            case_ids.extend(None if n % 4 == 3 else case_id for n in range(len(made)))
            stored.extend(
                hub.store.bulk.insert_events(connection, made, case_ids, message_id=message_ids[0])
            )
            rows.extend(
                connection.execute(
                    select(events)
                    .where(events.c.message_id == message_ids[0])
                    .order_by(events.c.seq)
                )
            )
            raise _Undone  # nothing stays

    with pytest.raises(_Undone):
        store_and_read()
    assert stored == [event.id for event in made]
    assert len(rows) == len(made)
    for row, event, case_id in zip(rows, made, case_ids, strict=True):
        assert (row.event_id, row.case_id, row.message_id) == (event.id, case_id, message_ids[0])
        assert (row.case_ref, row.partner_ref, row.subject) == (
            event.case_ref,
            event.partner_ref,
            event.subject,
        )
        status = None if event.status is None else event.status.value
        assert (row.type, row.status, row.unmapped) == ("case_status", status, status is None)
        assert row.occurred_at == event.occurred_at
        assert row.occurred_at.microsecond == event.occurred_at.microsecond
        offset = event.occurred_at.utcoffset()
        assert offset is not None
        assert row.occurred_offset_minutes == offset.total_seconds() // 60
        assert row.recorded_at == event.recorded_at
        assert (row.reported_by, row.raw_code, row.raw_label) == (
            event.reported_by,
            event.raw_code,
            event.raw_label,
        )
        assert (row.details or {}) == event.details.model_dump(mode="json", exclude_defaults=True)


@settings(max_examples=300, deadline=None)
@given(
    at=st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.sampled_from(
            [
                UTC,
                ZoneInfo("Europe/Paris"),
                ZoneInfo("Australia/Lord_Howe"),
                timezone(-timedelta(hours=14)),
            ]
        ),
    ),
    later=st.tuples(st.integers(0, 59), st.integers(0, 59), st.sampled_from([0, 0, 1, 999_999])),
)
def test_an_instant_s_sqlite_text_is_its_utc_isoformat(
    at: datetime, later: tuple[int, int, int]
) -> None:
    """The text an instant is stored as on SQLite is the UTC ``isoformat`` SQLAlchemy's
    form was written from: the first time of its hour, again, and at another minute,
    second and microsecond of that hour (its hour's text kept)."""
    minute, second, microsecond = later
    again = at.replace(minute=minute, second=second, microsecond=microsecond)
    for instant in (at, at, again):
        expected = instant.astimezone(UTC).isoformat(" ", "microseconds")[:-6]
        assert sqlite_time()(instant) == expected


def test_every_event_the_hub_makes_holds_its_fields_in_its_dict_by_name() -> None:
    """The storing side reads an event's fields, and its details' shipment, from the
    model's ``__dict__`` (issue 17, thirteenth pass): every way the hub makes an event
    (validated, by a mapping's plan and by its general path, copied with its case by
    the resolution, read back from a stored row) holds each field there, by name, with
    the value its attribute gives."""
    from hub.errors import PartnerDataError
    from hub.model.event import Event
    from hub.store.event_rows import row_to_event

    recorded_at = datetime(2026, 11, 3, 14, 15, tzinfo=UTC)
    pipeline = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status").pipeline()
    content = (ROOT / "fixtures/atelier-dupont/STATUTS_20261103_1415.csv").read_bytes()
    planned = [
        item
        for item in pipeline.parse(content, source="s.csv", recorded_at=recorded_at)
        if isinstance(item, Event)
    ]
    general = [
        pipeline.mapping.map_record_in_full(record, source="s.csv", recorded_at=recorded_at)
        for record in pipeline.codec.decode(content, source="s.csv")
        if not isinstance(record, PartnerDataError)
    ]
    shipped = case_event("repaired", datetime(2026, 3, 2, 10, tzinfo=UTC)).model_copy(
        update={
            "details": EventDetails.model_validate({"shipment": {"tracking_number": "XP-1234"}})
        }
    )
    made = [case_event("repaired", datetime(2026, 3, 2, 10, tzinfo=UTC)), shipped, *planned]
    made += [event for event in general if isinstance(event, Event)]
    made += [event.model_copy(update={"case_ref": "ME-000999"}) for event in made[:4]]
    made += [
        row_to_event(
            _AsRow(
                event_id=event.id,
                case_ref=event.case_ref,
                partner_ref=event.partner_ref,
                type=event.type.value,
                status=None if event.status is None else event.status.value,
                occurred_at=event.occurred_at,
                occurred_offset_minutes=60,
                recorded_at=event.recorded_at,
                reported_by=event.reported_by,
                raw_code=event.raw_code,
                raw_label=event.raw_label,
                subject=event.subject,
                details=event.details.model_dump(mode="json", exclude_defaults=True),
            )
        )
        for event in made[:4]
    ]
    assert len(planned) >= 3
    assert len(general) >= 3
    for event in made:
        assert event.__dict__ == {name: getattr(event, name) for name in Event.model_fields}
        assert event.details.__dict__["shipment"] is event.details.shipment
    assert shipped.details.__dict__["shipment"].tracking_number == "XP-1234"


class _AsRow:
    """A stored row's columns by name, as the store's reads give them."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)
