"""The event store and derived case state, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.errors import ConflictError, NotFoundError
from hub.model import CaseStatus, Event, EventDetails, EventType, Money, Quote, derive_case_state
from hub.ports import MessageRef, RawMessage
from hub.store.archive import archive_message, is_archived, message_content
from hub.store.case_links import (
    Candidate,
    RecordedBy,
    learn_partner_references,
    reference_candidates,
)
from hub.store.cases import (
    case_state,
    get_case,
    open_case,
    opening_event,
)
from hub.store.connector_state import read_cursor, write_cursor
from hub.store.db import Database
from hub.store.events import append_events, count_events
from hub.store.tables import events as events_table
from hub.store.tables import raw_messages
from tests.conftest import empty_tables
from tests.factories import T0, case_event, make_case, register_network
from tests.strategies import CASE_REF, arrivals, event_sets

STORE_EXAMPLES = 150


@pytest.fixture
def hub_db(database: Database) -> Database:
    register_network(database)
    return database


def test_opening_a_case_starts_its_timeline(hub_db: Database) -> None:
    with hub_db.transaction() as connection:
        opened = open_case(connection, make_case())
        state = case_state(connection, "ME-000123")
    assert opened.created
    assert opened.record.status is CaseStatus.CREATED
    assert [e.status for e in state.timeline] == [CaseStatus.CREATED]
    assert state.timeline[0].reported_by == "maison-electro"


def test_opening_is_idempotent_and_refuses_a_different_case_with_the_same_reference(
    hub_db: Database,
) -> None:
    with hub_db.transaction() as connection:
        open_case(connection, make_case())
        again = open_case(connection, make_case())
    assert not again.created
    with pytest.raises(ConflictError, match="ME-000123"), hub_db.transaction() as connection:
        open_case(connection, make_case(fault="Fait du bruit"))


def test_a_case_for_an_unknown_retailer_is_refused(hub_db: Database) -> None:
    with pytest.raises(NotFoundError, match="nobody"), hub_db.transaction() as connection:
        open_case(connection, make_case(retailer="nobody"))


def test_append_is_idempotent_and_moves_the_status_forward(hub_db: Database) -> None:
    received = case_event("received", T0)
    quote = case_event("quote_pending", T0 + timedelta(hours=5))
    with hub_db.transaction() as connection:
        open_case(connection, make_case())
        first = append_events(connection, [received, quote, received])
        second = append_events(connection, [quote])
        record = get_case(connection, "ME-000123")
    assert (first.stored, first.duplicates) == (2, 1)
    assert (second.stored, second.duplicates) == (0, 1)
    assert record is not None
    assert record.status is CaseStatus.QUOTE_PENDING
    assert record.status_at == quote.occurred_at


def test_a_late_event_is_stored_without_dragging_the_status_back(hub_db: Database) -> None:
    with hub_db.transaction() as connection:
        open_case(connection, make_case())
        append_events(connection, [case_event("diagnosing", T0)])
        late = append_events(
            connection,
            [case_event("in_transit_to_repairer", T0 - timedelta(days=1), by="colis-express")],
        )
        record = get_case(connection, "ME-000123")
        timeline = case_state(connection, "ME-000123").timeline
    assert late.stored == 1
    assert record is not None
    assert record.status is CaseStatus.DIAGNOSING
    assert [e.status for e in timeline] == [
        CaseStatus.CREATED,
        CaseStatus.IN_TRANSIT_TO_REPAIRER,
        CaseStatus.DIAGNOSING,
    ]


def test_events_round_trip_with_their_offset_and_details(hub_db: Database) -> None:
    paris_summer = timezone(timedelta(hours=2))
    event = Event(
        id="atelier-dupont:quote-1",
        case_ref="ME-000123",
        partner_ref="AD-2026-004512",
        type=EventType.CASE_STATUS,
        status=CaseStatus.QUOTE_PENDING,
        occurred_at=datetime(2026, 6, 3, 14, 5, 30, 123456, tzinfo=paris_summer),
        reported_by="atelier-dupont",
        raw_code="DEV",
        raw_label="Devis émis",
        details=EventDetails(
            quote=Quote(amount_incl_tax=Money(amount="149.90", currency="EUR")),  # type: ignore[arg-type]
            note="Carte mère HS; remplacement conseillé",
        ),
        recorded_at=datetime(2026, 6, 3, 12, 10, tzinfo=UTC),
    )
    with hub_db.transaction() as connection:
        open_case(connection, make_case())
        append_events(connection, [event])
        stored = [e for e in case_state(connection, "ME-000123").timeline if e.id == event.id]
    assert stored == [event]
    assert stored[0].occurred_at.utcoffset() == timedelta(hours=2)


def test_unmapped_and_orphan_events_are_kept_and_counted(hub_db: Database) -> None:
    unknown = case_event(None, T0, code="XYZ")
    orphan = case_event("received", T0, case_ref="ME-999999")
    with hub_db.transaction() as connection:
        open_case(connection, make_case())
        result = append_events(connection, [unknown, orphan])
        assert count_events(connection) == 3
    assert (result.stored, result.unmapped, result.orphans) == (2, 1, 1)


def test_events_that_arrive_before_their_case_are_attached_when_it_opens(
    hub_db: Database,
) -> None:
    early = case_event("received", T0 + timedelta(days=3), case_ref="BM-000045")
    with hub_db.transaction() as connection:
        append_events(connection, [early])
        opened = open_case(connection, make_case("BM-000045"))
        linked = connection.execute(
            select(events_table.c.case_id).where(events_table.c.event_id == early.id)
        ).scalar_one()
    assert linked == opened.record.id
    assert opened.record.status is CaseStatus.RECEIVED


def test_naive_times_never_reach_the_database(hub_db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), hub_db.transaction() as connection:
        connection.execute(
            raw_messages.insert(),
            {
                "source": "x",
                "name": "x",
                "sha256": "0" * 64,
                "size": 0,
                "content": b"",
                "compression": "none",
                "received_at": datetime(2026, 11, 3, 9, 0),
                "meta": {},
            },
        )


def test_party_references_find_the_case_and_remember_who_recorded_them(
    hub_db: Database,
) -> None:
    with hub_db.transaction() as connection:
        open_case(
            connection,
            make_case(references=[{"party": "techniservice", "reference": "TS-88121"}]),
        )
        learn_partner_references(connection, {("ME-000123", "atelier-dupont", "AD-2026-004512")})
        learn_partner_references(connection, {("ME-000123", "atelier-dupont", "AD-2026-004512")})
        # A second number for the same case and party: the first one stays.
        learn_partner_references(connection, {("ME-000123", "atelier-dupont", "AD-OTHER")})
        found = reference_candidates(
            connection,
            {
                ("techniservice", "TS-88121"),
                ("atelier-dupont", "AD-2026-004512"),
                ("atelier-dupont", "AD-OTHER"),
                ("atelier-dupont", "AD-0"),
            },
        )
    assert found == {
        ("techniservice", "TS-88121"): [Candidate("ME-000123", RecordedBy.RETAILER, False)],
        ("atelier-dupont", "AD-2026-004512"): [Candidate("ME-000123", RecordedBy.PARTNER, False)],
    }


def test_the_archive_keeps_bytes_exactly_and_recognises_them(hub_db: Database) -> None:
    latin1 = "N° dossier;Réf. client\r\nAD-1;ME-000123\r\n".encode("latin-1")
    message = RawMessage(MessageRef("STATUTS_20261103_1415.csv", len(latin1)), latin1)
    with hub_db.transaction() as connection:
        first = archive_message(connection, "atelier-dupont-status", message)
        again = archive_message(connection, "atelier-dupont-status", message)
        other_source = archive_message(connection, "elsewhere", message)
        assert message_content(connection, first.id) == latin1
        assert is_archived(connection, "atelier-dupont-status", latin1)
        assert not is_archived(connection, "atelier-dupont-status", latin1 + b"x")
    assert not first.duplicate
    assert again.duplicate
    assert again.id == first.id
    assert not other_source.duplicate
    assert first.sha256 == hashlib.sha256(latin1).hexdigest()


def test_a_large_message_is_stored_compressed_and_read_back_exactly(hub_db: Database) -> None:
    content = (
        "AD-2026-004512;ME-000123;03/11/2026;09:12;REC;Reçu atelier\r\n".encode("latin-1") * 2_000
    )
    message = RawMessage(MessageRef("STATUTS_big.csv", len(content)), content)
    with hub_db.transaction() as connection:
        archived = archive_message(connection, "atelier-dupont-status", message)
        stored = connection.execute(
            select(raw_messages.c.content, raw_messages.c.compression, raw_messages.c.size)
        ).one()
        assert message_content(connection, archived.id) == content
    assert stored.compression == "zlib"
    assert stored.size == len(content)
    assert len(stored.content) < len(content) / 10


@settings(
    max_examples=STORE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), originals=event_sets)
def test_store_gives_the_same_state_for_any_arrival_order(
    hub_db: Database, data: st.DataObject, originals: list[Event]
) -> None:
    """Events delivered shuffled, duplicated and in random batches; case opened midway."""
    empty_tables(hub_db)
    register_network(hub_db)
    delivered = data.draw(arrivals(originals))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(delivered)), max_size=4)))
    batches = [delivered[a:b] for a, b in zip([0, *cuts], [*cuts, len(delivered)], strict=True)]
    open_after = data.draw(st.integers(0, len(batches)))
    case = make_case(CASE_REF, opened_at=T0 - timedelta(days=30))
    opened_at = T0 + timedelta(days=60)
    with hub_db.transaction() as connection:
        for index, batch in enumerate(batches):
            if index == open_after:
                open_case(connection, case, now=opened_at)
            append_events(connection, batch)
        if open_after >= len(batches):
            open_case(connection, case, now=opened_at)
    with hub_db.transaction() as connection:
        stored = case_state(connection, CASE_REF)
        record = get_case(connection, CASE_REF)
    expected = derive_case_state([*originals, opening_event(case, recorded_at=opened_at)])
    assert stored.timeline == expected.timeline
    assert stored.status == expected.status
    assert record is not None
    assert (record.status, record.status_at) == (expected.status, expected.status_at)


def test_a_cursor_moves_only_with_its_transaction(hub_db: Database) -> None:
    with hub_db.transaction() as connection:
        assert read_cursor(connection, "techniservice-changes") is None
        write_cursor(connection, "techniservice-changes", "c2VxPTQ0MTE=")

    def failing_page() -> None:
        with hub_db.transaction() as connection:
            write_cursor(connection, "techniservice-changes", "c2VxPTQ0MTI=")
            append_events(connection, [case_event("received", T0, case_ref="ME-404")])
            raise RuntimeError("the page's events failed to store")

    with pytest.raises(RuntimeError):
        failing_page()
    with hub_db.transaction() as connection:
        assert read_cursor(connection, "techniservice-changes") == "c2VxPTQ0MTE="
        assert count_events(connection) == 0
        write_cursor(connection, "techniservice-changes", "c2VxPTQ0MTI=")
        assert read_cursor(connection, "techniservice-changes") == "c2VxPTQ0MTI="
        assert read_cursor(connection, "techniservice-changes", "other") is None
