"""ColisExpress pushes its events to the hub over real HTTP; the hub verifies and stores.

The carrier simulator signs each push as the sheet says; the hub's endpoint runs in a
real uvicorn on loopback. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli import app
from hub.api.app import create_app
from hub.operators.listings import outcome_text, recent_runs
from hub.partners.connectors import Connector, open_network
from hub.partners.push import archive_push, build_receiver, process_push, push_request
from hub.partners.runs import RunCounts, RunOutcome
from hub.ports import AcceptedPush, Receiver
from hub.store.cases import get_case, open_case
from hub.store.db import Database
from hub.store.tables import events, raw_messages, rejects
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


# --- pushes leave run records: one per connector and hour -----------------------------


def accepted_push(receiver: Receiver, body: bytes, stamp: str | None = None) -> AcceptedPush:
    """The push as the receiver accepts it, signed at ``stamp`` (now if None)."""
    stamp = stamp or str(int(time.time()))
    headers = {"X-CE-Timestamp": stamp, "X-CE-Signature": sign_push(SECRET, stamp, body)}
    accepted = receiver.authenticate(push_request(headers, body, {}, "127.0.0.1"))
    assert isinstance(accepted, AcceptedPush)
    return accepted


def ce_push(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Connector:
    monkeypatch.setenv("TEST_CE_PUSH_SECRET", SECRET)
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    return open_network(network(tmp_path)).connector("ce-push")


def push_event(event_id: str, code: str, at: str) -> bytes:
    return (
        f'{{"id":"{event_id}","code":"{code}","at":"{at}",'
        '"tracking_number":"CE123456789FR","reference":"ME-000123"}'
    ).encode()


def test_an_hours_pushes_are_one_run_record_and_its_rejects_name_it(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = ce_push(database, tmp_path, monkeypatch)
    assert connector.spec.receiver is not None
    receiver = build_receiver("ce-push", connector.spec.receiver)
    pipeline = connector.pipeline()
    ten = datetime(2026, 11, 3, 10, tzinfo=UTC)
    pushes = [
        (ten + timedelta(minutes=5), push_event("ev_1", "PCH", "2026-11-03T10:04:00+01:00")),
        (ten + timedelta(minutes=20), push_event("ev_1", "PCH", "2026-11-03T10:04:00+01:00")),
        (ten + timedelta(minutes=59, seconds=59), b'{"id":"ev_2","code":"TRI","at":'),
        (ten + timedelta(hours=1), push_event("ev_3", "LIV", "2026-11-03T11:58:00+01:00")),
    ]
    outcomes = []
    signed = str(int(time.time()))  # one signing second: the same bytes, the same push
    for now, body in pushes:
        accepted = accepted_push(receiver, body, signed)
        archived = archive_push(database, "ce-push", accepted, now=now)
        outcomes.append(
            (
                archived,
                process_push(database, "ce-push", pipeline, accepted, archived, now=now),
            )
        )

    first, second = outcomes[0][0].run_id, outcomes[3][0].run_id
    assert {archived.run_id for archived, _ in outcomes[:3]} == {first}
    assert second != first
    assert outcomes[1][1].skipped, "the same bytes twice: stored once"
    records = {record.id: record for record in recent_runs(database, "ce-push", 10)}
    assert set(records) == {first, second}
    hour = records[first]
    assert hour.push_window == ten
    assert (hour.started_at, hour.finished_at) == (pushes[0][0], pushes[2][0])
    assert hour.outcome is RunOutcome.SUCCEEDED
    assert hour.counts == RunCounts(
        messages_seen=3, messages_read=2, records_read=1, events_stored=1, rejected=1
    )
    assert records[second].push_window == ten + timedelta(hours=1)
    assert records[second].counts.events_stored == 1
    assert outcome_text(hour) == "succeeded with 1 reject"

    with database.transaction() as connection:
        reject_runs = connection.execute(select(rejects.c.run_id)).scalars().all()
    assert reject_runs == [first], "the malformed push's reject names its hour's record"


def test_pushes_processed_at_once_count_in_one_record(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes' pushes of the same hour, archived at the same moment: the unique
    index makes the second find the first's record (PostgreSQL waits for its commit)."""
    connector = ce_push(database, tmp_path, monkeypatch)
    assert connector.spec.receiver is not None
    receiver = build_receiver("ce-push", connector.spec.receiver)
    now = datetime(2026, 11, 3, 10, 30, tzinfo=UTC)
    bodies = [push_event(f"ev_{n}", "TRI", "2026-11-03T10:04:00+01:00") for n in range(8)]
    start = threading.Barrier(len(bodies))

    def archive(body: bytes) -> int:
        accepted = accepted_push(receiver, body)
        start.wait()
        return archive_push(database, "ce-push", accepted, now=now).run_id

    with ThreadPoolExecutor(len(bodies)) as pool:
        run_ids = set(pool.map(archive, bodies))
    assert len(run_ids) == 1
    [record] = recent_runs(database, "ce-push", 10)
    assert record.counts.messages_seen == len(bodies)


def test_hub_runs_shows_a_push_connectors_hours(
    database: Database, hub_url: str, tmp_path: Path
) -> None:
    """Over real HTTP: what the carrier pushed (twice each) shows in `hub runs`."""
    with carrier(hub_url, duplicate_rate=1.0) as sim:
        parcel = sim.add_parcel("ME-000123", "CE123456789FR")
        at = datetime(2026, 11, 2, 17, 31, tzinfo=PARIS)
        for hours, code in enumerate(["PCH", "TRI", "LIV"]):
            sim.add_event(parcel, code, at + timedelta(hours=hours))
        run = sim.push_pending()
    answered = sum(1 for attempt in run.attempts if attempt.status == 200)
    assert answered >= 6, "every event was delivered twice"
    assert wait_for(database, 3) == 3

    records = recent_runs(database, "ce-push", 10)
    totals = RunCounts()
    for record in records:
        totals.add(record.counts)
    assert totals.messages_seen == answered, "each push is counted when it is archived"
    assert totals.events_stored == 3
    # A copy processed while its first was still being stored is read again (its event
    # then a duplicate, never stored twice); a copy processed after it is skipped.
    assert 3 <= totals.messages_read <= answered
    assert totals.records_read == totals.messages_read
    assert totals.duplicates == totals.records_read - 3
    assert all(record.push_window is not None for record in records)
    # an hour's boundary may fall between two pushes: then two records, never more
    assert 1 <= len(records) <= 2

    env = {"HUB_CONNECTORS": str(network(tmp_path)), "HUB_DATABASE_URL": database.url}
    shown = CliRunner().invoke(app, ["runs", "ce-push"], env=env, terminal_width=250)
    assert shown.exit_code == 0, shown.output
    assert "succeeded (pushes of the hour)" in shown.output
    as_json = CliRunner().invoke(app, ["runs", "ce-push", "--json"], env=env)
    lines = [json.loads(line) for line in as_json.output.splitlines()]
    assert [line["push_window"] is not None for line in lines] == [True] * len(records)
