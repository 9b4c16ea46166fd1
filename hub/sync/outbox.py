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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hub.backoff import Backoff, Draw, random_draw
from hub.errors import ConfigurationError, ConflictError, HubError, NextAction, NotFoundError
from hub.logs import log_context
from hub.ports import DeliveryReceipt
from hub.store import outbox as store
from hub.store.db import Connection, Database
from hub.store.outbox import (
    BLOCKING_STATES,
    Dead,
    Delivered,
    OutboxItem,
    OutboxRow,
    OutboxState,
    Outcome,
    Retry,
    enqueue,
)

__all__ = [
    "BLOCKING_STATES",
    "DeadHook",
    "DispatchResult",
    "Dispatcher",
    "OutboxItem",
    "OutboxRow",
    "OutboxState",
    "Send",
    "SendTogether",
    "claim",
    "dead_letters",
    "discard",
    "enqueue",
    "get_message",
    "replay",
]

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
"""Enough of an error for an operator; a partner's whole HTML error page is not."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def claim(
    database: Database,
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
    claimers skip each other's rows on PostgreSQL and are serialised on SQLite.
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


Send = Callable[[OutboxRow], DeliveryReceipt]

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


class Dispatcher:
    """Claims, sends and marks outbox messages; run one per process (any number of them).

    ``send`` renders and delivers one message. It raises ``TransientError`` (or another
    error whose action is RETRY) for faults worth retrying, any other ``HubError`` for a
    message that can never go through (dead-lettered at once). An unexpected exception
    is retried like a transient fault, since it may be one (an unwrapped network error),
    and ends dead after ``max_attempts`` like any other. A send must take less than
    ``lease_seconds``, or another dispatcher may send the same message meanwhile.

    With ``together``, the claimed messages whose target allows it go out as one
    delivery per target and kind (one file of many lines), are marked in one transaction
    and, if the delivery fails, retried together. A claim holds only the head of each
    queue, so a delivery never holds two messages of one case and order is kept.

    Once ``stopping`` is set (the process received SIGTERM), the delivery in flight is
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

    def run_once(self) -> DispatchResult:
        """Claim one batch and settle each message (or delivery) of it; one transaction
        per message or delivery, so a crash halfway keeps the marks already made."""
        if self.stopping.is_set():
            return DispatchResult()
        batch = self._claim(limit=self.batch_size)
        result = DispatchResult(claimed=len(batch))
        alone, groups = self._group(batch)
        if len(batch) == self.batch_size:  # more may be due: fill the shared deliveries
            for (target, kind), group in groups.items():
                room = max(group.limit - len(group.rows), 0)
                more = self._claim(limit=room, target=target, kind=kind) if room else []
                group.rows.extend(more)
                result.claimed += len(more)
        units = [([row], False) for row in alone]
        units += [(rows, True) for group in groups.values() for rows in group.deliveries()]
        for rows, shared in sorted(units, key=lambda unit: unit[0][0].id):
            if self.stopping.is_set():
                result.handed_back += self._hand_back(rows)
                continue
            outcomes = self._dispatch_together(rows) if shared else [self._dispatch(rows[0])]
            for outcome in outcomes:
                setattr(result, outcome, getattr(result, outcome) + 1)
        return result

    def run_until_idle(self, *, max_rounds: int = 1000) -> DispatchResult:
        """Rounds until nothing is due. A queue yields one message per round (the next
        is claimable only once the previous is delivered), so draining needs several."""
        total = DispatchResult()
        for _ in range(max_rounds):
            result = self.run_once()
            total.add(result)
            if result.claimed == 0 or self.stopping.is_set():
                break
        return total

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt, as the hub's one backoff policy says, and
        never sooner than the receiver asked (``Retry-After``)."""
        policy = Backoff(self.base_delay, self.max_delay)
        return policy.wait(attempts, retry_after=retry_after, draw=self.jitter)

    def _claim(
        self, *, limit: int, target: str | None = None, kind: str | None = None
    ) -> list[OutboxRow]:
        return claim(
            self.database,
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

    def _dispatch(self, message: OutboxRow) -> str:
        with log_context(
            message_id=message.id, case_ref=message.case_ref, connector=message.target
        ):
            try:
                receipt = self.send(message)
            except Exception as error:  # noqa: BLE001 - classified, then kept or dead-lettered
                outcome = self._failed([message], error)[0]
            else:
                outcome = self._delivered([message], receipt)[0]
            log.info("outbox message %d (%s, attempt %d): %s", *_line(message), outcome)
            return outcome

    def _dispatch_together(self, messages: list[OutboxRow]) -> list[str]:
        """Prepare each message (one that cannot be fails alone), then deliver the rest
        as one and mark them together."""
        assert self.together is not None
        outcomes: list[str] = []
        ready: list[OutboxRow] = []
        prepared: list[Any] = []
        for message in messages:
            try:
                prepared.append(self.together.prepare(message))
            except Exception as error:  # noqa: BLE001 - classified, then kept or dead-lettered
                outcomes += self._failed([message], error)
            else:
                ready.append(message)
        if not ready:
            return outcomes
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
            log.info("outbox delivery of %d message(s): %s", len(ready), ", ".join(settled))
        return outcomes + settled

    def _delivered(self, messages: list[OutboxRow], receipt: DeliveryReceipt) -> list[str]:
        outcome = Delivered(at=self.clock(), receipt_status=receipt.status)
        settled = self._settle([(message, outcome) for message in messages])
        return ["delivered" if ok else "lost" for ok in settled]

    def _failed(self, messages: list[OutboxRow], error: Exception) -> list[str]:
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
        changes: list[tuple[OutboxRow, Outcome]] = []
        outcomes: list[str] = []
        for message in messages:
            if retryable and message.attempts < self.max_attempts:
                changes.append((message, Retry(error=text, at=again)))
                outcomes.append("retried")
            else:
                changes.append((message, Dead(error=text, at=self.clock())))
                outcomes.append("dead")
        settled = self._settle(changes)
        return [outcome if ok else "lost" for outcome, ok in zip(outcomes, settled, strict=True)]

    def _settle(self, changes: list[tuple[OutboxRow, Outcome]]) -> list[bool]:
        """Write the outcomes in one transaction and release the leases, but only those
        still ours: owner and attempt count act as a fencing token against a dispatcher
        that took a message over after our lease expired (it will send it, and mark it,
        again)."""
        with self.database.transaction() as connection:
            settled = [
                store.settle(connection, message, self.owner, outcome)
                for message, outcome in changes
            ]
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
    with database.transaction() as connection:
        message = store.get_message(connection, message_id)
    if message is None:
        raise NotFoundError(f"outbox message {message_id} does not exist")
    return message


def dead_letters(database: Database, target: str | None = None) -> list[OutboxRow]:
    """Messages that gave up, oldest first, for an operator to replay or discard."""
    with database.transaction() as connection:
        return store.dead_letters(connection, target)


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
