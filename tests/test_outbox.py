"""The transactional outbox and its dispatcher, on SQLite and PostgreSQL.

Time is an injected clock and jitter is off (``lambda: 1.0``: each wait a full step) wherever
delays are checked, so nothing here sleeps except the concurrency test, which needs real overlap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import FrozenInstanceError, asdict, fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from hub.errors import ConflictError, FatalError, NotFoundError, TransientError
from hub.ports import DeliveryReceipt
from hub.store.db import Database
from hub.store.outbox import Delivered, ResentBy, settle_many
from hub.store.tables import outbox
from hub.sync import outbox as outbox_module
from hub.sync.failures import FailureState, case_failures
from hub.sync.outbox import (
    Bell,
    Dispatcher,
    DispatchResult,
    OutboxItem,
    OutboxRow,
    OutboxState,
    claim,
    dead_letters,
    discard,
    enqueue,
    get_message,
    replay,
)

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
OK = DeliveryReceipt(status=200, body=b"", already_known=False)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Receiver:
    """A scripted send: ``failures[key]`` errors are raised, in turn, before success."""

    def __init__(self, failures: dict[str, list[Exception]] | None = None) -> None:
        self.failures = {key: list(errors) for key, errors in (failures or {}).items()}
        self.calls: list[str] = []

    def __call__(self, message: OutboxRow) -> DeliveryReceipt:
        self.calls.append(message.idempotency_key)
        pending = self.failures.get(message.idempotency_key)
        if pending:
            raise pending.pop(0)
        return OK


def item(key: str, *, case: str | None = "C1", target: str = "repairer") -> OutboxItem:
    return OutboxItem(
        target=target, kind="repair_order", idempotency_key=key, payload={"k": key}, case_ref=case
    )


def put(database: Database, *items: OutboxItem, now: datetime = T0) -> list[int]:
    with database.transaction() as connection:
        return enqueue(connection, items, now=now)


def dispatcher(
    database: Database,
    send: Callable[[OutboxRow], DeliveryReceipt],
    clock: Clock,
    *,
    owner: str = "d1",
    base_delay: float = 2.0,
    max_attempts: int = 8,
    lease_seconds: float = 60.0,
) -> Dispatcher:
    """A dispatcher on the test clock, without jitter: delays are exactly the caps."""
    return Dispatcher(
        database,
        send,
        owner=owner,
        base_delay=base_delay,
        max_attempts=max_attempts,
        lease_seconds=lease_seconds,
        clock=clock,
        jitter=lambda: 1.0,
    )


def count(database: Database) -> int:
    with database.transaction() as connection:
        return int(connection.execute(select(func.count()).select_from(outbox)).scalar_one())


def test_enqueue_skips_known_idempotency_keys(database: Database) -> None:
    first = put(database, item("a"), item("b"), item("a"))
    again = put(database, item("b"), item("c"))
    assert len(first) == 2
    assert len(again) == 1
    assert count(database) == 3
    stored = get_message(database, first[0])
    assert stored.state is OutboxState.PENDING
    assert stored.payload == {"k": "a"}
    assert stored.ordering_key == "C1"
    assert stored.attempts == 0


def test_enqueue_rolls_back_with_the_events_transaction(database: Database) -> None:
    def store_events_and_fail() -> None:
        with database.transaction() as connection:
            enqueue(connection, [item("a")], now=T0)
            raise RuntimeError("the event could not be stored")

    with pytest.raises(RuntimeError):
        store_events_and_fail()
    assert count(database) == 0


def test_transient_errors_retry_with_growing_delays_then_deliver(database: Database) -> None:
    clock = Clock()
    (message_id,) = put(database, item("a"))
    send = Receiver({"a": [TransientError("503")] * 3})
    worker = dispatcher(database, send, clock, base_delay=2.0)
    delays = []
    for _ in range(3):
        assert worker.run_once() == DispatchResult(claimed=1, retried=1)
        stored = get_message(database, message_id)
        assert stored.lease_owner is None
        assert stored.last_error == "TransientError: 503"
        delays.append((stored.next_attempt_at - clock.now).total_seconds())
        assert worker.run_once().claimed == 0  # not due yet
        clock.now = stored.next_attempt_at
    assert delays == [2.0, 4.0, 8.0]
    assert worker.run_once() == DispatchResult(claimed=1, delivered=1)
    stored = get_message(database, message_id)
    assert stored.state is OutboxState.DELIVERED
    assert stored.attempts == 4
    assert stored.receipt_status == 200
    assert stored.delivered_at == clock.now
    assert send.calls == ["a"] * 4


def test_retry_after_is_respected_and_delays_are_capped(database: Database) -> None:
    clock = Clock()
    (slow,) = put(database, item("slow", case="C1"))
    send = Receiver({"slow": [TransientError("429", retry_after=90.0)]})
    dispatcher(database, send, clock).run_once()
    assert get_message(database, slow).next_attempt_at == T0 + timedelta(seconds=90)
    worker = Dispatcher(database, send, owner="d", max_delay=10.0, jitter=lambda: 1.0)
    assert worker.backoff(30) == 10.0
    assert 0.0 <= Dispatcher(database, send, owner="d").backoff(3) <= 8.0  # real jitter


def test_order_per_target_and_key_is_kept_across_retries(database: Database) -> None:
    clock = Clock()
    put(
        database,
        item("c1-first"),
        item("c1-second"),
        item("c2-only", case="C2"),
        item("c1-carrier", target="carrier"),
    )
    send = Receiver({"c1-first": [TransientError("down")]})
    worker = dispatcher(database, send, clock)
    assert worker.run_once() == DispatchResult(claimed=3, delivered=2, retried=1)
    assert worker.run_once().claimed == 0  # c1-second waits behind the retrying c1-first
    clock.advance(2)
    assert worker.run_once() == DispatchResult(claimed=1, delivered=1)
    assert worker.run_once() == DispatchResult(claimed=1, delivered=1)
    assert send.calls == ["c1-first", "c2-only", "c1-carrier", "c1-first", "c1-second"]


def test_a_non_retryable_error_dead_letters_at_once_and_blocks_its_queue(
    database: Database,
) -> None:
    clock = Clock()
    first, _ = put(database, item("bad"), item("next"))
    put(database, item("other", target="carrier"))
    send = Receiver({"bad": [FatalError("schema says no")]})
    worker = dispatcher(database, send, clock)
    assert worker.run_until_idle() == DispatchResult(claimed=2, delivered=1, dead=1)
    (dead,) = dead_letters(database)
    assert (dead.id, dead.attempts, dead.last_error) == (first, 1, "FatalError: schema says no")
    assert dead_letters(database, target="carrier") == []
    clock.advance(24 * 3600)
    assert worker.run_once().claimed == 0  # "next" stays behind the dead letter
    assert "next" not in send.calls


def test_max_attempts_dead_letters(database: Database) -> None:
    clock = Clock()
    (message_id,) = put(database, item("a"))
    send = Receiver({"a": [TransientError("down")] * 10})
    worker = dispatcher(database, send, clock, max_attempts=3)
    outcomes = []
    for _ in range(3):
        result = worker.run_once()
        outcomes.append((result.retried, result.dead))
        clock.advance(3600)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    assert worker.run_once().claimed == 0
    stored = get_message(database, message_id)
    assert (stored.state, stored.attempts) == (OutboxState.DEAD, 3)


def test_unexpected_exceptions_are_retried_not_lost(database: Database) -> None:
    clock = Clock()
    (message_id,) = put(database, item("a"))
    send = Receiver({"a": [KeyError("bug")]})
    worker = dispatcher(database, send, clock)
    assert worker.run_once().retried == 1
    assert get_message(database, message_id).last_error == "KeyError: 'bug'"
    clock.advance(2)
    assert worker.run_once().delivered == 1


def test_replay_sends_a_dead_letter_again(database: Database) -> None:
    clock = Clock()
    first, second = put(database, item("a"), item("b"))
    send = Receiver({"a": [FatalError("receiver refused")]})
    worker = dispatcher(database, send, clock)
    worker.run_until_idle()
    clock.advance(60)
    replayed = replay(database, first, now=clock.now)
    assert (replayed.state, replayed.attempts, replayed.next_attempt_at) == (
        OutboxState.PENDING,
        0,
        clock.now,
    )
    assert worker.run_until_idle().delivered == 2
    assert send.calls == ["a", "a", "b"]
    assert dead_letters(database) == []
    with pytest.raises(ConflictError):
        replay(database, second)
    with pytest.raises(NotFoundError):
        replay(database, 999_999)


def test_each_death_is_kept_with_what_became_of_its_message(database: Database) -> None:
    """A message dies, is replayed, dies again, is replayed and delivered: two failures
    kept, the first failed again, the second fixed by the operator's replay."""
    clock = Clock()
    (message_id,) = put(database, item("a"))
    send = Receiver({"a": [FatalError("refused"), FatalError("refused again")]})
    worker = dispatcher(database, send, clock)
    assert worker.run_until_idle().dead == 1
    with database.transaction() as connection:
        [only] = case_failures(connection, "C1", None)
    assert (only.message_id, only.state, only.error) == (
        message_id,
        FailureState.DEAD,
        "FatalError: refused",
    )
    assert (only.attempts, only.failed_at, only.partner) == (1, clock.now, "repairer")
    for _ in range(2):
        clock.advance(60)
        replay(database, message_id, now=clock.now)
        worker.run_until_idle()
    with database.transaction() as connection:
        first, second = case_failures(connection, "C1", None)
    assert (first.state, first.resent_by) == (FailureState.FAILED_AGAIN, ResentBy.REPLAY)
    assert (second.state, second.error) == (FailureState.FIXED, "FatalError: refused again")
    assert second.fixed_at == clock.now


def test_discard_unblocks_the_queue(database: Database) -> None:
    clock = Clock()
    first, second = put(database, item("a"), item("b"))
    send = Receiver({"a": [FatalError("gone")]})
    worker = dispatcher(database, send, clock)
    worker.run_until_idle()
    assert discard(database, first).state is OutboxState.DISCARDED
    assert worker.run_until_idle() == DispatchResult(claimed=1, delivered=1)
    assert send.calls == ["a", "b"]
    assert dead_letters(database) == []
    with pytest.raises(ConflictError):
        discard(database, second)  # delivered already


def test_an_expired_lease_is_taken_over(database: Database) -> None:
    clock = Clock()
    (message_id,) = put(database, item("a"))
    # A dispatcher claims and dies before sending or marking.
    (claimed,) = claim(database, "crashed", limit=10, lease_seconds=30, now=clock.now)
    assert (claimed.lease_owner, claimed.attempts) == ("crashed", 1)
    send = Receiver()
    survivor = dispatcher(database, send, clock, owner="survivor")
    clock.advance(10)
    assert survivor.run_once().claimed == 0  # the lease still holds
    clock.advance(21)
    assert survivor.run_once() == DispatchResult(claimed=1, delivered=1)
    stored = get_message(database, message_id)
    assert (stored.state, stored.attempts, stored.lease_owner) == (OutboxState.DELIVERED, 2, None)


def test_a_late_dispatcher_does_not_overwrite_the_one_that_took_over(database: Database) -> None:
    """A send slower than its lease: another dispatcher sends it again and marks it;
    the slow one's outcome is dropped (at least once, never a wrong state)."""
    clock = Clock()
    (message_id,) = put(database, item("a"))
    fast_send = Receiver()
    fast = dispatcher(database, fast_send, clock, owner="fast", lease_seconds=30)
    taken_over: list[DispatchResult] = []

    def slow_send(message: OutboxRow) -> DeliveryReceipt:
        clock.advance(31)
        taken_over.append(fast.run_once())
        raise TransientError("timed out, after all")

    slow = dispatcher(database, slow_send, clock, owner="slow", lease_seconds=30)
    assert slow.run_once() == DispatchResult(claimed=1, lost=1)
    assert taken_over == [DispatchResult(claimed=1, delivered=1)]
    stored = get_message(database, message_id)
    assert (stored.state, stored.last_error, stored.lease_owner) == (
        OutboxState.DELIVERED,
        None,
        None,
    )


def test_concurrent_dispatchers_deliver_each_message_exactly_once(database: Database) -> None:
    """Four dispatchers on two engines (two per engine, as threads): no message is sent
    twice, or by two at once, and each case's messages go out in order. Two are not
    enough to catch a claim without its row locks on PostgreSQL; four are."""
    items = [item(f"case{c}-{n}", case=f"C{c}") for n in range(5) for c in range(8)]
    items += [item(f"loose-{n}", case=None) for n in range(40)]
    put(database, *items, now=datetime.now(UTC))
    lock = threading.Lock()
    calls: Counter[str] = Counter()
    in_flight: set[str] = set()
    overlaps: list[str] = []
    sent_per_case: defaultdict[str, list[int]] = defaultdict(list)

    def send(message: OutboxRow) -> DeliveryReceipt:
        with lock:
            if message.idempotency_key in in_flight:
                overlaps.append(message.idempotency_key)
            in_flight.add(message.idempotency_key)
            calls[message.idempotency_key] += 1
            if message.case_ref is not None:
                sent_per_case[message.case_ref].append(message.id)
        time.sleep(0.001)
        with lock:
            in_flight.discard(message.idempotency_key)
        return OK

    second = Database(database.url)
    errors: list[BaseException] = []
    results: list[DispatchResult] = []

    def work(db: Database, owner: str) -> None:
        worker = Dispatcher(db, send, owner=owner, batch_size=5)
        total = DispatchResult()
        deadline = time.monotonic() + 15
        try:
            while time.monotonic() < deadline:
                result = worker.run_once()
                total.add(result)
                if result.claimed == 0:
                    with db.transaction() as connection:
                        left = connection.execute(
                            select(func.count())
                            .select_from(outbox)
                            .where(outbox.c.state == OutboxState.PENDING.value)
                        ).scalar_one()
                    if left == 0:
                        break
                    time.sleep(0.005)
        except Exception as error:  # noqa: BLE001 - the main thread reports it
            errors.append(error)
        results.append(total)

    threads = [
        threading.Thread(target=work, args=(db, owner))
        for db, owner in [(database, "a1"), (database, "a2"), (second, "b1"), (second, "b2")]
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        second.dispose()
    assert errors == []
    assert overlaps == []
    assert calls == Counter({entry.idempotency_key: 1 for entry in items})
    assert all(ids == sorted(ids) for ids in sent_per_case.values())
    assert sum(result.delivered for result in results) == len(items)
    assert len(results) == 4
    assert sum(result.lost for result in results) == 0


class Files:
    """A scripted ``SendTogether``: messages to ``repairer`` share files of ``limit``
    lines; ``bad`` keys cannot be prepared; ``failures`` are raised by sends, in turn."""

    def __init__(
        self, limit: int, *, bad: set[str] | None = None, failures: list[Exception] | None = None
    ) -> None:
        self.max_lines = limit
        self.bad = bad or set()
        self.failures = list(failures or [])
        self.files: list[list[str]] = []

    def limit(self, message: OutboxRow) -> int:
        return self.max_lines if message.target == "repairer" else 1

    def prepare(self, message: OutboxRow) -> str:
        if message.idempotency_key in self.bad:
            raise FatalError(f"{message.idempotency_key} lacks what the partner needs")
        return message.idempotency_key

    def send(self, messages: Sequence[OutboxRow], prepared: Sequence[str]) -> DeliveryReceipt:
        assert [m.idempotency_key for m in messages] == list(prepared)
        if self.failures:
            raise self.failures.pop(0)
        self.files.append(list(prepared))
        return OK


def together(
    database: Database, files: Files, clock: Clock, *, batch_size: int = 50, lease: float = 60.0
) -> Dispatcher:
    """A dispatcher that sends ``files`` together, on the test clock, without jitter."""
    return Dispatcher(
        database,
        Receiver(),
        owner="d1",
        clock=clock,
        jitter=lambda: 1.0,
        together=files,
        batch_size=batch_size,
        lease_seconds=lease,
    )


def test_messages_due_together_to_one_target_go_out_as_one_file(database: Database) -> None:
    put(database, *[item(f"o{n}", case=f"C{n}") for n in range(5)])
    put(database, item("elsewhere", case="C9", target="carrier"))
    files = Files(limit=3)
    clock = Clock()
    worker = together(database, files, clock)
    result = worker.run_once()
    assert (result.claimed, result.delivered) == (6, 6)
    assert files.files == [["o0", "o1", "o2"], ["o3", "o4"]]
    assert worker.send.calls == ["elsewhere"]  # type: ignore[attr-defined]
    delivered = [get_message(database, n) for n in range(1, 7)]
    assert {row.state for row in delivered} == {OutboxState.DELIVERED}


def test_a_full_claim_is_topped_up_with_the_targets_due_messages(database: Database) -> None:
    put(database, *[item(f"o{n}", case=f"C{n}") for n in range(7)])
    files = Files(limit=10)
    result = together(database, files, Clock(), batch_size=2).run_once()
    assert (result.claimed, result.delivered) == (7, 7)
    assert files.files == [[f"o{n}" for n in range(7)]], "one file, not one per claim"


def test_one_file_holds_one_message_per_case_and_keeps_each_cases_order(
    database: Database,
) -> None:
    put(database, item("a1", case="A"), item("b1", case="B"), item("a2", case="A"))
    files = Files(limit=10)
    worker = together(database, files, Clock())
    assert worker.run_until_idle().delivered == 3
    assert files.files == [["a1", "b1"], ["a2"]]


def test_a_message_that_cannot_be_prepared_fails_alone(database: Database) -> None:
    put(database, *[item(f"o{n}", case=f"C{n}") for n in range(3)])
    files = Files(limit=10, bad={"o1"})
    result = together(database, files, Clock()).run_once()
    assert (result.delivered, result.dead) == (2, 1)
    assert files.files == [["o0", "o2"]]
    assert [row.idempotency_key for row in dead_letters(database)] == ["o1"]


def test_a_failed_file_is_retried_whole_and_sent_once(database: Database) -> None:
    put(database, *[item(f"o{n}", case=f"C{n}") for n in range(3)])
    files = Files(limit=10, failures=[TransientError("connection reset")])
    clock = Clock()
    worker = together(database, files, clock)
    assert worker.run_once().retried == 3
    waiting = [get_message(database, n) for n in range(1, 4)]
    assert len({row.next_attempt_at for row in waiting}) == 1, "due again together"
    assert {row.last_error for row in waiting} == {"TransientError: connection reset"}
    assert worker.run_once().claimed == 0
    clock.advance(2.0)
    assert worker.run_once().delivered == 3
    assert files.files == [["o0", "o1", "o2"]]


def test_a_file_whose_leases_were_taken_over_is_not_marked_by_the_late_dispatcher(
    database: Database,
) -> None:
    put(database, *[item(f"o{n}", case=f"C{n}") for n in range(2)])
    clock = Clock()
    files = Files(limit=10)
    late = together(database, files, clock, lease=10)
    original = files.send

    def slow(messages: Sequence[OutboxRow], prepared: Sequence[str]) -> DeliveryReceipt:
        clock.advance(11)  # the lease expires while the file is written
        assert len(claim(database, "d2", now=clock())) == 2
        return original(messages, prepared)

    files.send = slow  # type: ignore[method-assign]
    assert late.run_once().lost == 2
    assert {get_message(database, n).lease_owner for n in (1, 2)} == {"d2"}


def test_concurrent_deliveries_keep_each_cases_order_and_stay_within_the_bound(
    database: Database,
) -> None:
    """Sends in flight at once, up to ``concurrency`` per target, never two of one case
    together, each case in id order, each message once; two such dispatchers at once."""
    items = [
        item(f"c{c}-{n}", case=f"C{c}", target=f"t{c % 2}") for n in range(4) for c in range(12)
    ]
    put(database, *items, now=datetime.now(UTC))
    lock = threading.Lock()
    calls: Counter[str] = Counter()
    busy_cases: set[str] = set()
    busy_targets: Counter[str] = Counter()
    most: Counter[str] = Counter()
    overlaps: list[str] = []
    sent_per_case: defaultdict[str, list[int]] = defaultdict(list)

    def send(message: OutboxRow) -> DeliveryReceipt:
        assert message.case_ref is not None
        with lock:
            if message.case_ref in busy_cases:
                overlaps.append(message.idempotency_key)
            busy_cases.add(message.case_ref)
            busy_targets[message.target] += 1
            most[message.target] = max(most[message.target], busy_targets[message.target])
            calls[message.idempotency_key] += 1
            sent_per_case[message.case_ref].append(message.id)
        time.sleep(0.01)  # long enough for the other sends of the round to start
        with lock:
            busy_cases.discard(message.case_ref)
            busy_targets[message.target] -= 1
        return OK

    second = Database(database.url)
    workers = [
        Dispatcher(db, send, owner=owner, concurrency=3, batch_size=8)
        for db, owner in [(database, "a"), (second, "b")]
    ]
    results: list[DispatchResult] = []
    try:
        threads = [
            threading.Thread(target=lambda w=w: results.append(w.run_until_idle())) for w in workers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        results.append(workers[0].run_until_idle())  # whatever the other still held
    finally:
        for worker in workers:
            worker.close()
        second.dispose()
    assert overlaps == [], "never two messages of one case in flight together"
    assert calls == Counter({entry.idempotency_key: 1 for entry in items})
    assert all(ids == sorted(ids) for ids in sent_per_case.values())
    assert sum(result.delivered for result in results) == len(items)
    # Each dispatcher allows 3 per target: two of them, 6 at most, and more than one.
    assert 1 < max(most.values()) <= 6
    assert all(get_message(database, i).state is OutboxState.DELIVERED for i in range(1, 49))


def test_a_delivery_marked_in_a_batch_is_fenced_like_one_marked_alone(
    database: Database,
) -> None:
    """Outcomes written together: each keeps its own time and receipt, and one whose
    lease another dispatcher took over is not written (counted lost)."""
    clock = Clock()
    put(database, item("a", case="A"), item("b", case="B"), item("c", case="C", target="late"))
    statuses = {"a": 200, "b": 202, "c": 204}

    def send(message: OutboxRow) -> DeliveryReceipt:
        clock.advance(1)
        if message.idempotency_key == "c":  # too slow: another dispatcher takes it over
            clock.advance(60)
            (taken,) = claim(
                database, "other", limit=10, lease_seconds=60, now=clock.now, target="late"
            )
            assert taken.idempotency_key == "c"
        return DeliveryReceipt(
            status=statuses[message.idempotency_key], body=b"", already_known=False
        )

    worker = dispatcher(database, send, clock, lease_seconds=30)
    assert worker.run_once() == DispatchResult(claimed=3, delivered=2, lost=1)
    a, b, c = (get_message(database, i) for i in (1, 2, 3))
    assert (a.state, a.receipt_status, a.delivered_at) == (
        OutboxState.DELIVERED,
        200,
        T0 + timedelta(seconds=1),
    )
    assert (b.state, b.receipt_status, b.delivered_at) == (
        OutboxState.DELIVERED,
        202,
        T0 + timedelta(seconds=2),
    )
    assert (c.state, c.lease_owner, c.delivered_at) == (OutboxState.PENDING, "other", None)


def test_deliveries_marked_together_keep_receipts_without_status_and_instants_with_offsets(
    database: Database,
) -> None:
    """The batch's mark on PostgreSQL binds its four arrays in the binary format: a batch
    whose receipts all lack a status (a file's delivery), instants given with an offset
    and an id beyond 32 bits are written as given, as on SQLite."""
    put(database, item("a", case="A"), item("b", case="B"))
    with database.transaction() as connection:
        connection.execute(outbox.update().where(outbox.c.id == 2).values(id=2**40))
    rows = claim(database, "d1", limit=10, now=T0)
    paris = timezone(timedelta(hours=1))
    at = [T0.astimezone(paris) + timedelta(seconds=n) for n in (1, 2)]
    with database.transaction() as connection:
        settled = settle_many(
            connection,
            [
                (row, Delivered(at=moment, receipt_status=None))
                for row, moment in zip(rows, at, strict=True)
            ],
            "d1",
        )
    assert settled == [True, True]
    marked = [get_message(database, row.id) for row in rows]
    assert [row.id for row in marked] == [1, 2**40]
    assert [(row.state, row.receipt_status, row.delivered_at) for row in marked] == [
        (OutboxState.DELIVERED, None, at[0]),
        (OutboxState.DELIVERED, None, at[1]),
    ]
    assert all(row.delivered_at is not None and row.delivered_at.tzinfo is UTC for row in marked)


def test_queueing_rings_the_bell_once_committed_and_not_on_rollback(database: Database) -> None:
    bell = Bell()
    rung: list[bool] = []

    def ring() -> None:
        rung.append(True)
        bell.ring()

    with database.transaction() as connection:
        enqueue(connection, [item("a")], on_queued=ring)
        assert rung == [], "not before the commit: a dispatcher would find nothing"
    assert rung == [True]

    def failing() -> None:
        with database.transaction() as connection:
            enqueue(connection, [item("b")], on_queued=ring)
            raise RuntimeError("the events' transaction fails")

    with pytest.raises(RuntimeError):
        failing()
    with database.transaction() as connection:
        assert enqueue(connection, [item("a")], on_queued=ring) == [], (
            "a known key is no new message"
        )
    assert rung == [True]
    assert bell.wait(0) is True
    assert bell.wait(0) is False, "a wait clears it"


def test_a_serving_dispatcher_is_woken_by_a_message_queued_in_its_process(
    database: Database,
) -> None:
    """`hub serve`'s loop waits an hour between rounds here: only the bell can bring the
    message out while the test waits."""
    bell = Bell()
    sent = threading.Event()

    def send(message: OutboxRow) -> DeliveryReceipt:
        sent.set()
        return OK

    stop = threading.Event()
    worker = Dispatcher(database, send, owner="d", stopping=stop, bell=bell)
    loop = threading.Thread(target=worker.serve, args=(3600.0,))
    loop.start()
    try:
        time.sleep(0.3)  # its first round found nothing; it waits
        assert not sent.is_set()
        with database.transaction() as connection:
            due = datetime.now(UTC) - timedelta(seconds=1)
            enqueue(connection, [item("a")], now=due, on_queued=bell.ring)
        assert sent.wait(30), "woken by the bell, not by its hourly round"
    finally:
        stop.set()
        loop.join(30)
    assert not loop.is_alive(), "it stops once asked"


def test_a_target_that_takes_no_overlap_gets_one_delivery_at_a_time(database: Database) -> None:
    """A partner's connector (two files named from the same second must not race) gets
    one delivery at a time while a webhook beside it gets several."""
    items = [item(f"{t}-{c}", case=f"C{c}", target=t) for c in range(6) for t in ("web", "sftp")]
    put(database, *items, now=datetime.now(UTC))
    lock = threading.Lock()
    busy: Counter[str] = Counter()
    most: Counter[str] = Counter()

    def send(message: OutboxRow) -> DeliveryReceipt:
        with lock:
            busy[message.target] += 1
            most[message.target] = max(most[message.target], busy[message.target])
        time.sleep(0.02)
        with lock:
            busy[message.target] -= 1
        return OK

    worker = Dispatcher(
        database, send, owner="d", concurrency=4, overlaps=lambda target: target == "web"
    )
    try:
        result = worker.run_until_idle()
    finally:
        worker.close()
    assert result.delivered == len(items)
    assert most["sftp"] == 1
    assert 1 < most["web"] <= 4


def test_a_message_after_another_waits_for_it_across_targets(database: Database) -> None:
    """A rule's ``after``: the repair order waits for the pickup (another target, so
    another queue) while it is pending or dead; it goes once that one is delivered, or
    discarded by an operator; a message waited for that retention removed holds nothing."""
    clock = Clock()
    pickup = item("pickup", target="carrier")
    order = OutboxItem(
        target="repairer",
        kind="repair_order",
        idempotency_key="order",
        payload={},
        case_ref="C1",
        after="pickup",
    )
    pickup_id, order_id = put(database, pickup, order)
    assert get_message(database, order_id).after_id == pickup_id

    send = Receiver({"pickup": [TransientError("busy"), FatalError("refused")]})
    worker = dispatcher(database, send, clock)
    worker.run_until_idle()
    assert send.calls == ["pickup"], "the order waits while the pickup is due again"
    clock.advance(60)
    worker.run_until_idle()
    assert send.calls == ["pickup", "pickup"]
    assert get_message(database, pickup_id).state is OutboxState.DEAD
    clock.advance(3600)
    worker.run_until_idle()
    assert send.calls == ["pickup", "pickup"], "a dead letter holds it back too"

    discard(database, pickup_id)
    assert worker.run_until_idle() == DispatchResult(claimed=1, delivered=1)
    assert send.calls[-1] == "order"

    # Waited for and delivered, in one round: the later message follows in the next claim.
    again = Receiver()
    later_pickup, _ = put(
        database,
        item("pickup-2", case="C2", target="carrier"),
        OutboxItem("repairer", "repair_order", "order-2", {}, case_ref="C2", after="pickup-2"),
    )
    dispatcher(database, again, clock).run_until_idle()
    assert again.calls == ["pickup-2", "order-2"]

    # The awaited message already queued earlier (a cause processed again), or gone.
    [known] = put(
        database, OutboxItem("repairer", "note", "note-1", {}, case_ref="C3", after="pickup-2")
    )
    assert get_message(database, known).after_id == later_pickup
    with database.transaction() as connection:
        connection.execute(outbox.delete().where(outbox.c.id == later_pickup))
        connection.execute(
            outbox.update().where(outbox.c.id == known).values(after_id=later_pickup)
        )
    dispatcher(database, again, clock).run_until_idle()
    assert again.calls[-1] == "note-1"


def test_claim_statements_built_once_bind_each_claims_own_values(database: Database) -> None:
    """The claim statements are built once per shape and kept: each claim still leases
    for its own owner, time and lease, takes its own limit, and a claim narrowed by
    target and kind takes only those, wherever the unnarrowed one was built first."""
    put(
        database,
        item("a", case="C1"),
        item("b", case="C2"),
        item("c", case="C3", target="carrier"),
        item("d", case="C4", target="carrier"),
    )
    first = claim(database, "one", limit=1, now=T0, lease_seconds=60)
    assert [row.idempotency_key for row in first] == ["a"]
    assert (first[0].lease_owner, first[0].lease_until) == ("one", T0 + timedelta(seconds=60))
    later = T0 + timedelta(seconds=5)
    narrowed = claim(
        database,
        "two",
        limit=5,
        now=later,
        lease_seconds=30,
        target="carrier",
        kind="repair_order",
    )
    assert [row.idempotency_key for row in narrowed] == ["c", "d"]
    assert {(row.lease_owner, row.lease_until) for row in narrowed} == {
        ("two", later + timedelta(seconds=30))
    }
    rest = claim(database, "three", limit=5, now=later)
    assert [(row.idempotency_key, row.lease_owner) for row in rest] == [("b", "three")]
    assert claim(database, "four", limit=5, now=later) == []


def test_each_delivery_says_its_line_from_the_dispatcher(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    put(database, item("a"), item("b", case="C2"))
    send = Receiver({"b": [TransientError("503")]})
    with caplog.at_level(logging.INFO, logger="hub.sync.outbox"):
        assert dispatcher(database, send, Clock()).run_once() == DispatchResult(
            claimed=2, delivered=1, retried=1
        )
    lines = [record for record in caplog.records if record.name == "hub.sync.outbox"]
    assert sorted(record.getMessage() for record in lines) == [
        "outbox message 1 (repair_order, attempt 1): delivered",
        "outbox message 2 (repair_order, attempt 1): retried",
    ]
    source = Path(outbox_module.__file__).read_text().splitlines()
    for record in lines:
        assert record.levelno == logging.INFO
        assert (record.pathname, record.funcName) == (outbox_module.__file__, "_dispatch")
        assert source[record.lineno - 1].strip().startswith("_delivery_line(")


def test_a_row_read_by_position_is_the_message_the_constructor_makes(database: Database) -> None:
    """``OutboxRow.from_row`` gives the message its attributes at once, not through the
    frozen dataclass's ``__init__`` (issue 17): every claimed row is the same message,
    field by field, as the constructor makes of its values, still frozen, and a row of
    another length is refused."""
    put(database, item("a", case="C1"), item("b", case="C2"))
    claimed = claim(database, "owner", now=T0)
    assert len(claimed) == 2
    for message in claimed:
        values = [getattr(message, field.name) for field in fields(OutboxRow)]
        made = OutboxRow(*values)
        assert message == made
        assert vars(message) == vars(made)
        assert list(vars(message)) == list(vars(made))
        assert repr(message) == repr(made)
        assert asdict(message) == asdict(made)
        assert message.state is OutboxState.PENDING
        with pytest.raises(FrozenInstanceError):
            message.attempts = 5  # type: ignore[misc]
        row = [*values[:8], message.state.value, *values[9:]]
        assert OutboxRow.from_row(row) == made
        with pytest.raises(ValueError, match="shorter"):
            OutboxRow.from_row(row[:-1])


def test_a_rounds_marks_and_claim_commit_apart_on_one_connection(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round's bookkeeping marks what was sent, then claims more: two transactions on
    one pool checkout (issue 17), each committed on its own, so that the claim sees the
    marks (the case's next message is claimed at once) and a claim that fails keeps them."""
    first, second, third = put(database, item("a"), item("b"), item("c"))  # one case
    send = dispatcher(database, Receiver(), Clock())
    result = DispatchResult()
    units = send._book([], 10, result)
    assert [row.id for unit in units for row in unit.rows] == [first]
    checkouts: list[object] = []

    def checked_out(*_: object) -> None:
        checkouts.append(None)

    marks = [(units[0].rows[0], Delivered(at=T0, receipt_status=200), "delivered")]
    event.listen(database.engine, "checkout", checked_out)
    try:
        units = send._book(marks, 10, result)
    finally:
        event.remove(database.engine, "checkout", checked_out)
    assert len(checkouts) == 1
    assert [row.id for unit in units for row in unit.rows] == [second]
    assert get_message(database, first).state is OutboxState.DELIVERED

    def failed_claim(*_: object, **__: object) -> list[OutboxRow]:
        raise RuntimeError("the claim failed")

    monkeypatch.setattr(outbox_module.store, "claim", failed_claim)
    marks = [(units[0].rows[0], Delivered(at=T0, receipt_status=200), "delivered")]
    with pytest.raises(RuntimeError, match="the claim failed"):
        send._book(marks, 10, result)
    assert get_message(database, second).state is OutboxState.DELIVERED
    assert get_message(database, third).state is OutboxState.PENDING
    assert result == DispatchResult(claimed=2, delivered=2)
