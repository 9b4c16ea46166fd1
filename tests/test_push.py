"""ColisExpress pushes its events to the hub over real HTTP; the hub verifies and stores.

The carrier simulator signs each push as the sheet says; the hub's endpoint runs in a
real uvicorn on loopback. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.partners.connectors import open_network
from hub.partners.push import archive_push, build_receiver, push_request
from hub.ports import AcceptedPush
from hub.store.cases import get_case, open_case
from hub.store.db import Database
from hub.store.tables import events, raw_messages
from simulators.colis_express import ColisExpressSimulator, push_network, sign_push
from tests.api_support import serving
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
SECRET = "ce-push-shared-secret"
PARIS = timezone(timedelta(hours=1))


def network(tmp_path: Path) -> Path:
    return push_network(tmp_path, ROOT / "mappings" / "colis-express.yaml", "TEST_CE_PUSH_SECRET")


@pytest.fixture
def hub_url(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TEST_CE_PUSH_SECRET", SECRET)
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    with serving(create_app(database, open_network(network(tmp_path)))) as url:
        yield url


def count(database: Database, table: object, *conditions: object) -> int:
    with database.transaction() as connection:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        for condition in conditions:
            query = query.where(condition)  # type: ignore[arg-type]
        return int(connection.execute(query).scalar_one())


def wait_for(database: Database, expected: int) -> int:
    """Pushes are stored after the answer: wait (bounded) for the background work."""
    deadline = time.monotonic() + 10
    while True:
        stored = count(database, events, events.c.reported_by == "colis-express")
        if stored >= expected or time.monotonic() > deadline:
            return stored
        time.sleep(0.02)


def carrier(url: str, **faults: object) -> ColisExpressSimulator:
    sim = ColisExpressSimulator(push_url=f"{url}/partners/ce-push/events", push_secret=SECRET)
    for name, value in faults.items():
        setattr(sim.push_faults, name, value)
    return sim


def test_signed_pushes_late_and_twice_are_stored_once_in_time_order(
    database: Database, hub_url: str
) -> None:
    with carrier(hub_url, shuffle=True, duplicate_rate=1.0) as sim:
        parcel = sim.add_parcel("ME-000123", "CE123456789FR")
        at = datetime(2026, 11, 2, 17, 31, tzinfo=PARIS)
        for hours, code in enumerate(["PCH", "TRI", "LIV_PREP", "LIV"]):
            sim.add_event(parcel, code, at + timedelta(hours=hours))
        run = sim.push_pending()
    assert len(run.delivered) >= 8, "every event was delivered twice"
    assert not run.dropped
    assert wait_for(database, 4) == 4
    with database.transaction() as connection:
        statuses = (
            connection.execute(
                select(events.c.status)
                .where(events.c.subject == "CE123456789FR")
                .order_by(events.c.occurred_at)
            )
            .scalars()
            .all()
        )
        case = get_case(connection, "ME-000123")
    assert statuses == ["picked_up", "in_transit", "out_for_delivery", "delivered"]
    assert case is not None


@pytest.mark.parametrize("fault", ["wrong_signature", "stale_timestamp"])
def test_a_badly_signed_or_stale_push_gets_401_and_nothing_is_stored(
    database: Database, hub_url: str, fault: str
) -> None:
    with carrier(hub_url, **{fault: True}) as sim:
        parcel = sim.add_parcel("ME-000123", "CE123456789FR")
        sim.add_event(parcel, "PCH", datetime(2026, 11, 2, 17, 31, tzinfo=PARIS))
        run = sim.push_pending()
    assert run.dropped, "the carrier gave up after its retries"
    assert {attempt.status for attempt in run.attempts} == {401}
    assert count(database, raw_messages) == 0
    assert count(database, events, events.c.reported_by == "colis-express") == 0


def test_unsigned_unknown_and_malformed_pushes(database: Database, hub_url: str) -> None:
    body = b'{"id":"ev_1","code":"PCH","at":"2026-11-02T17:31:00+01:00"}'
    unsigned = httpx.post(f"{hub_url}/partners/ce-push/events", content=body)
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    unknown = httpx.post(f"{hub_url}/partners/nobody/events", content=body)
    assert unknown.status_code == 404

    broken = b'{"id":"ev_2","code":"PCH","at":'
    stamp = str(int(time.time()))
    signed = httpx.post(
        f"{hub_url}/partners/ce-push/events",
        content=broken,
        headers={"X-CE-Timestamp": stamp, "X-CE-Signature": sign_push(SECRET, stamp, broken)},
    )
    assert signed.status_code == 200, "a genuine push is accepted, then rejected as data"
    deadline = time.monotonic() + 5
    while count(database, raw_messages) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert count(database, raw_messages) == 1, "the raw body is archived for the operator"
    assert count(database, events, events.c.reported_by == "colis-express") == 0


def test_a_push_archived_but_never_processed_is_stored_by_a_run(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process stopped between its 200 and the store: nothing is lost."""
    monkeypatch.setenv("TEST_CE_PUSH_SECRET", SECRET)
    register_network(database)
    push_connector = open_network(network(tmp_path)).connector("ce-push")
    body = (
        b'{"id":"ev_9","code":"LIV","at":"2026-11-03T08:52:00+01:00",'
        b'"tracking_number":"CE123456789FR","reference":"ME-000123"}'
    )
    stamp = str(int(time.time()))
    headers = {"X-CE-Timestamp": stamp, "X-CE-Signature": sign_push(SECRET, stamp, body)}
    assert push_connector.spec.receiver is not None
    receiver = build_receiver("ce-push", push_connector.spec.receiver)
    accepted = receiver.authenticate(push_request(headers, body, {}, "127.0.0.1"))
    assert isinstance(accepted, AcceptedPush)
    archive_push(database, "ce-push", accepted)
    assert count(database, events, events.c.reported_by == "colis-express") == 0

    report = push_connector.run(database)
    assert report.error is None
    assert report.counts.events_stored == 1
    assert count(database, events, events.c.reported_by == "colis-express") == 1
    assert push_connector.run(database).counts.messages_seen == 0


def signed_over_bytes(stamp: bytes, body: bytes) -> bytes:
    """A signature that matches whatever the timestamp bytes are: only the stamp is at fault."""
    digest = hmac.new(SECRET.encode(), stamp + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}".encode()


@pytest.mark.parametrize(
    "stamp",
    [
        b"99999999999999999999",  # past any datetime
        b"1000000000000",  # milliseconds, not seconds: the year 33658
        b"\xb2",  # a Latin-1 superscript two: a "digit" to str.isdigit, not to int()
        b"17000000\xb2\xb3",
        b"-1700000000",
        b"",
    ],
)
def test_a_malformed_or_absurd_timestamp_is_a_401_not_a_server_error(
    database: Database, hub_url: str, stamp: bytes
) -> None:
    body = b'{"id":"ev_1","code":"PCH","at":"2026-11-02T17:31:00+01:00"}'
    answer = httpx.post(
        f"{hub_url}/partners/ce-push/events",
        content=body,
        headers=[
            (b"X-CE-Timestamp", stamp),
            (b"X-CE-Signature", signed_over_bytes(stamp, body)),
        ],
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert count(database, raw_messages) == 0


def test_a_non_ascii_signature_is_a_401_not_a_server_error(
    database: Database, hub_url: str
) -> None:
    body = b'{"id":"ev_1","code":"PCH","at":"2026-11-02T17:31:00+01:00"}'
    stamp = str(int(time.time())).encode()
    answer = httpx.post(
        f"{hub_url}/partners/ce-push/events",
        content=body,
        headers=[(b"X-CE-Timestamp", stamp), (b"X-CE-Signature", b"sha256=\xe9\xff")],
    )
    assert answer.status_code == 401
    assert count(database, raw_messages) == 0
