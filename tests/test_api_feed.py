"""The feed: every event of the caller's cases once, in a total order no commit slips into."""

from __future__ import annotations

import base64
import random
import threading
import time
from datetime import UTC, timedelta, timezone
from itertools import pairwise
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import Select, select, update

from hub.api import feed as feed_route
from hub.api.models import FeedPageOut
from hub.model import Event, EventType, ShipmentStatus, stable_event_id
from hub.retailers.cursors import CursorKind, _keyed_tag, decode_cursor, encode_cursor
from hub.retailers.feed import fill_feed_statuses, item_json, read_feed
from hub.store import feed as store_feed
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.feed import FeedRow
from hub.store.feed_status import fill_statuses_after
from hub.store.tables import cases, events, feed_entries
from hub.store.types import aware
from tests.api_support import Hub, case_json, make_hub, serving
from tests.factories import T0, case_event

DRAIN_SECONDS = 60
"""On PostgreSQL the feed waits for every older writing transaction of the database."""


@pytest.fixture
def hub(database: Database) -> Hub:
    return make_hub(database)


def _open(hub: Hub, reference: str) -> None:
    tenant = hub.me if reference.startswith("ME-") else hub.bm
    response = hub.client.post("/v1/cases", json=case_json(reference), headers=tenant.headers)
    assert response.status_code == 201, response.text


def _page(hub: Hub, after: str | None = None, limit: int = 100) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
    response = hub.client.get("/v1/feed", params=params, headers=hub.me.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _parcel(at: Any, status: ShipmentStatus, case_ref: str = "ME-000123") -> Event:
    return Event(
        id=stable_event_id(
            reported_by="colis-express",
            case_ref=case_ref,
            type=EventType.SHIPMENT_STATUS,
            raw_code=status.value,
            occurred_at=at,
            subject="6A12345678901",
        ),
        case_ref=case_ref,
        type=EventType.SHIPMENT_STATUS,
        status=status,
        occurred_at=at,
        reported_by="colis-express",
        raw_code=status.value.upper(),
        raw_label="Colis livré",
        subject="6A12345678901",
    )


def test_each_item_carries_what_a_retailer_shows_and_the_status_after_it(hub: Hub) -> None:
    _open(hub, "ME-000123")
    with hub.database.transaction() as connection:
        append_events(connection, [case_event("received", T0, code="REC")])
    with hub.database.transaction() as connection:  # late: happened before "received"
        append_events(
            connection, [case_event("pickup_requested", T0 - timedelta(days=1), code="ENL")]
        )
    with hub.database.transaction() as connection:
        append_events(
            connection,
            [
                case_event("diagnosing", T0 + timedelta(hours=1), code="DIA"),
                _parcel(T0 + timedelta(hours=2), ShipmentStatus.DELIVERED),
                case_event(None, T0 + timedelta(hours=3), code="X47"),
            ],
        )
    items = _page(hub)["items"]
    assert [(i["status"], i["case_status_after"]) for i in items] == [
        ("created", "created"),
        ("received", "received"),
        ("pickup_requested", "received"),  # a late event does not drag the status back
        ("diagnosing", "diagnosing"),
        ("delivered", "diagnosing"),  # a parcel delivered is not the case delivered
        (None, "diagnosing"),
    ]
    received = items[1]
    assert received["case_reference"] == "ME-000123"
    assert received["type"] == "case_status"
    assert received["occurred_at"] == "2026-11-03T08:00:00Z"  # 09:00 Paris, in UTC
    assert received["reported_by"] == "atelier-dupont"
    assert received["raw_code"] == "REC"
    assert received["label"] == {"fr": "Reçu à l'atelier", "en": "Received at the workshop"}
    assert received["case_status_after_label"]["fr"] == "Reçu à l'atelier"
    parcel = items[4]
    assert (parcel["type"], parcel["subject"], parcel["raw_label"]) == (
        "shipment_status",
        "6A12345678901",
        "Colis livré",
    )
    assert parcel["label"]["en"] == "Delivered"
    assert items[5]["unmapped"] is True
    assert items[5]["label"] is None
    assert len({item["event_id"] for item in items}) == len(items)
    case = hub.client.get("/v1/cases/ME-000123", headers=hub.me.headers).json()
    assert case["status"] == items[-1]["case_status_after"]


def test_events_that_came_before_their_case_enter_the_feed_when_it_opens(hub: Hub) -> None:
    _open(hub, "ME-000001")
    start = _page(hub)["next_cursor"]
    with hub.database.transaction() as connection:  # the workshop is faster than the retailer
        append_events(connection, [case_event("received", T0, case_ref="ME-000123")])
    assert _page(hub, start)["items"] == []
    _open(hub, "ME-000123")
    items = _page(hub, start)["items"]
    assert [(i["case_reference"], i["status"], i["case_status_after"]) for i in items] == [
        ("ME-000123", "received", "received"),
        ("ME-000123", "created", "received"),  # opened (earlier) after the fact was known
    ]


def test_paging_resumes_after_any_cursor_and_an_empty_page_keeps_it(hub: Hub) -> None:
    for n in range(1, 6):
        _open(hub, f"ME-{n:06d}")
    everything = _page(hub)["items"]
    assert len(everything) == 5
    first = _page(hub, limit=2)
    assert first["has_more"] is True
    assert [i["event_id"] for i in first["items"]] == [i["event_id"] for i in everything[:2]]
    rest = _page(hub, first["next_cursor"], limit=500)
    assert [i["event_id"] for i in rest["items"]] == [i["event_id"] for i in everything[2:]]
    assert rest["has_more"] is False
    middle = _page(hub, everything[2]["cursor"])
    assert [i["event_id"] for i in middle["items"]] == [i["event_id"] for i in everything[3:]]
    end = _page(hub, rest["next_cursor"])
    assert end == {"items": [], "next_cursor": rest["next_cursor"], "has_more": False}


def test_a_cursor_issued_in_the_earlier_format_resumes_at_the_same_place(hub: Hub) -> None:
    """Retailers hold cursors of itsdangerous's format, issued before the tagged one
    (made here by itsdangerous itself): each resumes the feed after the same item as the
    cursor issued now for it."""
    for n in range(1, 6):
        _open(hub, f"ME-{n:06d}")
    everything = _page(hub)["items"]
    key = hub.me.retailer.cursor_key
    serializer = URLSafeSerializer(key, salt="hub cursor feed")
    for item in everything:
        position = decode_cursor(key, CursorKind.FEED, item["cursor"], arity=2)
        legacy = str(serializer.dumps(list(position)))
        assert "." in legacy
        assert "." not in item["cursor"]
        resumed, now = _page(hub, legacy), _page(hub, item["cursor"])
        assert (resumed["items"], resumed["has_more"]) == (now["items"], now["has_more"])
    assert [item["event_id"] for item in _page(hub, legacy)["items"]] == []
    second = decode_cursor(key, CursorKind.FEED, everything[1]["cursor"], arity=2)
    assert _page(hub, str(serializer.dumps(list(second))))["items"] == everything[2:]


def test_a_base64_cursor_issued_before_resumes_at_the_same_place(hub: Hub) -> None:
    """Retailers hold cursors whose tag is in URL-safe base64 (the format issued before
    the hexadecimal one, made here by the standard library's base64): each resumes the
    feed after the same item as the cursor issued now for it, and the page's bytes are
    the same but for nothing (its next cursor is the page's own last item's)."""
    for n in range(1, 6):
        _open(hub, f"ME-{n:06d}")
    everything = _page(hub)["items"]
    key = hub.me.retailer.cursor_key
    for item in everything:
        position = decode_cursor(key, CursorKind.FEED, item["cursor"], arity=2)
        old = _base64_cursor(key, position)
        assert len(old) == len(item["cursor"]) - 12
        params = [{"after": after, "limit": 100} for after in (old, item["cursor"])]
        pages = [hub.client.get("/v1/feed", params=p, headers=hub.me.headers) for p in params]
        assert pages[0].status_code == 200, pages[0].text
        if item is not everything[-1]:
            assert pages[0].content == pages[1].content
        else:  # no item after it: each page gives back the cursor it was given
            assert pages[0].json() == {"items": [], "next_cursor": old, "has_more": False}
    first = decode_cursor(key, CursorKind.FEED, everything[0]["cursor"], arity=2)
    wrong = _base64_cursor(hub.bm.retailer.cursor_key, first)
    response = hub.client.get("/v1/feed", params={"after": wrong}, headers=hub.me.headers)
    assert response.status_code == 404


def _base64_cursor(key: bytes, position: tuple[int, ...]) -> str:
    """A feed cursor as issued before: its digits, then its tag in URL-safe base64."""
    body = "_".join(map(str, position)).encode("ascii")
    tag = _keyed_tag(key, CursorKind.FEED).copy()
    tag.update(body)
    return (body + base64.urlsafe_b64encode(tag.digest())).decode("ascii")


@pytest.mark.parametrize("limit", [0, 501, -1])
def test_the_page_size_is_bounded(hub: Hub, limit: int) -> None:
    response = hub.client.get("/v1/feed", params={"limit": limit}, headers=hub.me.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"


def test_a_tampered_foreign_or_made_up_cursor_is_one_and_the_same_404(hub: Hub) -> None:
    _open(hub, "ME-000001")
    _open(hub, "BM-000001")
    mine = _page(hub)["next_cursor"]
    bm_page = hub.client.get("/v1/feed", headers=hub.bm.headers).json()
    foreign = bm_page["next_cursor"]
    list_cursor = encode_cursor(hub.me.retailer.cursor_key, CursorKind.CASE_LIST, (1,))
    flipped = mine[:-2] + ("A" if mine[-2] != "A" else "B") + mine[-1]
    forged = encode_cursor(b"not the key", CursorKind.FEED, (0, 1))
    answers = []
    for cursor in (foreign, flipped, forged, list_cursor, "1", "!!", "A" * 200):
        response = hub.client.get("/v1/feed", params={"after": cursor}, headers=hub.me.headers)
        answers.append((response.status_code, response.json()))
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][0] == 404
    assert answers[0][1]["detail"] == "no such cursor"


Commits = list[tuple[float, list[str]]]
"""When each writing transaction had committed, and the events it wrote."""


def _insert_and_wait(
    database: Database,
    event: Event,
    inserted: threading.Event,
    release: threading.Event,
    commits: Commits | None = None,
) -> None:
    with database.transaction() as connection:
        append_events(connection, [event])
        inserted.set()
        assert release.wait(30)
    if commits is not None:
        commits.append((time.monotonic(), [event.id]))


def test_an_event_committed_after_a_later_one_is_served_first_not_skipped(hub: Hub) -> None:
    """Seq order is not commit order: A takes a seq, B a higher one and commits first."""
    _open(hub, "ME-000001")
    _open(hub, "ME-000002")  # A and B touch different cases: no row lock between them
    start = _page(hub)["next_cursor"]
    event_a = case_event("received", T0, case_ref="ME-000001", code="REC")
    event_b = case_event("received", T0, case_ref="ME-000002", code="REC")
    inserted, release = threading.Event(), threading.Event()
    writer_a = threading.Thread(
        target=_insert_and_wait, args=(hub.database, event_a, inserted, release)
    )

    def write_b() -> None:
        with hub.database.transaction() as connection:
            append_events(connection, [event_b])

    writer_b = threading.Thread(target=write_b)
    try:
        writer_a.start()
        assert inserted.wait(10)
        writer_b.start()
        writer_b.join(timeout=2)  # PostgreSQL: B commits now; SQLite: B waits for A's lock
        if hub.database.dialect == "postgresql":
            assert not writer_b.is_alive()
            with hub.database.transaction() as connection:
                visible = set(connection.execute(select(events.c.event_id)).scalars())
            assert event_b.id in visible
            assert event_a.id not in visible  # a reader paging by seq would pass A's seq now
        assert _page(hub, start)["items"] == []
    finally:
        release.set()
        writer_a.join(timeout=30)
        writer_b.join(timeout=30)
    with hub.database.transaction() as connection:
        seqs = dict(connection.execute(select(events.c.event_id, events.c.seq)).all())
    assert seqs[event_a.id] < seqs[event_b.id]
    items = _wait_for(hub, start, 2)
    assert [i["event_id"] for i in items] == [event_a.id, event_b.id]


def _wait_for(hub: Hub, after: str | None, count: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    deadline = time.monotonic() + DRAIN_SECONDS
    while len(items) < count and time.monotonic() < deadline:
        page = _page(hub, after)
        items += page["items"]
        after = page["next_cursor"]
        if not page["items"]:
            time.sleep(0.05)
    return items


WRITERS = 4
TRANSACTIONS_PER_WRITER = 12
CASES = ("ME-000001", "ME-000002", "ME-000003", "BM-000001")


def _writer(database: Database, number: int, commits: Commits, errors: list[Exception]) -> None:
    """Commit small batches in random order, sleeping inside transactions to reorder them."""
    rng = random.Random(number)
    try:
        for index in range(TRANSACTIONS_PER_WRITER):
            # One case per transaction: append_events updates the cases it touches in no
            # fixed order, so two transactions over the same two cases could deadlock.
            reference = rng.choice(CASES)
            batch = [
                case_event(
                    None,
                    T0 + timedelta(minutes=number * 1000 + index * 10 + k),
                    case_ref=reference,
                    code=f"W{number}-{index}-{k}",
                )
                for k in range(rng.randint(1, 4))
            ]
            with database.transaction() as connection:
                append_events(connection, batch)
                time.sleep(rng.uniform(0, 0.03))
            commits.append((time.monotonic(), [event.id for event in batch]))
    except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in the thread
        errors.append(exc)


def test_concurrent_writers_never_make_a_paging_client_skip_or_repeat(hub: Hub) -> None:
    """Writers commit out of seq order while a client pages the feed over real HTTP."""
    for reference in CASES:
        _open(hub, reference)
    errors: list[Exception] = []
    commits: Commits = []
    slow_inserted, slow_release = threading.Event(), threading.Event()
    slow = threading.Thread(
        target=_insert_and_wait,
        args=(
            hub.database,
            case_event("received", T0, case_ref="ME-000002", code="SLOW"),
            slow_inserted,
            slow_release,
            commits,
        ),
    )
    slow.start()
    assert slow_inserted.wait(10)  # the lowest new seq, committed last of the first wave
    writers = [
        threading.Thread(target=_writer, args=(hub.database, n, commits, errors))
        for n in range(WRITERS)
    ]
    served: list[dict[str, Any]] = []
    with serving(hub.app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:

        def page(after: str | None) -> dict[str, Any]:
            params: dict[str, Any] = {"limit": 7} | ({"after": after} if after else {})
            response = client.get("/v1/feed", params=params, headers=hub.me.headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        for writer in writers:
            writer.start()
        after: str | None = None
        released_at = time.monotonic() + 0.3
        while any(w.is_alive() for w in writers) or not slow_release.is_set():
            if time.monotonic() > released_at:
                slow_release.set()
            body = page(after)
            served += body["items"]
            after = body["next_cursor"]
        slow.join(timeout=30)
        for writer in writers:
            writer.join(timeout=30)
        assert errors == []
        with hub.database.transaction() as connection:
            expected = set(
                connection.execute(
                    select(events.c.event_id).where(events.c.case_ref.like("ME-%"))
                ).scalars()
            )
        deadline = time.monotonic() + DRAIN_SECONDS
        while {i["event_id"] for i in served} != expected and time.monotonic() < deadline:
            body = page(after)
            served += body["items"]
            after = body["next_cursor"]
            if not body["items"]:
                time.sleep(0.05)
        reread: list[dict[str, Any]] = []
        after = None
        while page_items := page(after)["items"]:
            reread += page_items
            after = page_items[-1]["cursor"]

    ids = [item["event_id"] for item in served]
    assert len(ids) == len(set(ids)), "an event was served twice"
    assert set(ids) == expected, f"skipped: {sorted(expected - set(ids))[:5]}"
    assert all(item["case_reference"].startswith("ME-") for item in served)
    assert len(expected) > WRITERS * TRANSACTIONS_PER_WRITER // 2
    # The order is total and final: reading again from the start gives the same sequence,
    # so nothing committed late was slotted in before a position already served.
    assert [item["event_id"] for item in reread] == ids
    assert [item["cursor"] for item in reread] == [item["cursor"] for item in served]
    with hub.database.transaction() as connection:
        seq = dict(connection.execute(select(events.c.event_id, events.c.seq)).all())
    by_commit = [min(seq[i] for i in ids_) for _, ids_ in sorted(commits)]
    late_commits = sum(1 for a, b in pairwise(by_commit) if a > b)
    if hub.database.dialect == "postgresql":
        # The hazard really happened: transactions committed out of seq order.
        assert late_commits > 0, "no commit came out of seq order: the test proved nothing"


def test_the_service_reads_the_same_feed_as_the_route(hub: Hub) -> None:
    _open(hub, "ME-000001")
    with hub.database.transaction() as connection:
        page = read_feed(connection, hub.me.retailer, after=None, limit=10)
    assert [item.event.id for item in page.items] == [i["event_id"] for i in _page(hub)["items"]]
    with pytest.raises(ValueError, match="limit"), hub.database.transaction() as connection:
        read_feed(connection, hub.me.retailer, after=None, limit=501)


def test_what_came_with_an_event_is_in_its_details_and_nothing_is_null(hub: Hub) -> None:
    _open(hub, "ME-000123")
    with hub.database.transaction() as connection:
        append_events(connection, [_parcel(T0, ShipmentStatus.IN_TRANSIT)])
    quoted = Event(
        id="atelier-dupont:DEV-1",
        case_ref="ME-000123",
        type=EventType.CASE_STATUS,
        status="quote_pending",
        occurred_at=T0 + timedelta(hours=1),
        reported_by="atelier-dupont",
        raw_code="DEV",
        details={"quote": {"amount_incl_tax": {"amount": "89.90", "currency": "EUR"}}},
    )
    with hub.database.transaction() as connection:
        append_events(connection, [quoted])
    items = _page(hub)["items"]
    assert items[0]["details"] is None
    assert items[-1]["details"]["quote"]["amount_incl_tax"] == {
        "amount": "89.90",
        "currency": "EUR",
    }
    timeline = hub.client.get("/v1/cases/ME-000123/timeline", headers=hub.me.headers).json()
    assert timeline["events"][-1]["details"] == items[-1]["details"]


def test_a_page_built_without_validation_is_what_validating_it_gives(hub: Hub) -> None:
    """The route builds its items without validating them again (hub.api.models): its
    bytes must be those of the validated model, details, labels, offsets and all."""
    _open(hub, "ME-000123")
    with hub.database.transaction() as connection:
        append_events(connection, [_parcel(T0, ShipmentStatus.IN_TRANSIT)])
    quoted = Event(
        id="atelier-dupont:DEV-2",
        case_ref="ME-000123",
        type=EventType.CASE_STATUS,
        status="quote_pending",
        occurred_at=(T0 + timedelta(hours=2)).astimezone(timezone(timedelta(hours=-5))),
        reported_by="atelier-dupont",
        raw_code="DEV",
        details={"quote": {"amount_incl_tax": {"amount": "89.90", "currency": "EUR"}}},
    )
    unmapped = Event(
        id="atelier-dupont:X47",
        case_ref="ME-000123",
        type=EventType.CASE_STATUS,
        status=None,
        occurred_at=T0 + timedelta(hours=3),
        reported_by="atelier-dupont",
        raw_code="X47",
        raw_label="Relance client",
    )
    with hub.database.transaction() as connection:
        append_events(connection, [quoted, unmapped])
    response = hub.client.get("/v1/feed", headers=hub.me.headers)
    assert response.status_code == 200, response.text
    validated = FeedPageOut.model_validate_json(response.content)
    assert response.content == validated.model_dump_json().encode()
    items = response.json()["items"]
    assert [item["unmapped"] for item in items] == [False, False, False, True]
    assert items[2]["occurred_at"].endswith("Z")
    assert items[2]["label"] is not None
    assert items[3]["label"] is None
    assert items[3]["case_status_after"] == "quote_pending"


def _every_kind(reference: str) -> list[Event]:
    """An event of each type, mapped and not, with each kind of detail, odd offsets,
    microseconds, and text a serializer could write differently (accents, quotes,
    control characters, a line separator, an emoji)."""
    base = T0.astimezone(timezone(timedelta(hours=5, minutes=30)))
    details: list[dict[str, Any]] = [
        {"quote": {"amount_incl_tax": {"amount": "89.90", "currency": "EUR"}}},
        {"shipment": {"tracking_number": "6A12345678901", "carrier": "colis-express"}},
        {"visit": {"date": "2026-12-01", "slot": "am", "technician": "Zoé"}},
        {"parts": [{"line_no": 1, "sku": "SEB-123", "eta": "2026-12-03"}]},
        {"parts_order_id": "PO-1", "serial_number": "SN-9", "note": 'dit "urgent" \\ ok'},
        {"reason": "Client absent\u2028deux fois", "eta": "2026-12-04"},
        {"location": {"name": "Dépôt Lyon", "postcode": "69007", "city": "Lyon"}},
        {"signed_by": "J. Müller 🙂"},
        {},
    ]
    kinds: list[tuple[EventType, str | None]] = [
        (EventType.CASE_STATUS, "received"),
        (EventType.SHIPMENT_STATUS, "in_transit"),
        (EventType.PARTS_ORDER_STATUS, "shipped"),
        (EventType.SERVICE_LEVEL, "breached"),
        (EventType.CASE_RECORD, "corrected"),
        (EventType.CASE_STATUS, None),
        (EventType.SHIPMENT_STATUS, None),
        (EventType.CASE_STATUS, "diagnosing"),
        (EventType.CASE_STATUS, "quote_pending"),
    ]
    made = []
    for index, ((event_type, status), detail) in enumerate(zip(kinds, details, strict=True)):
        made.append(
            Event(
                id=f"atelier-dupont:{reference}:{index}",
                case_ref=reference,
                type=event_type,
                status=status,
                occurred_at=base + timedelta(hours=index, microseconds=index * 1001),
                recorded_at=T0 + timedelta(days=1, microseconds=index),
                reported_by="atelier-dupont",
                raw_code=f"C{index}" if index % 2 or status is None else None,
                raw_label='Réparé\t"vite"\x01' if index % 3 == 0 else None,
                subject="6A12345678901" if event_type is EventType.SHIPMENT_STATUS else None,
                details=detail,
            )
        )
    return made


def test_the_pages_json_written_from_rows_is_the_models_byte_for_byte(hub: Hub) -> None:
    """The route writes a page's JSON from the store's rows (hub.retailers.feed.page_json); its
    bytes must be those of the pydantic path (FeedPageOut over read_feed) for every kind
    of event and details, in every page and on its last, empty one."""
    for reference in ("ME-000123", "ME-000124"):
        _open(hub, reference)
    with hub.database.transaction() as connection:
        append_events(connection, _every_kind("ME-000123"))
    with hub.database.transaction() as connection:
        append_events(connection, _every_kind("ME-000124")[::-1])
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5} | ({"after": after} if after else {})
        response = hub.client.get("/v1/feed", params=params, headers=hub.me.headers)
        assert response.status_code == 200, response.text
        with hub.database.transaction() as connection:
            page = read_feed(connection, hub.me.retailer, after=after, limit=5)
        assert response.content == FeedPageOut.of(page).model_dump_json().encode()
        validated = FeedPageOut.model_validate_json(response.content)
        assert response.content == validated.model_dump_json().encode()
        pages += 1
        body = response.json()
        if not body["items"]:
            break
        after = body["next_cursor"]
    items = _page(hub, limit=500)["items"]
    assert len(items) >= 18
    assert pages == len(items) // 5 + 1 + (len(items) % 5 > 0), "then the empty page"
    assert {item["type"] for item in items} == {t.value for t in EventType}
    assert sum(item["details"] is not None for item in items) == 16
    assert any("🙂" in ((item["details"] or {}).get("signed_by") or "") for item in items)


def test_a_page_of_stored_items_is_the_same_bytes_as_one_built_from_the_rows(hub: Hub) -> None:
    """A page joins the items the fill stored (hub.store.feed_status) and builds the
    others from their rows: entries stored, entries the fill has not reached (the end),
    and entries whose item was cleared (as an erasure does) between stored ones, mixed in
    one page; each page's bytes are the pydantic path's (FeedPageOut over read_feed,
    built from the events), whatever the page size, and the same once all are stored."""
    for reference in ("ME-000123", "ME-000124"):
        _open(hub, reference)
    with hub.database.transaction() as connection:
        append_events(connection, _every_kind("ME-000123"))
    with hub.database.transaction() as connection:
        fill_statuses_after(connection, item_json, 14)
    with hub.database.transaction() as connection:
        stored = connection.execute(
            select(feed_entries.c.position)
            .where(feed_entries.c.item_json.is_not(None))
            .order_by(feed_entries.c.position)
        ).scalars()
        cleared = list(stored)[3:9:2]
        connection.execute(
            update(feed_entries).where(feed_entries.c.position.in_(cleared)).values(item_json=None)
        )
    with hub.database.transaction() as connection:
        append_events(connection, _every_kind("ME-000124")[::-1])
    with hub.database.transaction() as connection:
        items = connection.execute(
            select(feed_entries.c.item_json).order_by(feed_entries.c.position)
        ).scalars()
        written = [item is not None for item in items]
    assert written[0], written
    assert True in written[written.index(False) :], "a stored item after one not stored"
    assert not written[-1], "the end not reached by the fill"

    def pages(limit: int) -> list[bytes]:
        bodies: list[bytes] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
            response = hub.client.get("/v1/feed", params=params, headers=hub.me.headers)
            assert response.status_code == 200, response.text
            with hub.database.transaction() as connection:
                page = read_feed(connection, hub.me.retailer, after=after, limit=limit)
            assert response.content == FeedPageOut.of(page).model_dump_json().encode()
            bodies.append(response.content)
            if not response.json()["has_more"]:
                return bodies
            after = response.json()["next_cursor"]

    mixed = {limit: pages(limit) for limit in (1, 2, 5, 7, 500)}
    assert len(mixed[500]) == 1
    assert len(mixed[1]) == len(written), "a page per item"
    assert fill_feed_statuses(hub.database, pause=False) == written.count(False)
    assert {limit: pages(limit) for limit in mixed} == mixed


def test_sqlite_builds_one_page_at_a_time_and_postgresql_several(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite, pages built side by side in threads mostly wait for the GIL its C
    code hands back at every row: a process builds one at a time (other routes keep the
    default pool). On PostgreSQL a page also waits on the server: several at once."""
    _open(hub, "ME-000123")
    building, most = 0, 0
    lock = threading.Lock()
    build = feed_route._page_body

    def counted(*args: Any) -> bytes:
        nonlocal building, most
        with lock:
            building += 1
            most = max(most, building)
        try:
            time.sleep(0.2)  # long enough for the other requests to arrive meanwhile
            return build(*args)
        finally:
            with lock:
                building -= 1

    monkeypatch.setattr(feed_route, "_page_body", counted)
    with serving(hub.app) as url:
        pages: list[int] = []

        def read() -> None:
            answer = httpx.get(f"{url}/v1/feed", headers=hub.me.headers, timeout=30)
            pages.append(len(answer.json()["items"]))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert pages == [1, 1, 1, 1], "each page whole: the case's creation"
    assert building == 0
    if hub.database.dialect == "sqlite":
        assert most == 1
    else:
        assert most > 1


def test_the_stores_rows_are_the_values_sqlalchemys_column_types_give(hub: Hub) -> None:
    """hub.store.feed reads a page's rows on the driver's cursor and converts only
    instants and details itself: every value, and its type and zone, must be the one
    SQLAlchemy's column types give for the same query, from the start and after a key,
    before the statuses after are stored and once they are."""
    for reference in ("ME-000123", "ME-000124"):
        _open(hub, reference)
    with hub.database.transaction() as connection:
        append_events(connection, _every_kind("ME-000123"))
        append_events(connection, _every_kind("ME-000124")[::-1])
    for filled in (False, True):
        if filled:
            assert fill_feed_statuses(hub.database, pause=False) > 0
        with hub.database.transaction() as connection:
            reference = [FeedRow._make(row) for row in connection.execute(_typed_rows(hub))]
            assert len(reference) == 20
            assert sum(row.details is not None for row in reference) == 16
            assert all((row.status_after is not None) is filled for row in reference)
            keys = [row.key for row in reference]
            for start, count in ((None, 500), (None, 3), (keys[6], 5), (keys[-1], 5)):
                rows = store_feed.feed_rows_after(connection, hub.me.retailer.id, start, count)
                skipped = 0 if start is None else keys.index(start) + 1
                expected = reference[skipped : skipped + count]
                assert rows == expected
                for row, want in zip(rows, expected, strict=True):
                    assert type(row) is FeedRow
                    assert [type(value) for value in row] == [type(value) for value in want]
                    assert row.occurred_at.tzinfo is UTC
                    assert row.recorded_at.tzinfo is UTC
            assert store_feed.feed_rows_after(connection, "nobody", None, 5) == []


def test_the_stored_items_are_the_values_sqlalchemys_column_types_give(hub: Hub) -> None:
    """hub.store.feed reads a page's stored entries on the driver's cursor (on PostgreSQL
    in the binary format, where the items' bytes come undecoded): every value and its
    type must be the one SQLAlchemy's column types give, from the start and after a
    key, before the items are stored (None) and once they are (non-ASCII text
    included)."""
    for reference in ("ME-000123", "ME-000124"):
        _open(hub, reference)
    with hub.database.transaction() as connection:
        append_events(connection, _every_kind("ME-000123"))
        append_events(connection, _every_kind("ME-000124")[::-1])
    typed = (
        select(
            feed_entries.c.txid,
            feed_entries.c.position,
            feed_entries.c.status_after,
            feed_entries.c.item_json,
        )
        .where(feed_entries.c.retailer_id == hub.me.retailer.id)
        .order_by(feed_entries.c.txid, feed_entries.c.position)
    )
    for filled in (False, True):
        if filled:
            assert fill_feed_statuses(hub.database, pause=False) > 0
        with hub.database.transaction() as connection:
            reference = [tuple(row) for row in connection.execute(typed)]
            assert len(reference) == 20
            assert all((row[3] is not None) is filled for row in reference)
            if filled:
                assert any("é".encode() in row[3] for row in reference)
            keys = [row[:2] for row in reference]
            for start, count in ((None, 500), (None, 3), (keys[6], 5), (keys[-1], 5)):
                rows = store_feed.stored_items_after(connection, hub.me.retailer.id, start, count)
                skipped = 0 if start is None else keys.index(start) + 1
                expected = reference[skipped : skipped + count]
                assert [tuple(row) for row in rows] == expected
                for row, want in zip(rows, expected, strict=True):
                    assert [type(value) for value in row] == [type(value) for value in want]
            assert store_feed.stored_items_after(connection, "nobody", None, 5) == []


def _typed_rows(hub: Hub) -> Select[Any]:
    """The retailer's whole feed through SQLAlchemy's column types (no horizon: nothing
    else is writing)."""
    return (
        select(*store_feed._ROW_COLUMNS)
        .select_from(
            feed_entries.join(events, events.c.seq == feed_entries.c.event_seq).join(
                cases, cases.c.id == events.c.case_id
            )
        )
        .where(feed_entries.c.retailer_id == hub.me.retailer.id)
        .order_by(feed_entries.c.txid, feed_entries.c.position)
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-30 09:15:00.000001",
        "2026-11-30 09:15:00",
        "2026-11-30T09:15:00+05:30",
        "2026-11-30T09:15:00Z",
    ],
)
def test_an_instants_text_reads_as_the_column_type_reads_it(text: str) -> None:
    """SQLite's text read by the store (offset-less, the form the column writes, or any
    other) is the aware UTC instant ``UtcDateTime`` gives for it."""
    read = store_feed._utc_from_text(text)
    assert read == aware(text)
    assert read.tzinfo is UTC
