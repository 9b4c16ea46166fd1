"""Each feed entry's stored status-after (hub.store.feed_status) is the one the case's
timeline gives at the entry's feed position: filled in batches, served as stored, computed
for entries not filled yet, and never stored for an entry an uncommitted one precedes."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from hub.bootstrap import Hub as HubProcess
from hub.model import Event, EventType, ShipmentStatus
from hub.model.statuses import CaseStatus
from hub.model.timeline import derive_case_state
from hub.partners.connectors import open_network
from hub.partners.schedule import FEED_STATUSES_EVERY
from hub.retailers.feed import fill_feed_statuses, item_json, read_feed
from hub.store import erasure as erasure_store
from hub.store.bulk import insert_events
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.feed import FeedRow
from hub.store.feed_status import NO_STATUS, StatusEntry, fill_statuses_after, statuses_after
from hub.store.migrate import downgrade, upgrade
from hub.store.tables import cases, events, feed_entries
from tests.api_support import Hub, Tenant, case_json, make_hub
from tests.conftest import empty_tables
from tests.factories import T0, case_event
from tests.locks import assert_writer_held

REFERENCES = ["ME-000001", "ME-000002", "ME-000003", "ME-000004", "BM-000001", "BM-000002"]
CASE_STATUSES = [status.value for status in CaseStatus]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def hub(database: Database) -> Hub:
    return make_hub(database)


@pytest.fixture
def postgres_database(migrated_postgres: Database) -> Database:
    """PostgreSQL alone: on SQLite a second writer waits for the first to commit."""
    empty_tables(migrated_postgres)
    return migrated_postgres


def _tenant(hub: Hub, reference: str) -> Tenant:
    return hub.me if reference.startswith("ME-") else hub.bm


def _open(hub: Hub, reference: str) -> None:
    response = hub.client.post(
        "/v1/cases", json=case_json(reference), headers=_tenant(hub, reference).headers
    )
    assert response.status_code == 201, response.text


def _random_event(rng: random.Random, number: int, reference: str) -> Event:
    """A case status (mapped or not, instants drawn from a few so that ties happen) or a
    parcel scan, which moves no case status."""
    at = T0 + timedelta(hours=rng.randrange(6))
    if rng.random() < 0.2:
        return Event(
            id=f"colis-express:{number}",
            case_ref=reference,
            type=EventType.SHIPMENT_STATUS,
            status=ShipmentStatus.IN_TRANSIT,
            occurred_at=at,
            reported_by="colis-express",
            raw_code="TRN",
            subject="6A12345678901",
        )
    status = None if rng.random() < 0.15 else rng.choice(CASE_STATUSES)
    return case_event(status, at, case_ref=reference, code=f"C{number}")


def _feed(hub: Hub, tenant: Tenant, limit: int) -> list[tuple[str, str | None]]:
    """(event id, status after) of every item of the tenant's feed, page by page."""
    items: list[tuple[str, str | None]] = []
    after: str | None = None
    while True:
        with hub.database.transaction() as connection:
            page = read_feed(connection, tenant.retailer, after=after, limit=limit)
        items.extend(
            (item.event.id, None if item.case_status_after is None else item.case_status_after)
            for item in page.items
        )
        if not page.has_more:
            return items
        after = page.next_cursor


def _expected(hub: Hub, tenant: Tenant) -> list[tuple[str, str | None]]:
    """The oracle: each item's case status is the timeline's (hub.model.timeline) over the
    case's events at or before the item in the feed."""
    with hub.database.transaction() as connection:
        page = read_feed(connection, tenant.retailer, after=None, limit=500)
    assert not page.has_more
    seen: dict[str, list[Event]] = {}
    expected: list[tuple[str, str | None]] = []
    for item in page.items:
        prefix = seen.setdefault(item.case_reference, [])
        prefix.append(item.event)
        status = derive_case_state(prefix).status
        expected.append((item.event.id, None if status is None else status.value))
    return expected


def _stored(database: Database) -> dict[str, str | None]:
    """event id -> the status-after stored with its entry (None when not filled)."""
    with database.transaction() as connection:
        rows = connection.execute(
            select(events.c.event_id, feed_entries.c.status_after).join(
                feed_entries, feed_entries.c.event_seq == events.c.seq
            )
        ).all()
    return {row.event_id: row.status_after for row in rows}


def _unfilled(database: Database) -> int:
    with database.transaction() as connection:
        return int(
            connection.execute(
                select(func.count()).where(feed_entries.c.status_after.is_(None))
            ).scalar_one()
        )


def _served(value: str | None) -> str | None:
    return None if value == NO_STATUS else value


@pytest.mark.parametrize("seed", range(4))
def test_stored_statuses_after_are_the_timelines_on_random_histories(hub: Hub, seed: int) -> None:
    """Random events over six cases of two retailers, some before their case opens (they
    enter the feed when it does), partial fills in between: pages read before and after
    the last fill, whatever their size, and the stored values are the oracle's."""
    rng = random.Random(seed)
    opened: set[str] = set()
    number = 0
    for _ in range(12):
        for reference in rng.sample(REFERENCES, 2):
            if reference not in opened and rng.random() < 0.5:
                _open(hub, reference)
                opened.add(reference)
        batch = []
        for _ in range(rng.randrange(1, 6)):
            number += 1
            batch.append(_random_event(rng, number, rng.choice(REFERENCES)))
        with hub.database.transaction() as connection:
            append_events(connection, batch)
        if rng.random() < 0.4:
            with hub.database.transaction() as connection:
                fill_statuses_after(connection, item_json, rng.randrange(1, 8))
    for reference in sorted(set(REFERENCES) - opened):
        _open(hub, reference)  # their early events enter the feed now, at its end
    assert _unfilled(hub.database) > 0, "the pages below meet entries not filled yet"
    for tenant in (hub.me, hub.bm):
        expected = _expected(hub, tenant)
        assert len(expected) > 5
        for limit in (1, 3, 7, 500):
            assert _feed(hub, tenant, limit) == expected
    assert fill_feed_statuses(hub.database, batch=5, pause=False) > 0
    assert _unfilled(hub.database) == 0
    stored = _stored(hub.database)
    for tenant in (hub.me, hub.bm):
        expected = _expected(hub, tenant)
        assert [(event_id, _served(stored[event_id])) for event_id, _ in expected] == expected
        for limit in (1, 4, 500):
            assert _feed(hub, tenant, limit) == expected
    # entries with others between them (the fill never leaves such gaps, but may meet them)
    entries = _entries(hub.database)
    some = sorted(rng.sample(range(len(entries)), len(entries) // 3))
    with hub.database.transaction() as connection:
        computed = statuses_after(connection, [entries[i] for i in some], contiguous=False)
    assert computed == [_served(stored[entries[i].event_id]) for i in some]


def _entries(database: Database) -> list[StatusEntry]:
    """Every entry of the feed, in feed order, as the fill reads them."""
    with database.transaction() as connection:
        rows = connection.execute(
            select(
                feed_entries.c.txid,
                feed_entries.c.position,
                feed_entries.c.case_id,
                feed_entries.c.case_status,
                feed_entries.c.occurred_at,
                events.c.event_id,
            )
            .join(events, events.c.seq == feed_entries.c.event_seq)
            .order_by(feed_entries.c.txid, feed_entries.c.position)
        ).all()
    return [StatusEntry._make(row) for row in rows]


def test_a_page_computes_the_status_of_entries_not_filled_yet(hub: Hub) -> None:
    """The fallback: a page straddling filled and unfilled entries serves the same values
    as when all are filled, and as the route's JSON."""
    _open(hub, "ME-000001")
    with hub.database.transaction() as connection:
        append_events(connection, [case_event("received", T0, case_ref="ME-000001")])
    with hub.database.transaction() as connection:
        fill_statuses_after(connection, item_json, 10)
    with hub.database.transaction() as connection:  # late: before "received" in the timeline
        append_events(
            connection,
            [
                case_event("pickup_requested", T0 - timedelta(days=1), case_ref="ME-000001"),
                case_event("diagnosing", T0 + timedelta(hours=2), case_ref="ME-000001"),
            ],
        )
    stored = _stored(hub.database)
    assert sum(value is None for value in stored.values()) == 2
    response = hub.client.get("/v1/feed", headers=hub.me.headers)
    assert response.status_code == 200, response.text
    served = [item["case_status_after"] for item in response.json()["items"]]
    assert served == ["created", "received", "received", "diagnosing"]
    assert _feed(hub, hub.me, 2) == _expected(hub, hub.me)
    fill_feed_statuses(hub.database, pause=False)
    assert set(_stored(hub.database).values()) == {"created", "received", "diagnosing"}
    again = hub.client.get("/v1/feed", headers=hub.me.headers)
    assert again.content == response.content


def test_an_event_attached_later_leaves_the_stored_statuses_of_others_right(hub: Hub) -> None:
    """An event that came before its case enters the feed at the end when the case opens:
    entries already filled keep values that are still the oracle's."""
    _open(hub, "ME-000001")
    with hub.database.transaction() as connection:
        append_events(
            connection,
            [
                case_event("repaired", T0 + timedelta(days=3), case_ref="ME-000002"),
                case_event("received", T0, case_ref="ME-000001"),
            ],
        )
    fill_feed_statuses(hub.database, pause=False)
    before = _stored(hub.database)
    _open(hub, "ME-000002")
    with hub.database.transaction() as connection:
        append_events(connection, [case_event("diagnosing", T0, case_ref="ME-000002")])
    fill_feed_statuses(hub.database, pause=False)
    after = _stored(hub.database)
    assert {key: after[key] for key in before} == before
    expected = _expected(hub, hub.me)
    assert [(event_id, _served(after[event_id])) for event_id, _ in expected] == expected
    assert [status for _, status in expected][-3:] == ["repaired", "repaired", "repaired"]


@pytest.mark.postgres
def test_an_entry_ordered_after_an_uncommitted_one_is_filled_only_once_it_commits(
    postgres_database: Database,
) -> None:
    """Two transactions commit out of order: A (first in the feed, a later status) is
    still open when B commits. B cannot see A, so B's status-after is not stored until A
    has committed; then it is A's status, as the timeline says."""
    hub = make_hub(postgres_database)
    _open(hub, "ME-000001")
    with hub.database.transaction() as connection:
        case_id = connection.execute(
            select(cases.c.id).where(cases.c.reference == "ME-000001")
        ).scalar_one()
    event_a = case_event("repaired", T0 + timedelta(days=2), case_ref="ME-000001")
    event_b = case_event("received", T0, case_ref="ME-000001")
    with hub.database.engine.connect() as writer_a, hub.database.engine.connect() as writer_b:
        # straight into events (the triggers feed them), so A holds no lock B waits for
        insert_events(writer_a, [event_a], [case_id], message_id=None)
        insert_events(writer_b, [event_b], [case_id], message_id=None)
        writer_b.commit()
        fill_feed_statuses(hub.database, pause=False)
        stored = _stored(hub.database)
        assert event_a.id not in stored
        assert stored[event_b.id] is None, "not stored while an entry before it is open"
        assert [event_id for event_id, _ in _feed(hub, hub.me, 10)] == [_opening_id(hub)]
        writer_a.commit()
    assert fill_feed_statuses(hub.database, pause=False) == 2
    stored = _stored(hub.database)
    assert (stored[event_a.id], stored[event_b.id]) == ("repaired", "repaired")
    assert _feed(hub, hub.me, 10) == _expected(hub, hub.me)


def _opening_id(hub: Hub) -> str:
    with hub.database.transaction() as connection:
        found: Any = connection.execute(
            select(events.c.event_id).where(events.c.status == "created")
        ).scalar_one()
    return str(found)


def test_hub_serve_s_scheduler_fills_them_every_few_seconds(hub: Hub) -> None:
    """The job the scheduler runs: it stores every value it can, and nothing once the
    process is stopping."""
    network = open_network(ROOT / "connectors.yaml")
    served = HubProcess(hub.database, network, owner="test")
    job = {job.id: job for job in served.scheduler().get_jobs()}["feed-statuses"]
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == FEED_STATUSES_EVERY
    _open(hub, "ME-000001")
    with hub.database.transaction() as connection:
        append_events(connection, [case_event("received", T0, case_ref="ME-000001")])
    served.stopping.set()
    assert served.jobs.fill_feed_statuses() is None
    assert _unfilled(hub.database) == 2
    served.stopping.clear()
    assert served.jobs.fill_feed_statuses() == 2
    assert _unfilled(hub.database) == 0


def test_entries_there_before_migration_0018_are_computed_then_filled(hub: Hub) -> None:
    """Down to 0017 and up again: every entry is unfilled, as after the upgrade of a store
    with history; pages serve the same bytes before and after the fill, and the triggers
    still feed new events (dropping the column did not rebuild the tables)."""
    _open(hub, "ME-000001")
    with hub.database.transaction() as connection:
        append_events(
            connection,
            [
                case_event("received", T0, case_ref="ME-000001"),
                case_event("pickup_requested", T0 - timedelta(days=1), case_ref="ME-000001"),
            ],
        )
    fill_feed_statuses(hub.database, pause=False)
    before = hub.client.get("/v1/feed", headers=hub.me.headers).content
    downgrade(hub.database, "0017")
    upgrade(hub.database)
    assert _unfilled(hub.database) == 3
    assert hub.client.get("/v1/feed", headers=hub.me.headers).content == before
    assert fill_feed_statuses(hub.database, pause=False) == 3
    assert hub.client.get("/v1/feed", headers=hub.me.headers).content == before
    with hub.database.transaction() as connection:
        append_events(connection, [case_event("diagnosing", T0, case_ref="ME-000001")])
    assert _feed(hub, hub.me, 500)[-1] == (
        case_event("diagnosing", T0, case_ref="ME-000001").id,
        "diagnosing",
    )


def _unwritten(database: Database) -> dict[str, bool]:
    """event id -> whether its entry's item is still to be stored."""
    with database.transaction() as connection:
        rows = connection.execute(
            select(events.c.event_id, feed_entries.c.item_json).join(
                feed_entries, feed_entries.c.event_seq == events.c.seq
            )
        ).all()
    return {row.event_id: row.item_json is None for row in rows}


def test_entries_there_before_migration_0021_are_built_then_written(hub: Hub) -> None:
    """Down to 0020 and up again: every item is unstored, the statuses stay; pages serve
    the same bytes before and after the fill writes the items."""
    _open(hub, "ME-000001")
    with hub.database.transaction() as connection:
        append_events(connection, [case_event("received", T0, case_ref="ME-000001")])
    fill_feed_statuses(hub.database, pause=False)
    before = hub.client.get("/v1/feed", headers=hub.me.headers).content
    statuses = _stored(hub.database)
    downgrade(hub.database, "0020")
    upgrade(hub.database)
    assert set(_unwritten(hub.database).values()) == {True}
    assert _stored(hub.database) == statuses
    assert hub.client.get("/v1/feed", headers=hub.me.headers).content == before
    assert fill_feed_statuses(hub.database, pause=False) == 2
    assert set(_unwritten(hub.database).values()) == {False}
    assert _stored(hub.database) == statuses
    assert hub.client.get("/v1/feed", headers=hub.me.headers).content == before


def test_an_item_read_before_an_erasure_began_is_not_stored(hub: Hub) -> None:
    """The fill reads an entry, then its case's erasure is recorded before the fill
    writes: the status is stored, the item (read before the masking) is not, nor while
    the erasure is under way; once it has completed the fill stores it."""
    for reference in ("ME-000001", "ME-000002"):
        _open(hub, reference)
    with hub.database.transaction() as connection:
        case_id = connection.execute(
            select(cases.c.id).where(cases.c.reference == "ME-000001")
        ).scalar_one()
    erasing: list[int] = []
    path = hub.database.sqlite_file()
    # The erasure's writer: another Database, as another process's (a unit of the
    # fill's own Database inside its unit would be refused: UnitInsideUnit).
    eraser = Database(hub.database.url)

    def erasure_begins_meanwhile(row: FeedRow) -> bytes:
        if path is not None:
            # SQLite: the fill's unit holds the writer's lock from its BEGIN (issue 17,
            # seventeenth pass): no erasure can be recorded meanwhile; it waits.
            assert_writer_held(path)
        elif not erasing:
            with eraser.transaction() as other:
                erasure_store.record_request(other, case_id, by="test", at=T0)
            erasing.append(case_id)
        return item_json(row)

    with hub.database.transaction() as connection:
        assert fill_statuses_after(connection, erasure_begins_meanwhile) == 2
    eraser.dispose()
    if path is not None:
        assert not any(_unwritten(hub.database).values()), "both items stored"
        return
    assert set(_stored(hub.database).values()) == {"created"}
    unwritten = _unwritten(hub.database)
    erased_case = {event_id for event_id, left in unwritten.items() if left}
    assert len(erased_case) == 1, "the erased case's entry only"
    assert fill_feed_statuses(hub.database, pause=False) == 0, "not while under way"
    with hub.database.transaction() as connection:
        erasure_store.mark_completed(connection, case_id, at=T0)
    assert fill_feed_statuses(hub.database, pause=False) == 1
    assert not any(_unwritten(hub.database).values())
