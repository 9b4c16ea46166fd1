"""The transactional outbox and its dispatcher: nothing that must go out is ever lost.

The sync engine writes outbound messages with ``enqueue`` in the same transaction as the
events that cause them, so either both are stored or neither is. A ``Dispatcher`` then
claims due messages with a database lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
calls ``send`` outside any transaction, and marks each message delivered, to retry or
dead. A process that dies between sending and marking leaves its lease to expire and the
message is sent again: delivery is at least once, and every message carries a stable
idempotency key so that receivers can drop the repeat. Where a partner takes several
records per file, the messages claimed for it go out as one file and are marked in one
transaction (``SendTogether``); a crash before the mark sends them again, as for one.

Order: messages with the same ``(target, ordering_key)`` go out in id order. A message is
claimed only while no earlier message of its queue is pending (waiting, retrying or
being sent) or dead: a dead letter blocks the messages behind it until an operator
replays or discards it, because sending a later status before an earlier one would give
the receiver a wrong picture. Id order is commit order only if writers to one queue are
serialised; the sync engine does that by updating the case row before enqueueing.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hub.backoff import Backoff, Draw, random_draw
from hub.errors import ConfigurationError, ConflictError, HubError, NextAction, NotFoundError
from hub.logs import LogSite, log_context
from hub.store import outbox as store
from hub.store.db import Connection, Database, HeldConnection, after_commit
from hub.store.outbox import (
    BLOCKING_STATES,
    Dead,
    Delivered,
    OutboxItem,
    OutboxRow,
    OutboxState,
    Outcome,
    Retry,
)

if TYPE_CHECKING:  # `hub outbox dead-letters` reads rows and sends none: no ports
    from hub.ports import DeliveryReceipt

__all__ = [
    "BLOCKING_STATES",
    "Bell",
    "DeadHook",
    "DispatchResult",
    "Dispatcher",
    "OutboxItem",
    "OutboxRow",
    "OutboxState",
    "Prefetch",
    "Ring",
    "Send",
    "SendTogether",
    "claim",
    "dead_letters",
    "discard",
    "enqueue",
    "get_message",
    "held_back_by",
    "replay",
]

log = logging.getLogger(__name__)
_delivery_line = LogSite(log, logging.INFO)
"""Each delivery's line, its caller kept rather than looked up each time (issue 17)."""

MAX_ERROR_LENGTH = 2000
"""Enough of an error for an operator; a partner's whole HTML error page is not."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def claim(
    database: Database | HeldConnection,
    owner: str,
    *,
    limit: int = 50,
    lease_seconds: float = 60.0,
    now: datetime | None = None,
    target: str | None = None,
    kind: str | None = None,
) -> list[OutboxRow]:
    """Lease up to ``limit`` due messages that head their queue, for ``owner``; only those
    of ``target`` and ``kind`` when given (more lines for a file already being filled).

    A transaction of its own, one statement (hub.store.outbox.claim): concurrent
    claimers skip each other's rows on PostgreSQL and are serialised on SQLite. On a
    connection held for a round's bookkeeping when given one (``Dispatcher._book``).
    """
    with database.transaction() as connection:
        return store.claim(
            connection,
            owner,
            limit=limit,
            lease_seconds=lease_seconds,
            now=now or _utcnow(),
            target=target,
            kind=kind,
        )


@dataclass
class DispatchResult:
    """What one or more dispatcher rounds did; ``lost`` counts messages whose lease
    another dispatcher had taken over by the time the send finished."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0
    handed_back: int = 0

    def add(self, other: DispatchResult) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


Send = Callable[[OutboxRow], "DeliveryReceipt"]

Prefetch = Callable[[Sequence[OutboxRow]], None]
"""Told of each claimed batch before its sends start: read at once what they need."""

DeadHook = Callable[[Connection, OutboxRow, int], None]
"""Called in the transaction that makes a message a dead letter, with its failure's id:
tell the case's retailer (hub.sync.failures)."""


class SendTogether(Protocol):
    """Messages of one target and kind sent as one delivery: the lines of one file."""

    def limit(self, message: OutboxRow) -> int:
        """How many messages like this one may share a delivery; 1 sends it alone."""
        ...

    def prepare(self, message: OutboxRow) -> Any:
        """What the delivery needs of this message (its record). Raises as a send would,
        so that a message that cannot go out fails alone, not its whole delivery."""
        ...

    def send(self, messages: Sequence[OutboxRow], prepared: Sequence[Any]) -> DeliveryReceipt:
        """Deliver the prepared messages as one; an error fails all of them."""
        ...


@dataclass
class _Group:
    """Claimed messages of one target and kind, to be sent together by ``limit``."""

    limit: int
    rows: list[OutboxRow]

    def deliveries(self) -> list[list[OutboxRow]]:
        return [
            self.rows[start : start + self.limit] for start in range(0, len(self.rows), self.limit)
        ]


@dataclass(frozen=True)
class _Unit:
    """What goes out as one delivery: a message alone, or the lines of one file."""

    rows: list[OutboxRow]
    shared: bool

    @property
    def target(self) -> str:
        return self.rows[0].target


class _Waiting:
    """The units claimed and not started yet, by target, each target's in id order (the
    order they were claimed in)."""

    def __init__(self, units: Sequence[_Unit]) -> None:
        self._by_target: dict[str, deque[_Unit]] = {}
        self._count = 0
        self.add(units)

    def __len__(self) -> int:
        return self._count

    def add(self, units: Sequence[_Unit]) -> None:
        for unit in units:
            self._by_target.setdefault(unit.target, deque()).append(unit)
        self._count += len(units)

    def targets(self) -> list[str]:
        return list(self._by_target)

    def take(self, target: str, most: int) -> list[_Unit]:
        """Up to ``most`` units of ``target``, first claimed first."""
        queue = self._by_target[target]
        taken = [queue.popleft() for _ in range(min(most, len(queue)))]
        if not queue:
            del self._by_target[target]
        self._count -= len(taken)
        return taken

    def take_all(self) -> list[_Unit]:
        units = sorted(
            (unit for queue in self._by_target.values() for unit in queue),
            key=lambda unit: unit.rows[0].id,
        )
        self._by_target.clear()
        self._count = 0
        return units


_T = TypeVar("_T")

_Verdict = tuple[OutboxRow, Outcome, str]
"""A message sent (or not), what to write of it, and the result's name for it."""


class Bell:
    """Rung when a message is queued, once its transaction has committed: the process's
    dispatcher wakes at once instead of at its next round (push -> webhook latency).

    One per process, made by the composition root (hub.bootstrap), which hands its
    ``ring`` to the write paths (``enqueue``'s ``on_queued``) and the bell itself to the
    dispatcher. A ring with no dispatcher in the process (the API alone, a command)
    wakes nobody: another process's next round sends the message."""

    def __init__(self) -> None:
        self._rung = threading.Event()

    def ring(self) -> None:
        self._rung.set()

    def wait(self, timeout: float) -> bool:
        """Wait until rung or ``timeout``; True when rung. Clears it, so that a ring
        during the round that follows wakes the next wait."""
        rung = self._rung.wait(timeout)
        self._rung.clear()
        return rung


Ring = Callable[[], None]
"""What a write path calls once a transaction that queued messages has committed."""


def enqueue(
    connection: Connection,
    items: Sequence[OutboxItem],
    *,
    now: datetime | None = None,
    on_queued: Ring | None = None,
) -> list[int]:
    """Write ``items`` in the caller's transaction (hub.store.outbox.enqueue) and call
    ``on_queued`` (the process's ``Bell.ring``) once it commits, when any was new."""
    ids = store.enqueue(connection, items, now=now)
    if ids and on_queued is not None:
        after_commit(connection, on_queued)
    return ids


class Dispatcher:
    """Claims, sends and marks outbox messages; run one per process (any number of them).

    ``send`` renders and delivers one message. It raises ``TransientError`` (or another
    error whose action is RETRY) for faults worth retrying, any other ``HubError`` for a
    message that can never go through (dead-lettered at once). An unexpected exception
    is retried like a transient fault, since it may be one (an unwrapped network error),
    and ends dead after ``max_attempts`` like any other. A send must take less than
    ``lease_seconds``, or another dispatcher may send the same message meanwhile.

    Up to ``concurrency`` deliveries to one target are in flight at once, on a pool of
    ``workers`` threads kept by the dispatcher (``send`` must be thread-safe then; the
    webhook senders share one keep-alive client per receiver). Order holds because a
    claim holds only the head of each queue: two messages of one case are never claimed,
    so never in flight, together. With ``concurrency=1`` (the default) every send runs
    in the calling thread, one after the other. Outcomes are marked in batches (one
    transaction per ``mark_batch`` outcomes or fewer), and while a round drains, the
    dispatcher claims more, so that the receivers never wait for the slowest send.
    ``prefetch`` is given each claimed batch first, to read what its sends need at once.
    ``overlaps`` says which targets take concurrent deliveries (the others get one at a
    time); all do when it is not given. ``bell``: the process's, rung when a message is
    queued here, so that ``serve`` starts a round at once (a bell of its own otherwise).

    With ``together``, the claimed messages whose target allows it go out as one
    delivery per target and kind (one file of many lines), are marked in one transaction
    and, if the delivery fails, retried together. A claim holds only the head of each
    queue, so a delivery never holds two messages of one case and order is kept.

    Once ``stopping`` is set (the process received SIGTERM), the deliveries in flight are
    finished and marked, and every message claimed but not sent yet is handed back at
    once (its lease freed, its attempt not counted) for another process to send.
    """

    def __init__(
        self,
        database: Database,
        send: Send,
        *,
        owner: str,
        max_attempts: int = 8,
        base_delay: float = 2.0,
        max_delay: float = 3600.0,
        lease_seconds: float = 60.0,
        batch_size: int = 50,
        clock: Callable[[], datetime] = _utcnow,
        jitter: Draw = random_draw,
        together: SendTogether | None = None,
        stopping: threading.Event | None = None,
        on_dead: DeadHook | None = None,
        concurrency: int = 1,
        workers: int | None = None,
        mark_batch: int = 100,
        prefetch: Prefetch | None = None,
        overlaps: Callable[[str], bool] | None = None,
        bell: Bell | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be at least 1, not {max_attempts}")
        if lease_seconds <= 0 or base_delay < 0 or max_delay < base_delay:
            raise ConfigurationError(
                "need lease_seconds > 0 and 0 <= base_delay <= max_delay, not "
                f"{lease_seconds}, {base_delay}, {max_delay}"
            )
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, not {batch_size}")
        if concurrency < 1 or mark_batch < 1 or (workers is not None and workers < 1):
            raise ConfigurationError(
                "need concurrency, workers and mark_batch of at least 1, not "
                f"{concurrency}, {workers}, {mark_batch}"
            )
        self.database = database
        self.send = send
        self.owner = owner
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.clock = clock
        self.jitter = jitter
        self.together = together
        self.stopping = stopping or threading.Event()
        self.on_dead = on_dead
        self.concurrency = concurrency
        self.workers = workers if workers is not None else min(4 * concurrency, 64)
        self.mark_batch = mark_batch
        self.prefetch = prefetch
        self.overlaps = overlaps
        self.bell = bell if bell is not None else Bell()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def run_once(self) -> DispatchResult:
        """Claim one batch and settle each message (or delivery) of it; the outcomes are
        marked in batches, so a crash halfway keeps the marks already made."""
        return self._round(top_up=False)

    def run_until_idle(self, *, max_rounds: int = 1000) -> DispatchResult:
        """Rounds until nothing is due. A round claims more as it drains (the next
        message of a case is claimable once the previous one is marked delivered), and
        ends when a claim finds nothing and nothing is in flight."""
        total = DispatchResult()
        for _ in range(max_rounds):
            result = self._round(top_up=True)
            total.add(result)
            if result.claimed == 0 or self.stopping.is_set():
                break
        return total

    def serve(self, every: float, *, halt: threading.Event | None = None) -> None:
        """The dispatcher of `hub serve`: rounds until ``stopping`` (or ``halt``), each
        started by a message queued in this process (its ``bell``) or after ``every``
        seconds, whichever comes first; a failed round is logged and the next one tried."""
        bell = self.bell
        halt = halt or threading.Event()
        while not (self.stopping.is_set() or halt.is_set()):
            try:
                self.run_until_idle()
            except Exception:  # the dispatcher must outlive a bad round
                log.exception("outbox: a dispatcher round failed; trying again")
            waited = 0.0
            while waited < every and not (self.stopping.is_set() or halt.is_set()):
                step = min(every - waited, 0.25)
                if bell.wait(step):
                    break
                waited += step

    def close(self) -> None:
        """Stop the worker threads (after the deliveries in flight)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt, as the hub's one backoff policy says, and
        never sooner than the receiver asked (``Retry-After``)."""
        policy = Backoff(self.base_delay, self.max_delay)
        return policy.wait(attempts, retry_after=retry_after, draw=self.jitter)

    # --- a round ----------------------------------------------------------------------

    def _round(self, *, top_up: bool) -> DispatchResult:
        """Claim, send up to ``concurrency`` per target at once, mark in batches; with
        ``top_up``, claim more as the batch drains.

        Marks and claims are written by one bookkeeping task at a time, beside the sends
        (a claim scans the queues: it must not leave the receivers waiting). A claim
        follows the marks it comes with, since the next message of a case is claimable
        only once the previous one is marked; so a new claim waits for a quarter of a
        batch of new outcomes, or for the round to run dry (then one that finds nothing
        ends the round: nothing came back since the last claim and nothing is held)."""
        result = DispatchResult()
        if self.stopping.is_set():
            return result
        capacity = 1 if self.concurrency == 1 else self.workers
        waiting = _Waiting(self._book([], self.batch_size, result))
        running: dict[Future[list[_Verdict]], str] = {}
        book: Future[list[_Unit]] | None = None
        in_flight: Counter[str] = Counter()
        marks: list[_Verdict] = []
        since_claim = 0
        # Finished work comes back on one queue, all of it taken at each wake: a wait on
        # every running future (``concurrent.futures.wait``) hooked a waiter onto each of
        # them at every wake, and one wake per delivery was the common case (issue 17).
        finished: SimpleQueue[Future[Any]] = SimpleQueue()
        while waiting or running or book is not None:
            if self.stopping.is_set() and waiting:
                rows = [row for unit in waiting.take_all() for row in unit.rows]
                result.handed_back += self._hand_back(rows)
            self._start_deliveries(waiting, running, in_flight, capacity, finished)
            if not running and book is None:
                break
            done = [finished.get()]
            while not finished.empty():
                done.append(finished.get())
            for future in done:
                if future is book:
                    waiting.add(book.result())
                    book = None
                else:
                    in_flight[running.pop(future)] -= 1
                    verdicts = future.result()
                    marks += verdicts
                    since_claim += len(verdicts)
            if book is not None:
                continue
            held = len(waiting) + len(running)
            claiming = (
                top_up
                and not self.stopping.is_set()
                and held <= self.batch_size // 2
                and since_claim >= (1 if held == 0 else max(self.batch_size // 4, 1))
            )
            if claiming or len(marks) >= self.mark_batch or (held == 0 and marks):
                limit = self.batch_size - held if claiming else 0
                book = self._start(self._book, marks, limit, result)
                book.add_done_callback(finished.put)
                marks = []
                if claiming:
                    since_claim = 0
        self._book(marks, 0, result)
        return result

    def _start_deliveries(
        self,
        waiting: _Waiting,
        running: dict[Future[list[_Verdict]], str],
        in_flight: Counter[str],
        capacity: int,
        finished: SimpleQueue[Future[Any]],
    ) -> None:
        """Start the waiting units there is room for, each target's in id order.

        This runs at every wake (about once a delivery): it looks at each target once,
        not at every unit of the batch (issue 17)."""
        for target in waiting.targets():
            room = min(self._room(target) - in_flight[target], capacity - len(running))
            for unit in waiting.take(target, room):
                future = self._start(self._deliver, unit)
                future.add_done_callback(finished.put)
                running[future] = target
                in_flight[target] += 1

    def _room(self, target: str) -> int:
        """Deliveries to ``target`` that may be in flight at once."""
        if self.overlaps is not None and not self.overlaps(target):
            return 1
        return self.concurrency

    def _book(self, marks: list[_Verdict], limit: int, result: DispatchResult) -> list[_Unit]:
        """Write ``marks`` in one transaction, then claim up to ``limit`` messages; the
        units to send, in id order, the shared deliveries filled up when the claim was
        full.

        The marks and the claim are two transactions, each committed on its own, on one
        connection held for both: the pool's checkout and check-in of the claim's own cost
        about 10 k instructions a delivered message (issue 17)."""
        if limit < 1:
            self._mark(marks, result)
            return []
        with self.database.held() as held:
            self._mark(marks, result, held)
            batch = self._claim(limit=limit, held=held)
        result.claimed += len(batch)
        if batch and self.prefetch is not None:
            try:
                self.prefetch(batch)
            except Exception:  # the sends read it themselves, and fail as they must
                log.exception("outbox: reading a claimed batch ahead failed")
        alone, groups = self._group(batch)
        if len(batch) == limit:  # more may be due: fill the shared deliveries
            for (target, kind), group in groups.items():
                room = max(group.limit - len(group.rows), 0)
                more = self._claim(limit=room, target=target, kind=kind) if room else []
                group.rows.extend(more)
                result.claimed += len(more)
        units = [_Unit([row], False) for row in alone]
        units += [_Unit(rows, True) for group in groups.values() for rows in group.deliveries()]
        return sorted(units, key=lambda unit: unit.rows[0].id)

    def _start(self, work: Callable[..., _T], *args: Any) -> Future[_T]:
        """Run ``work`` on the pool, or at once in this thread when one at a time."""
        if self.concurrency == 1:
            future: Future[_T] = Future()
            future.set_result(work(*args))  # an error raises here, as it always did
            return future
        with self._pool_lock:
            if self._pool is None:
                # one more thread than sends: the bookkeeping never waits for a slot
                self._pool = ThreadPoolExecutor(self.workers + 1, thread_name_prefix="outbox")
            return self._pool.submit(work, *args)

    def _deliver(self, unit: _Unit) -> list[_Verdict]:
        if unit.shared:
            return self._dispatch_together(unit.rows)
        return [self._dispatch(unit.rows[0])]

    def _mark(
        self, marks: list[_Verdict], result: DispatchResult, held: HeldConnection | None = None
    ) -> None:
        """Write the outcomes gathered so far, in one transaction (on ``held`` when
        given), and count them."""
        if not marks:
            return
        settled = self._settle([(row, outcome) for row, outcome, _ in marks], held)
        for (_, _, name), ok in zip(marks, settled, strict=True):
            name = name if ok else "lost"
            setattr(result, name, getattr(result, name) + 1)
        marks.clear()

    def _claim(
        self,
        *,
        limit: int,
        target: str | None = None,
        kind: str | None = None,
        held: HeldConnection | None = None,
    ) -> list[OutboxRow]:
        """``claim``, in a transaction of its own, on ``held`` when given."""
        return claim(
            self.database if held is None else held,
            self.owner,
            limit=limit,
            lease_seconds=self.lease_seconds,
            now=self.clock(),
            target=target,
            kind=kind,
        )

    def _group(
        self, batch: list[OutboxRow]
    ) -> tuple[list[OutboxRow], dict[tuple[str, str], _Group]]:
        """The messages sent alone, and those that share deliveries by target and kind."""
        alone: list[OutboxRow] = []
        groups: dict[tuple[str, str], _Group] = {}
        for row in batch:
            limit = self.together.limit(row) if self.together is not None else 1
            if limit <= 1:
                alone.append(row)
            else:
                groups.setdefault((row.target, row.kind), _Group(limit, [])).rows.append(row)
        return alone, groups

    def _hand_back(self, messages: list[OutboxRow]) -> int:
        """Free claimed messages unsent, so that another process sends them now."""
        with self.database.transaction() as connection:
            given = sum(store.hand_back(connection, row, self.owner) for row in messages)
        log.info("outbox: %d claimed message(s) handed back unsent", given)
        return given

    def _dispatch(self, message: OutboxRow) -> _Verdict:
        with log_context(
            message_id=message.id, case_ref=message.case_ref, connector=message.target
        ):
            try:
                receipt = self.send(message)
            except Exception as error:  # noqa: BLE001 - classified, then kept or dead-lettered
                verdict = self._failed([message], error)[0]
            else:
                verdict = self._delivered([message], receipt)[0]
            _delivery_line("outbox message %d (%s, attempt %d): %s", *_line(message), verdict[2])
            return verdict

    def _dispatch_together(self, messages: list[OutboxRow]) -> list[_Verdict]:
        """Prepare each message (one that cannot be fails alone), then deliver the rest
        as one; they are marked together."""
        assert self.together is not None
        verdicts: list[_Verdict] = []
        ready: list[OutboxRow] = []
        prepared: list[Any] = []
        for message in messages:
            try:
                prepared.append(self.together.prepare(message))
            except Exception as error:  # noqa: BLE001 - classified, then kept or dead-lettered
                verdicts += self._failed([message], error)
            else:
                ready.append(message)
        if not ready:
            return verdicts
        ids = ",".join(str(message.id) for message in ready)
        cases = {message.case_ref for message in ready}
        case = cases.pop() if len(cases) == 1 else None
        with log_context(message_id=ids, case_ref=case, connector=ready[0].target):
            try:
                receipt = self.together.send(ready, prepared)
            except Exception as error:  # noqa: BLE001 - classified, then kept or dead-lettered
                settled = self._failed(ready, error)
            else:
                settled = self._delivered(ready, receipt)
            names = ", ".join(name for _, _, name in settled)
            log.info("outbox delivery of %d message(s): %s", len(ready), names)
        return verdicts + settled

    def _delivered(self, messages: list[OutboxRow], receipt: DeliveryReceipt) -> list[_Verdict]:
        outcome = Delivered(at=self.clock(), receipt_status=receipt.status)
        return [(message, outcome, "delivered") for message in messages]

    def _failed(self, messages: list[OutboxRow], error: Exception) -> list[_Verdict]:
        """Retry or dead-letter messages that failed together; retried ones come back at
        the same moment, so that they are claimed, and sent, together again."""
        if isinstance(error, HubError):
            retryable = error.action is NextAction.RETRY
            retry_after = getattr(error, "retry_after", None)
        else:  # a bug or an unwrapped fault: keep the messages
            log.error(
                "outbox messages %s: unexpected error from send",
                ", ".join(str(message.id) for message in messages),
                exc_info=error,
            )
            retryable, retry_after = True, None
        text = f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
        delay = self.backoff(max(message.attempts for message in messages), retry_after)
        again = self.clock() + timedelta(seconds=delay)
        verdicts: list[_Verdict] = []
        for message in messages:
            if retryable and message.attempts < self.max_attempts:
                verdicts.append((message, Retry(error=text, at=again), "retried"))
            else:
                verdicts.append((message, Dead(error=text, at=self.clock()), "dead"))
        return verdicts

    def _settle(
        self, changes: list[tuple[OutboxRow, Outcome]], held: HeldConnection | None = None
    ) -> list[bool]:
        """Write the outcomes in one transaction (on ``held`` when given) and release the
        leases, but only those still ours: owner and attempt count act as a fencing token
        against a dispatcher that took a message over after our lease expired (it will
        send it, and mark it, again)."""
        unit = held.transaction() if held is not None else self.database.transaction()
        with unit as connection:
            settled = store.settle_many(connection, changes, self.owner)
            for (message, outcome), ok in zip(changes, settled, strict=True):
                if ok and isinstance(outcome, Dead):
                    # Kept apart from the message, so that a later re-send keeps it.
                    failure = store.record_failure(
                        connection, message, outcome.error, outcome.at or self.clock()
                    )
                    if self.on_dead is not None:
                        self.on_dead(connection, message, failure)
        for (message, _), ok in zip(changes, settled, strict=True):
            if not ok:
                log.warning(
                    "outbox message %s: lease lost before its outcome was saved", message.id
                )
        return settled


def _line(message: OutboxRow) -> tuple[int, str, int]:
    """What a log line says of a message: its id, kind and attempt, never its payload."""
    return message.id, message.kind, message.attempts


def get_message(database: Database, message_id: int) -> OutboxRow:
    with database.reading() as connection:
        message = store.get_message(connection, message_id)
    if message is None:
        raise NotFoundError(f"outbox message {message_id} does not exist")
    return message


def dead_letters(database: Database, target: str | None = None) -> list[OutboxRow]:
    """Messages that gave up, oldest first, for an operator to replay or discard."""
    with database.reading() as connection:
        return store.dead_letters(connection, target)


def held_back_by(database: Database, letters: Sequence[OutboxRow]) -> dict[int, list[OutboxRow]]:
    """By dead letter, the messages that wait for it (a rule's ``after``): they go once it
    is replayed and delivered, or discarded; an operator deciding should know."""
    with database.reading() as connection:
        return store.held_back(connection, [letter.id for letter in letters])


def replay(database: Database, message_id: int, *, now: datetime | None = None) -> OutboxRow:
    """Send a dead letter again, now, with a fresh set of attempts."""
    allowed = (OutboxState.DEAD,)
    with database.transaction() as connection:
        message = store.requeue(connection, message_id, states=allowed, now=now or _utcnow())
    return message or _refused(database, message_id, allowed)


def discard(database: Database, message_id: int) -> OutboxRow:
    """Give up on a dead or still-pending message for good; its queue moves on. A send in
    flight at that moment may still arrive, but its outcome is not recorded."""
    allowed = (OutboxState.DEAD, OutboxState.PENDING)
    with database.transaction() as connection:
        message = store.discard(connection, message_id, states=allowed)
    return message or _refused(database, message_id, allowed)


def _refused(database: Database, message_id: int, allowed: tuple[OutboxState, ...]) -> OutboxRow:
    """Why a replay or discard changed nothing: no such message, or not in a state that
    allows it."""
    current = get_message(database, message_id)  # raises NotFoundError
    wanted = " or ".join(state.value for state in allowed)
    raise ConflictError(f"outbox message {message_id} is {current.state.value}, not {wanted}")
