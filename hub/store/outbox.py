"""The outbox aggregate: messages waiting to go out, their leases and their outcomes.

The statements of the sync engine, the dispatchers and the operators on the ``outbox``
table are here; what a dispatcher does with a claimed message (send it, retry it, give
up, and when) is decided in hub.sync.outbox.
The claim is one statement whose guarantees the dispatchers rely on: a message is
claimed only at the head of its queue (same target and ordering key, id order), only
while its lease is free, and on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so that
concurrent claimers pass each other's rows instead of waiting for them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Integer,
    RowMapping,
    String,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)

from hub.store.arrays import among, one_list, unnested
from hub.store.compiled import DriverStatement, driver_rows
from hub.store.health_rows import counts_by_target as target_counts
from hub.store.outbox_rows import OutboxRow, OutboxState, held_back_rows
from hub.store.tables import cases, events, outbox, outbox_failures
from hub.store.types import UtcDateTime, aware
from hub.store.upsert import ignoring_conflicts

__all__ = [
    "BLOCKING_STATES",
    "ROW_COLUMNS",
    "WEBHOOK_ENTRY_AT",
    "Dead",
    "Delivered",
    "OutboxItem",
    "OutboxRow",
    "OutboxState",
    "Outcome",
    "Retry",
    "WebhookEntry",
    "all_messages",
    "claim",
    "counts_by_target",
    "dead_letters",
    "discard",
    "discard_target",
    "enqueue",
    "failures_of_case",
    "get_failure",
    "get_message",
    "held_back",
    "oldest_pending_at",
    "record_failure",
    "requeue",
    "resend_dead_of_case",
    "settle",
    "settle_many",
    "webhook_timelines",
]


BLOCKING_STATES = (OutboxState.PENDING.value, OutboxState.DEAD.value)
"""States of an earlier message that hold back the later ones of its queue."""


@dataclass(frozen=True)
class OutboxItem:
    """A message to write to the outbox.

    ``ordering_key`` defaults to the case reference (per case, messages to one party go
    out in order); without either, the message is ordered with nothing but itself.
    """

    target: str
    kind: str
    idempotency_key: str
    payload: Mapping[str, Any]
    case_ref: str | None = None
    ordering_key: str | None = None
    after: str | None = None
    """The idempotency key of a message this one waits for (queued before it): claimed
    only once that one is delivered or discarded."""

    def queue_key(self) -> str:
        return self.ordering_key or self.case_ref or self.idempotency_key


ROW_COLUMNS = tuple(outbox.c[field.name] for field in fields(OutboxRow))
"""The outbox's columns in ``OutboxRow``'s order: what every statement that reads
messages selects or returns, for ``OutboxRow.from_row``."""


class WebhookEntry(NamedTuple):
    """What a webhook's body says of one event of a case's timeline, as stored: the
    columns the body shows and what orders the event in its timeline, nothing else (its
    details are no part of a body). ``webhook_timelines`` gives each as the row itself,
    these fields by position then the case's reference (``WEBHOOK_ENTRY_AT``); its
    ``occurred_at`` aware, in UTC or (PostgreSQL) the session's zone: put it in UTC."""

    event_id: str
    case_ref: str | None
    type: str
    status: str | None
    occurred_at: datetime
    reported_by: str
    raw_code: str | None
    raw_label: str | None


WEBHOOK_ENTRY_AT = {name: position for position, name in enumerate(WebhookEntry._fields)}
"""Where each of ``WebhookEntry``'s fields is in a row of ``webhook_timelines``."""

_TIMELINES_CHUNK = 1_000


def _webhook_timelines_statement(dialect: str) -> Any:
    """The timelines' read for one database kind: the chunk's references bound as one
    value (an array on PostgreSQL, a JSON list on SQLite, as the feed binds its case
    ids), so that its SQL is the same for every chunk. As an expanding ``IN`` it was
    rendered again for each number of cases, and on PostgreSQL never prepared."""
    named = among(cases.c.reference, "references", String(), dialect)
    # On PostgreSQL the driver gives the instant aware (in the session's zone), and the
    # rows' one reader puts each in UTC itself (the order key, the body's text): the
    # column type's conversion to UTC was a call a row, and made every row be copied
    # to apply it, for nothing (issue 17, seventeenth pass). SQLite's text needs it.
    occurred_at: Any = events.c.occurred_at
    if dialect == "postgresql":
        occurred_at = type_coerce(occurred_at, DateTime(timezone=True)).label("occurred_at")
    return (
        select(
            events.c.event_id,
            events.c.case_ref,
            events.c.type,
            events.c.status,
            occurred_at,
            events.c.reported_by,
            events.c.raw_code,
            events.c.raw_label,
            cases.c.reference,
        )
        .join(cases, cases.c.id == events.c.case_id)
        .where(named)
        .order_by(events.c.seq)
    )


_WEBHOOK_TIMELINES = DriverStatement(_webhook_timelines_statement)
"""Every claimed batch runs it: compiled once per database kind, run on the driver
(issue 17: SQLAlchemy's execution and the expanding list's rendering cost more than the
statement's rows)."""


def webhook_timelines(
    connection: Connection, references: Collection[str]
) -> dict[str, list[tuple[Any, ...]]]:
    """Each case's events, in stored order, by case reference, as the bodies of its
    webhooks read them (a case without events is missing, as is an unknown reference):
    each a row of ``WebhookEntry``'s fields, by position (``WEBHOOK_ENTRY_AT``), then
    the case's reference.

    The dispatcher reads a claimed batch's cases with this instead of rebuilding every
    event of their timelines as a model: the rows were validated when stored, and a body
    needs eight of their columns (issue 17). Each row is kept as the driver's statement
    gives it: a ``WebhookEntry`` made of every row (its slice, then ``_make``) cost
    about as much as reading the row, for a timeline of which one event's body is
    written (issue 17, seventeenth pass)."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    wanted = sorted(set(references))
    dialect = connection.dialect.name
    for start in range(0, len(wanted), _TIMELINES_CHUNK):
        chunk = wanted[start : start + _TIMELINES_CHUNK]
        # All of a chunk's rows at once, each read by position: fetched one at a time,
        # every row paid the driver's and the result's per-call work (issue 17).
        bound = one_list(dialect, chunk)
        for row in _WEBHOOK_TIMELINES.rows(connection, {"references": bound}):
            found.setdefault(row[-1], []).append(row)
    return found


# --- writing and claiming -------------------------------------------------------------


def enqueue(
    connection: Connection, items: Iterable[OutboxItem], *, now: datetime | None = None
) -> list[int]:
    """Write ``items`` in the caller's transaction; return the ids of the new messages,
    which rise in the items' order (a queue is claimed in id order).

    An item whose idempotency key is already in the outbox is skipped: re-processing an
    event (a replayed partner file) must not send its messages twice. So is a second item
    of the same key. An item's ``after`` names a message queued before it: earlier in
    ``items``, or already in the outbox (a cause processed again); any other, it waits
    for nothing.
    """
    moment = now or datetime.now(UTC)
    if connection.dialect.name == "postgresql":
        return _enqueue_at_once(connection, items, moment)
    return _enqueue_in_one_call(connection, items, moment)


def _enqueue_in_one_call(
    connection: Connection, items: Iterable[OutboxItem], moment: datetime
) -> list[int]:
    """``enqueue`` on SQLite: every item by one ``executemany`` of ``_ENQUEUE``, then
    the new messages' ids read back. One statement a message (and a read of the awaited
    message's id for each ``after``) cost a statement's call in Python each: 158,000
    instructions a message of 5,000 written at once, 113,000 so, of which the insert's
    own work in SQLite and the payload's JSON are about 90,000 (issue 17, fifteenth
    pass).

    The driver runs the insert once per item, in order, each run seeing the rows of the
    ones before: a key given twice is skipped by the conflict clause, and an ``after``
    finds a message earlier in the batch or stored before, as one statement a message
    found them. The first insert takes SQLite's single write lock (or the transaction
    holds it already), kept to the commit: no other writer adds a row meanwhile, and
    SQLite gives each new row an id above every id in the table, so the batch's new
    messages are the table's highest ids, as many as the driver counts inserted."""
    pending = OutboxState.PENDING.value
    rows = [
        {
            "target": item.target,
            "kind": item.kind,
            "case_ref": item.case_ref,
            "ordering_key": item.queue_key(),
            "idempotency_key": item.idempotency_key,
            "payload": dict(item.payload),
            "created_at": moment,
            "state": pending,
            "attempts": 0,
            "next_attempt_at": moment,
            "after": item.after,
        }
        for item in items
    ]
    if len(rows) == 1:
        # One message (a small file's round often has one): the same insert returning
        # its id costs one statement, not two (257,000 instructions against 276,000).
        return [int(found) for (found,) in _ENQUEUE_ONE.rows(connection, rows[0])]
    written = _ENQUEUE.execute_many(connection, rows)
    if not written:
        return []
    newest = _NEWEST_IDS.rows(connection, {"count": written})
    return [int(found) for (found,) in reversed(newest)]


def _enqueue_statement(dialect: str) -> Any:
    """One message's insert, skipped if its key is stored; it waits on the message whose
    key its ``after`` names, if stored by then (none found, it waits for nothing)."""
    waited = outbox.alias("waited")
    awaited = (
        select(waited.c.id)
        .where(waited.c.idempotency_key == bindparam("after", type_=String))
        .scalar_subquery()
    )
    return ignoring_conflicts(dialect, outbox, "idempotency_key").values(after_id=awaited)


_ENQUEUE = DriverStatement(_enqueue_statement)
"""Compiled once and run on the driver: built and compiled through SQLAlchemy for every
message, the 5,687 messages of a 10,000-row file with the shipped sync rules took 2.4 s
under cProfile, 0.29 s so (issue 17, thirteenth pass). PostgreSQL writes a batch by one
insert of arrays (``_enqueue_at_once``)."""

_ENQUEUE_ONE = DriverStatement(lambda dialect: _enqueue_statement(dialect).returning(outbox.c.id))

_NEWEST_IDS = DriverStatement(
    lambda _dialect: (
        select(outbox.c.id).order_by(outbox.c.id.desc()).limit(bindparam("count", type_=Integer))
    )
)
"""The ``count`` highest ids, highest first: a walk down the rowid from its end."""


def _enqueue_at_once(
    connection: Connection, items: Iterable[OutboxItem], moment: datetime
) -> list[int]:
    """``enqueue`` on PostgreSQL: every item in one insert of arrays, then the waits on
    a message of the same batch in one update. One statement a message cost a round trip
    each: 5,692 for a 10,000-row file with the shipped sync rules, 1.0 of its 3.4 s spent
    waiting on the server (issue 17, fourteenth pass). The insert reads a wait on a
    message already stored itself; one on a message of the batch is known only once the
    insert has given it its id."""
    batch: dict[str, OutboxItem] = {}
    for item in items:
        batch.setdefault(item.idempotency_key, item)
    if not batch:
        return []
    listed = list(batch.values())
    stored = _ENQUEUE_AT_ONCE.rows(
        connection,
        {
            "targets": [item.target for item in listed],
            "kinds": [item.kind for item in listed],
            "case_refs": [item.case_ref for item in listed],
            "ordering_keys": [item.queue_key() for item in listed],
            "idempotency_keys": list(batch),
            # As the column's type writes one (the engine keeps json.dumps): an array's
            # items go as they are given.
            "payloads": [json.dumps(dict(item.payload)) for item in listed],
            "afters": [item.after for item in listed],
            "now": moment,
            "state": OutboxState.PENDING.value,
        },
    )
    new = {str(key): int(found) for found, key in stored}
    position = {key: number for number, key in enumerate(batch)}
    waits = [
        (new[key], new[item.after])
        for key, item in batch.items()
        if key in new and item.after in new and position[item.after] < position[key]
    ]
    if waits:
        ids, awaited = zip(*waits, strict=True)
        _AWAITED_AT_ONCE.execute(connection, {"ids": list(ids), "after_ids": list(awaited)})
    return [new[key] for key in batch if key in new]


@cache
def _enqueue_at_once_insert() -> Any:
    """``_ENQUEUE`` for a batch on PostgreSQL, in the batch's order (the rows' ids follow
    it, as one insert a message gave them), a wait on a message stored before read by the
    insert itself. The time and state are one for the batch."""
    from sqlalchemy.dialects import postgresql

    rows = unnested(
        ("target", String()),
        ("kind", String()),
        ("case_ref", String()),
        ("ordering_key", String()),
        ("idempotency_key", String()),
        ("payload", outbox.c.payload.type),
        ("after", String()),
        ordinality="position",
    )
    waited = outbox.alias("waited")
    stored_before = (
        select(waited.c.id).where(waited.c.idempotency_key == rows.c.after).scalar_subquery()
    )
    now = bindparam("now", type_=UtcDateTime)
    values = select(
        rows.c.target,
        rows.c.kind,
        rows.c.case_ref,
        rows.c.ordering_key,
        rows.c.idempotency_key,
        rows.c.payload,
        now,
        bindparam("state", type_=String),
        literal(0),
        now,
        stored_before,
    ).order_by(rows.c.position)
    columns = [
        "target",
        "kind",
        "case_ref",
        "ordering_key",
        "idempotency_key",
        "payload",
        "created_at",
        "state",
        "attempts",
        "next_attempt_at",
        "after_id",
    ]
    return (
        postgresql.insert(outbox)
        .from_select(columns, values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(outbox.c.id, outbox.c.idempotency_key)
    )


_ENQUEUE_AT_ONCE = DriverStatement(lambda _dialect: _enqueue_at_once_insert())


@cache
def _awaited_at_once_update() -> Any:
    """The waits on a message of the same batch, as two arrays: who waits, on whom."""
    waits = unnested(("id", BigInteger()), ("after_id", BigInteger()))
    return update(outbox).where(outbox.c.id == waits.c.id).values(after_id=waits.c.after_id)


_AWAITED_AT_ONCE = DriverStatement(lambda _dialect: _awaited_at_once_update())


def claim(
    connection: Connection,
    owner: str,
    *,
    limit: int,
    lease_seconds: float,
    now: datetime,
    target: str | None = None,
    kind: str | None = None,
) -> list[OutboxRow]:
    """Lease up to ``limit`` due messages that head their queue and wait for no message
    still to send, for ``owner``, in id order; only those of ``target`` and ``kind`` when
    given.

    One statement, ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``:
    on PostgreSQL concurrent claimers skip each other's rows instead of waiting; on
    SQLite (which has no ``FOR UPDATE``: its compiler leaves the clause out) the
    statement takes the single write lock before it reads, so two claimers are
    serialised rather than failing on a stale snapshot. Each claim counts as an attempt,
    so a message that crashes its dispatcher every time still ends dead.
    """
    statement = _claim_statement(target is not None, kind is not None)
    values: dict[str, Any] = {
        "claim_now": now,
        "claim_limit": limit,
        "claim_owner": owner,
        "claim_lease_until": now + timedelta(seconds=lease_seconds),
    }
    if target is not None:
        values["claim_target"] = target
    if kind is not None:
        values["claim_kind"] = kind
    rows = statement.rows(connection, values)
    return sorted(map(OutboxRow.from_row, rows), key=_by_id)


@cache
def _claim_statement(by_target: bool, by_kind: bool) -> DriverStatement:
    """The claim of one shape, compiled once per database kind and run on the driver:
    through SQLAlchemy's execution, the cache key, the parameters' and the result's
    set-up cost a claim more than its rows (issue 17, eleventh pass)."""
    built = _claim_update(by_target, by_kind)
    return DriverStatement(lambda _dialect: built)


def _claim_update(by_target: bool, by_kind: bool) -> Any:
    """The claim's statement, built once per shape (by whether a target and a kind narrow
    it): building it (three aliases of the outbox, each column proxied) and its cache key
    cost more CPU than the claim's rows, once per claim of a dozen messages or so (issue
    17). Its values are bound at each claim (``claim_now``,
    ``claim_limit``, ``claim_owner``, ``claim_lease_until``, and ``claim_target`` and
    ``claim_kind`` when they narrow it: a bound name may not be a column's)."""
    head = outbox.alias("head")
    earlier = outbox.alias("earlier")
    now = bindparam("claim_now", type_=UtcDateTime)
    # The queue's first message still pending or dead, read by ix_outbox_queue in its
    # order and stopped at one: a message heads its queue when that is itself. Said as
    # NOT EXISTS, it let PostgreSQL, misled by a table not analysed yet (a burst just
    # queued), read every pending row for every candidate.
    first_of_queue = (
        select(earlier.c.id)
        .where(
            earlier.c.target == head.c.target,
            earlier.c.ordering_key == head.c.ordering_key,
            earlier.c.state.in_(BLOCKING_STATES),
        )
        .order_by(earlier.c.id)
        .limit(1)
        .scalar_subquery()
    )
    # A message that waits for another (a rule's ``after``) while that one is pending or
    # dead: looked up by primary key, only for the few messages that wait at all.
    awaited = outbox.alias("awaited")
    waiting = exists(
        select(awaited.c.id).where(
            awaited.c.id == head.c.after_id, awaited.c.state.in_(BLOCKING_STATES)
        )
    )
    candidates = (
        select(head.c.id)
        .where(
            head.c.state == OutboxState.PENDING.value,
            head.c.next_attempt_at <= now,
            or_(head.c.lease_until.is_(None), head.c.lease_until <= now),
            head.c.id == first_of_queue,
            or_(head.c.after_id.is_(None), ~waiting),
        )
        .order_by(head.c.next_attempt_at, head.c.id)
        .limit(bindparam("claim_limit", type_=Integer))
        .with_for_update(skip_locked=True, of=head)
    )
    if by_target:
        candidates = candidates.where(head.c.target == bindparam("claim_target"))
    if by_kind:
        candidates = candidates.where(head.c.kind == bindparam("claim_kind"))
    return (
        update(outbox)
        .where(outbox.c.id.in_(candidates))
        .values(
            lease_owner=bindparam("claim_owner"),
            lease_until=bindparam("claim_lease_until", type_=UtcDateTime),
            attempts=outbox.c.attempts + 1,
        )
        .returning(*ROW_COLUMNS)
    )


def _by_id(row: OutboxRow) -> int:
    return row.id


# --- settling a claimed message ---------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """The receiver took the message."""

    at: datetime
    receipt_status: int | None


@dataclass(frozen=True)
class Retry:
    """The send failed for now: try again at ``at``."""

    error: str
    at: datetime


@dataclass(frozen=True)
class Dead:
    """The send failed for good: the message waits for an operator, or for a correction
    of its case."""

    error: str
    at: datetime | None = None
    """When it gave up; now when not given."""


Outcome = Delivered | Retry | Dead


def _outcome_values(outcome: Outcome) -> dict[str, Any]:
    """The columns an outcome sets; a retry keeps the message pending, a delivery keeps
    the last error of the attempts before it."""
    if isinstance(outcome, Delivered):
        return {
            "state": OutboxState.DELIVERED.value,
            "delivered_at": outcome.at,
            "receipt_status": outcome.receipt_status,
        }
    if isinstance(outcome, Retry):
        return {"last_error": outcome.error, "next_attempt_at": outcome.at}
    return {"last_error": outcome.error, "state": OutboxState.DEAD.value}


def settle(connection: Connection, message: OutboxRow, owner: str, outcome: Outcome) -> bool:
    """Write a claimed message's outcome and release its lease, only if the lease is
    still ``owner``'s: owner and attempt count act as a fencing token against a
    dispatcher that took the message over after the lease expired. False when it had."""
    statement = (
        update(outbox)
        .where(
            outbox.c.id == message.id,
            outbox.c.state == OutboxState.PENDING.value,
            outbox.c.lease_owner == owner,
            outbox.c.attempts == message.attempts,
        )
        .values(lease_owner=None, lease_until=None, **_outcome_values(outcome))
    )
    return connection.execute(statement).rowcount == 1


def settle_many(
    connection: Connection, changes: Sequence[tuple[OutboxRow, Outcome]], owner: str
) -> list[bool]:
    """``settle`` for many messages in the caller's transaction, fenced the same way;
    one boolean per change, in order. Deliveries (nearly all of a busy round) are
    written by one statement, each message keeping its own time and receipt; retries
    and dead letters, rare, one statement each."""
    delivered = [(row, outcome) for row, outcome in changes if isinstance(outcome, Delivered)]
    done: set[int] = set()
    if delivered and connection.dialect.name == "postgresql":
        done = _settle_delivered_postgresql(connection, delivered, owner)
    elif delivered:
        at = outbox.c.delivered_at.type
        status = outbox.c.receipt_status.type
        statement = (
            update(outbox)
            .where(
                tuple_(outbox.c.id, outbox.c.attempts).in_(
                    [(row.id, row.attempts) for row, _ in delivered]
                ),
                outbox.c.state == OutboxState.PENDING.value,
                outbox.c.lease_owner == owner,
            )
            .values(
                state=OutboxState.DELIVERED.value,
                lease_owner=None,
                lease_until=None,
                delivered_at=case(
                    {row.id: literal(outcome.at, at) for row, outcome in delivered},
                    value=outbox.c.id,
                ),
                receipt_status=case(
                    {row.id: literal(outcome.receipt_status, status) for row, outcome in delivered},
                    value=outbox.c.id,
                ),
            )
            .returning(outbox.c.id)
        )
        done.update(int(found) for found in connection.execute(statement).scalars())
    settled: list[bool] = []
    for row, outcome in changes:
        if isinstance(outcome, Delivered):
            settled.append(row.id in done)
        else:
            settled.append(settle(connection, row, owner, outcome))
    return settled


_SETTLE_DELIVERED_PG = (
    "UPDATE outbox SET state = %s, lease_owner = NULL, lease_until = NULL, "
    "delivered_at = t.delivered_at, receipt_status = t.receipt_status "
    "FROM unnest(%b::bigint[], %b::integer[], %b::timestamptz[], %b::integer[]) "
    "AS t(id, attempts, delivered_at, receipt_status) "
    "WHERE outbox.id = t.id AND outbox.attempts = t.attempts "
    "AND outbox.state = %s AND outbox.lease_owner = %s RETURNING outbox.id"
)
"""Deliveries marked on PostgreSQL: one statement whatever their number, its plan
prepared once, the rows as four typed arrays, sent in PostgreSQL's binary format
(``%b``): psycopg writes an array's text element by element in Python, each checked for
quoting, about three times the binary's work (issue 17, fifteenth pass). The portable
statement (a CASE of one literal per message for the times and receipts) was compiled
afresh for each batch size and cost about as much as the rest of the bookkeeping."""


def _settle_delivered_postgresql(
    connection: Connection, delivered: Sequence[tuple[OutboxRow, Delivered]], owner: str
) -> set[int]:
    """The ids of ``delivered`` marked so (fenced by owner and attempt, like ``settle``)."""
    for _, outcome in delivered:
        if outcome.at.tzinfo is None or outcome.at.utcoffset() is None:
            raise ValueError(f"naive datetime {outcome.at!r} cannot be stored: give its offset")
    arrays = (
        [row.id for row, _ in delivered],
        [row.attempts for row, _ in delivered],
        [outcome.at.astimezone(UTC) for _, outcome in delivered],
        [outcome.receipt_status for _, outcome in delivered],
    )
    parameters = (OutboxState.DELIVERED.value, *arrays, OutboxState.PENDING.value, owner)
    # On the driver itself: SQLAlchemy's execution of a driver SQL text (its context,
    # its result) cost the mark about as much as the statement's own binding (issue 17).
    return {int(found) for (found,) in driver_rows(connection, _SETTLE_DELIVERED_PG, parameters)}


def hand_back(connection: Connection, message: OutboxRow, owner: str) -> bool:
    """Give a claimed message back unsent (the process is stopping): free its lease now,
    not when it expires, and take back the attempt its claim counted. Fenced like
    ``settle``; False when the lease was no longer ``owner``'s."""
    statement = (
        update(outbox)
        .where(
            outbox.c.id == message.id,
            outbox.c.state == OutboxState.PENDING.value,
            outbox.c.lease_owner == owner,
            outbox.c.attempts == message.attempts,
        )
        .values(lease_owner=None, lease_until=None, attempts=message.attempts - 1)
    )
    return connection.execute(statement).rowcount == 1


# --- operators: reading, replaying, discarding ------------------------------------------


def get_message(connection: Connection, message_id: int) -> OutboxRow | None:
    row = connection.execute(select(*ROW_COLUMNS).where(outbox.c.id == message_id)).first()
    return None if row is None else OutboxRow.from_row(row)


DEAD_LETTERS = (
    select(*ROW_COLUMNS).where(outbox.c.state == OutboxState.DEAD.value).order_by(outbox.c.id)
)
"""Messages that gave up, oldest first (the plain reads run it too: hub.store.plain_sql)."""
DEAD_LETTERS_TO = (
    select(*ROW_COLUMNS)
    .where(outbox.c.state == OutboxState.DEAD.value, outbox.c.target == bindparam("target"))
    .order_by(outbox.c.id)
)
"""``DEAD_LETTERS`` of one target."""
HELD_BACK = (
    select(*ROW_COLUMNS)
    .where(
        outbox.c.after_id.in_(bindparam("awaited", expanding=True)),
        outbox.c.state == OutboxState.PENDING.value,
    )
    .order_by(outbox.c.id)
)
"""The pending messages that wait for one of the ``awaited`` (a rule's ``after``)."""


def dead_letters(connection: Connection, target: str | None = None) -> list[OutboxRow]:
    """Messages that gave up, oldest first."""
    if target is None:
        rows = connection.execute(DEAD_LETTERS).all()
    else:
        rows = connection.execute(DEAD_LETTERS_TO, {"target": target}).all()
    return [OutboxRow.from_row(row) for row in rows]


def held_back(connection: Connection, awaited: Collection[int]) -> dict[int, list[OutboxRow]]:
    """By awaited message, the pending messages that wait for it (a rule's ``after``)."""
    if not awaited:
        return {}
    return held_back_rows(connection.execute(HELD_BACK, {"awaited": sorted(awaited)}))


def all_messages(connection: Connection) -> list[OutboxRow]:
    """Every message in id order, whatever its state (the demo's final check)."""
    rows = connection.execute(select(*ROW_COLUMNS).order_by(outbox.c.id)).all()
    return [OutboxRow.from_row(row) for row in rows]


def requeue(
    connection: Connection, message_id: int, *, states: Collection[OutboxState], now: datetime
) -> OutboxRow | None:
    """Make a message in one of ``states`` pending again, due ``now``, with a fresh set
    of attempts; None when it is in another state (or does not exist). Its failure is
    marked re-sent by an operator's replay."""
    moved = _move(
        connection,
        message_id,
        states,
        {"state": OutboxState.PENDING.value, "attempts": 0, "next_attempt_at": now},
    )
    if moved is not None:
        _mark_resent(connection, [moved.id], now, ResentBy.REPLAY)
    return moved


def discard(
    connection: Connection, message_id: int, *, states: Collection[OutboxState]
) -> OutboxRow | None:
    """Mark a message in one of ``states`` discarded; None when it is in another state
    (or does not exist)."""
    return _move(connection, message_id, states, {"state": OutboxState.DISCARDED.value})


def discard_target(connection: Connection, target: str) -> int:
    """Give up on every undelivered message (pending or dead) to ``target``: its receiver
    is gone or switched off by its owner. A send in flight may still arrive; its outcome
    is not recorded. Returns how many were discarded."""
    result = connection.execute(
        update(outbox)
        .where(outbox.c.target == target, outbox.c.state.in_(BLOCKING_STATES))
        .values(state=OutboxState.DISCARDED.value, lease_owner=None, lease_until=None)
    )
    return int(result.rowcount)


def _move(
    connection: Connection,
    message_id: int,
    states: Collection[OutboxState],
    values: dict[str, Any],
) -> OutboxRow | None:
    statement = (
        update(outbox)
        .where(outbox.c.id == message_id, outbox.c.state.in_([state.value for state in states]))
        .values(lease_owner=None, lease_until=None, **values)
        .returning(*ROW_COLUMNS)
    )
    row = connection.execute(statement).first()
    return None if row is None else OutboxRow.from_row(row)


# --- failures: each time a message gave up, kept after it is re-sent ---------------------


class ResentBy(StrEnum):
    CORRECTION = "correction"
    """The retailer corrected the case; its dead letters were queued again."""
    REPLAY = "replay"
    """An operator replayed the message."""


@dataclass(frozen=True)
class FailureRow:
    """One time a message became a dead letter, with what its message became since."""

    id: int
    message_id: int
    case_ref: str | None
    target: str
    kind: str
    error: str
    attempts: int
    failed_at: datetime
    resent_at: datetime | None
    resent_by: ResentBy | None
    message_state: OutboxState
    delivered_at: datetime | None


def record_failure(connection: Connection, message: OutboxRow, error: str, at: datetime) -> int:
    """Keep that ``message`` gave up now (its attempts so far, the error); the id."""
    return int(
        connection.execute(
            outbox_failures.insert().returning(outbox_failures.c.id),
            {
                "message_id": message.id,
                "case_ref": message.case_ref,
                "error": error,
                "attempts": message.attempts,
                "failed_at": at,
            },
        ).scalar_one()
    )


def _failure_query() -> Any:
    return select(
        outbox_failures,
        outbox.c.target,
        outbox.c.kind,
        outbox.c.state.label("message_state"),
        outbox.c.delivered_at,
    ).join(outbox, outbox.c.id == outbox_failures.c.message_id)


def _failure(row: RowMapping) -> FailureRow:
    return FailureRow(
        id=row["id"],
        message_id=row["message_id"],
        case_ref=row["case_ref"],
        target=row["target"],
        kind=row["kind"],
        error=row["error"],
        attempts=row["attempts"],
        failed_at=aware(row["failed_at"]),
        resent_at=None if row["resent_at"] is None else aware(row["resent_at"]),
        resent_by=None if row["resent_by"] is None else ResentBy(row["resent_by"]),
        message_state=OutboxState(row["message_state"]),
        delivered_at=None if row["delivered_at"] is None else aware(row["delivered_at"]),
    )


def get_failure(connection: Connection, failure_id: int) -> FailureRow | None:
    row = (
        connection.execute(_failure_query().where(outbox_failures.c.id == failure_id))
        .mappings()
        .first()
    )
    return None if row is None else _failure(row)


def failures_of_case(connection: Connection, case_ref: str) -> list[FailureRow]:
    """Every time a message of the case gave up, oldest first."""
    rows = connection.execute(
        _failure_query()
        .where(outbox_failures.c.case_ref == case_ref)
        .order_by(outbox_failures.c.id)
    ).mappings()
    return [_failure(row) for row in rows]


def resend_dead_of_case(
    connection: Connection, case_ref: str, *, now: datetime, exclude_prefix: str = "webhook:"
) -> list[OutboxRow]:
    """Queue every dead letter of the case again, due now with fresh attempts, and mark
    their failures re-sent by a correction. Each keeps its id, so its place in its queue:
    the messages behind it still follow it, and its idempotency key is unchanged, so the
    partner can still drop a repeat. Targets starting with ``exclude_prefix`` (the
    retailer's own webhook) are left to an operator: correcting a case fixes none."""
    statement = (
        update(outbox)
        .where(
            outbox.c.case_ref == case_ref,
            outbox.c.state == OutboxState.DEAD.value,
            ~outbox.c.target.startswith(exclude_prefix, autoescape=True),
        )
        .values(
            state=OutboxState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
        )
        .returning(*ROW_COLUMNS)
    )
    rows = sorted(map(OutboxRow.from_row, connection.execute(statement)), key=_by_id)
    _mark_resent(connection, [row.id for row in rows], now, ResentBy.CORRECTION)
    return rows


def _mark_resent(
    connection: Connection, message_ids: Sequence[int], now: datetime, by: ResentBy
) -> None:
    if message_ids:
        connection.execute(
            update(outbox_failures)
            .where(
                outbox_failures.c.message_id.in_(message_ids),
                outbox_failures.c.resent_at.is_(None),
            )
            .values(resent_at=now, resent_by=by.value)
        )


# --- figures for the network's status ---------------------------------------------------


COUNTS_BY_TARGET = select(outbox.c.target, outbox.c.state, func.count()).group_by(
    outbox.c.target, outbox.c.state
)
"""(target, state, messages) (the plain reads run it too: hub.store.plain_sql)."""
OLDEST_PENDING_AT = select(func.min(outbox.c.created_at)).where(
    outbox.c.state == OutboxState.PENDING.value
)
"""When the oldest message still waiting to go was written."""


def counts_by_target(connection: Connection) -> dict[str, dict[str, int]]:
    """target -> state -> messages."""
    return target_counts(connection.execute(COUNTS_BY_TARGET).all())


def oldest_pending_at(connection: Connection) -> datetime | None:
    """When the oldest message still waiting to go was written."""
    oldest = connection.execute(OLDEST_PENDING_AT).scalar_one_or_none()
    return None if oldest is None else aware(oldest)
