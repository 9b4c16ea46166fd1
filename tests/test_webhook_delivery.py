"""A retailer's webhook endpoint down for a while, then back; or never back.

Real HTTP on loopback, signatures checked with the standardwebhooks package, the outbox
on SQLite and PostgreSQL; the dispatcher's clock is moved by the test, never slept.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import event as sa_event
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from hub.bootstrap import Hub
from hub.model import Party, PartyRole
from hub.model.event import Event, EventType
from hub.partners.connectors import Network, open_network
from hub.retailers.webhooks import webhook_message
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.outbox import WEBHOOK_ENTRY_AT, all_messages, webhook_timelines
from hub.store.parties import save_party
from hub.store.tables import events
from hub.sync.delivery import (
    Deliveries,
    Senders,
    _webhook_payload,
    deliver_any,
    webhook_payloads,
)
from hub.sync.outbox import Dispatcher, dead_letters, replay
from tests.api_support import serving
from tests.conftest import empty_tables
from tests.factories import T0, case_event, make_case, register_network

SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode()


@dataclass
class Endpoint:
    url: str = ""
    down: bool = False
    statuses: list[str] = field(default_factory=list)
    refused: int = 0


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()
    app = FastAPI()
    verifier = Webhook(SECRET)

    @app.post("/hub")
    async def receive(request: Request) -> Response:
        if state.down:
            state.refused += 1
            return Response(status_code=503)
        body = await request.body()
        payload = verifier.verify(body, dict(request.headers))
        state.statuses.append(payload["status"])
        return Response(status_code=204)

    with serving(app) as url:
        state.url = url
        yield state


@pytest.fixture
def network(tmp_path: Path, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> Network:
    monkeypatch.setenv("TEST_ME_WEBHOOK", SECRET)
    path = tmp_path / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties: [{{id: maison-electro, role: retailer, name: Maison Électro}}]
webhooks:
  - {{retailer: maison-electro, url: "{endpoint.url}/hub", secret_env: TEST_ME_WEBHOOK,
      max_attempts: 1}}
sync:
  rules:
    - {{name: news, when: {{type: case_status}}, notify_retailer: true}}
""",
        encoding="utf-8",
    )
    return open_network(path)


class Clock:
    """The dispatcher's clock; starts a moment after the messages were queued."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


def three_events(database: Database, network: Network) -> None:
    register_network(database)
    with database.transaction() as connection:
        save_party(connection, Party(id="hub", role=PartyRole.HUB, name="After-sales hub"))
        hook = network.sync_hook()
        open_case(connection, make_case("ME-000123"), on_stored=hook)
        later = [
            case_event("received", T0, by="atelier-dupont"),
            case_event("diagnosing", T0 + timedelta(hours=2), by="atelier-dupont"),
        ]
        append_events(connection, later)
        assert hook is not None
        hook(connection, later)


def test_a_receiver_down_for_a_while_gets_everything_in_order_once_back(
    database: Database, network: Network, endpoint: Endpoint
) -> None:
    three_events(database, network)
    clock = Clock()
    dispatcher = Dispatcher(
        database,
        lambda row: deliver_any(database, network, row),
        owner="test",
        clock=clock,
        jitter=lambda: 1.0,
    )
    endpoint.down = True
    for _ in range(4):  # an hour of deployment
        dispatcher.run_until_idle()
        clock.now += timedelta(minutes=15)
    assert endpoint.statuses == []
    assert endpoint.refused == 4, "one message retried; the two behind it wait their turn"

    endpoint.down = False
    clock.now += timedelta(hours=1)
    result = dispatcher.run_until_idle()
    assert result.delivered == 3
    assert endpoint.statuses == ["created", "received", "diagnosing"]
    assert dead_letters(database) == []


def test_a_receiver_that_never_comes_back_ends_in_the_dead_letters_then_replays(
    database: Database, network: Network, endpoint: Endpoint
) -> None:
    three_events(database, network)
    clock = Clock()
    dispatcher = Dispatcher(
        database,
        lambda row: deliver_any(database, network, row),
        owner="test",
        max_attempts=3,
        clock=clock,
        jitter=lambda: 1.0,
    )
    endpoint.down = True
    for _ in range(5):
        dispatcher.run_until_idle()
        clock.now += timedelta(hours=1)
    [dead] = dead_letters(database)
    assert dead.attempts == 3
    assert dead.last_error is not None
    assert "503" in dead.last_error

    endpoint.down = False
    replay(database, dead.id, now=clock.now)
    dispatcher.run_until_idle()
    assert endpoint.statuses == ["created", "received", "diagnosing"]


def test_bodies_read_with_the_claim_are_those_read_at_send_time(
    database: Database, network: Network, endpoint: Endpoint
) -> None:
    """The dispatcher of `hub serve` reads a claimed batch's webhook bodies in one
    transaction: the very bodies a send would read alone; sent with several in flight,
    the case's statuses still arrive in order."""
    three_events(database, network)
    with database.transaction() as connection:
        rows = all_messages(connection)
    assert len(rows) == 3
    ahead = webhook_payloads(database, rows)
    assert ahead == {row.id: _webhook_payload(database, network, row) for row in rows}
    assert [body["status"] for body in ahead.values()] == ["created", "received", "diagnosing"]
    unknown = replace(rows[0], payload={"event_id": "not-stored"})
    elsewhere = replace(rows[1], case_ref="ME-000999")
    assert webhook_payloads(database, [unknown, elsewhere]) == {}, "left to the send to say"

    senders = Senders()
    deliveries = Deliveries(database, network, senders)
    dispatcher = Dispatcher(
        database, deliveries, owner="test", concurrency=4, prefetch=deliveries.prefetch
    )
    try:
        result = dispatcher.run_until_idle()
    finally:
        dispatcher.close()
        senders.close()
    assert result.delivered == 3
    assert endpoint.statuses == ["created", "received", "diagnosing"]


def test_a_message_queued_through_the_hub_s_network_wakes_its_dispatcher(
    database: Database, network: Network, endpoint: Endpoint
) -> None:
    """The composition root hands one bell to the write paths and to the dispatcher:
    events stored through the hub's network wake its loop, which waits an hour here."""
    with Hub(database, network, owner="test") as hub:
        assert hub.network is not None
        halt = threading.Event()
        loop = threading.Thread(target=hub.jobs.serve_outbox, args=(3600.0, halt))
        loop.start()
        try:
            time.sleep(0.3)  # its first round found nothing; it waits
            three_events(database, hub.network)
            deadline = time.monotonic() + 30
            while len(endpoint.statuses) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            halt.set()
            loop.join(30)
    assert endpoint.statuses == ["created", "received", "diagnosing"]
    assert not loop.is_alive()


def test_a_network_not_given_the_bell_queues_without_ringing(
    database: Database, network: Network
) -> None:
    """A command's network (no dispatcher in its process) rings nothing; the hub's rings
    its own bell, once the events' transaction has committed."""
    with Hub(database, network, owner="test") as hub:
        three_events(database, network)
        assert hub.queued.wait(0) is False, "another network's writes are not this hub's"
        assert hub.network is not None
        with database.transaction() as connection:
            hook = hub.network.sync_hook()
            assert hook is not None
            in_repair = [case_event("in_repair", T0 + timedelta(hours=3))]
            append_events(connection, in_repair)
            hook(connection, in_repair)
            assert hub.queued.wait(0) is False, "not before the commit"
        assert hub.queued.wait(0) is True


def test_bodies_read_ahead_from_stored_rows_are_byte_for_byte_those_of_the_model(
    database: Database, network: Network
) -> None:
    """The dispatcher builds a batch's bodies from the timelines' stored rows, not from
    events rebuilt as models: for every kind of event (unmapped, late, another offset,
    a parcel's status at a case status's instant, ties broken by rank and id, French
    text) the very bytes the model's body gives, its status-after included."""
    three_events(database, network)
    paris = T0.tzinfo
    reunion = timezone(timedelta(hours=4))
    diagnosing = T0 + timedelta(hours=2)
    extra = [
        case_event(None, T0 + timedelta(hours=1), code="XYZ"),  # unmapped
        # Late: reported after diagnosing, it happened before it, and changes nothing.
        case_event("received", T0 + timedelta(minutes=90), code="REC2"),
        # The same instant as diagnosing, another offset: the rank orders them.
        case_event("in_repair", diagnosing.astimezone(reunion), code="REP"),
        case_event("quote_pending", diagnosing, code="QUO", by="maison-electro"),
        Event(
            id="parcel-1",
            case_ref="ME-000123",
            type=EventType.SHIPMENT_STATUS,
            status="in_transit",
            occurred_at=diagnosing.astimezone(reunion),
            reported_by="colis-express",
            raw_code="TRA",
            raw_label="En transit vers l'atelier — dépôt Lyon",
            subject="CX123456789FR",
        ),
        Event(
            id="parcel-0",
            case_ref="ME-000123",
            type=EventType.SHIPMENT_STATUS,
            status="delivered",
            occurred_at=T0.replace(tzinfo=paris) - timedelta(days=1),
            reported_by="colis-express",
            raw_code="LIV",
        ),
    ]
    with database.transaction() as connection:
        append_events(connection, extra)
        [template, *_] = all_messages(connection)
    stored = [event.id for event in extra] + [template.payload["event_id"]]
    rows = [
        replace(template, id=1000 + n, payload={"event_id": event_id})
        for n, event_id in enumerate(stored)
    ]
    ahead = webhook_payloads(database, rows)
    assert ahead.keys() == {row.id for row in rows}
    for row in rows:
        alone = _webhook_payload(database, network, row)
        assert webhook_message(ahead[row.id], message_id="m", secret=SECRET, now=T0).content == (
            webhook_message(alone, message_id="m", secret=SECRET, now=T0).content
        )
    afters = [ahead[row.id]["case_status_after"] for row in rows]
    # The unmapped and the late event change nothing; at the instant of diagnosing the
    # rank orders (diagnosing, quote_pending, in_repair), and a parcel's status ranks 2,
    # before them all; the day before, the case was only created.
    assert afters == [
        "received",
        "received",
        "in_repair",
        "quote_pending",
        "received",
        "created",
        "created",
    ]


def test_a_timeline_with_a_stored_value_the_model_does_not_take_is_left_to_the_send(
    database: Database, network: Network
) -> None:
    """A timeline's rows are read in one pass, each type and status looked up among the
    model's (issue 17): an event whose stored status is not in its type's set, or whose
    type the model does not know, leaves every message of its case to its send, which
    says what is wrong; the other cases' bodies are read as before."""
    three_events(database, network)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000124"), on_stored=network.sync_hook())
        rows = all_messages(connection)
    other = [row for row in rows if row.case_ref == "ME-000124"]
    assert len(other) == 1
    assert len(rows) == 4
    good = webhook_payloads(database, rows)
    assert good.keys() == {row.id for row in rows}
    for broken in ({"status": "no-such-status"}, {"type": "no_such_type", "status": None}):
        with database.transaction() as connection:
            connection.execute(
                update(events)
                .where(events.c.case_ref == "ME-000123", events.c.raw_code == "DIA")
                .values(**broken)
            )
        assert webhook_payloads(database, rows) == {other[0].id: good[other[0].id]}


def test_bodies_read_ahead_in_a_session_of_another_time_zone_are_the_same(
    migrated_postgres: Database, network: Network, tmp_path: Path
) -> None:
    """On PostgreSQL the timelines' instants are read as the driver gives them, in the
    session's zone, and put in UTC by their one reader (issue 17): a session in
    Pacific/Chatham (+12:45 or +13:45) gives the very bodies a UTC session does."""
    empty_tables(migrated_postgres)
    three_events(migrated_postgres, network)
    with migrated_postgres.transaction() as connection:
        rows = all_messages(connection)
    in_utc = webhook_payloads(migrated_postgres, rows)
    assert len(in_utc) == 3
    elsewhere = Database(migrated_postgres.url)

    @sa_event.listens_for(elsewhere.engine, "connect")
    def chatham(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'Pacific/Chatham'")
        dbapi_connection.commit()

    try:
        with elsewhere.transaction() as connection:
            stored = webhook_timelines(connection, ["ME-000123"])["ME-000123"]
        offsets = {row[WEBHOOK_ENTRY_AT["occurred_at"]].utcoffset() for row in stored}
        assert offsets <= {timedelta(hours=12, minutes=45), timedelta(hours=13, minutes=45)}
        assert webhook_payloads(elsewhere, rows) == in_utc
    finally:
        elsewhere.dispose()
