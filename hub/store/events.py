"""Appending events and keeping each case's derived status in step, in one transaction.

Appending is idempotent: an event whose id is stored already is counted as a duplicate
and changes nothing. A case's status is the maximum of its case-status events in the
timeline order (see hub.model.timeline), so the store keeps it incrementally: a new
event replaces the cached status only if it sorts after it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, bindparam, func, select, update

from hub.model.event import Event
from hub.model.statuses import CASE_STATUS_RANKS, CaseStatus
from hub.model.timeline import OrderKey, order_key
from hub.store.bulk import insert_events
from hub.store.compiled import DriverStatement
from hub.store.event_rows import row_to_event as row_to_event
from hub.store.tables import cases, events
from hub.store.types import UtcDateTime

T = TypeVar("T")

StoredHook = Callable[[Connection, Sequence[Event]], None]
"""Called in the storing transaction with the events just stored (the sync rules)."""

CHUNK = 5_000
"""Rows per statement: large enough to be fast, small enough for any driver's limits."""


@dataclass
class AppendResult:
    """What an append did; the ingestion run record adds these up."""

    stored: int = 0
    duplicates: int = 0
    unmapped: int = 0
    orphans: int = 0
    stored_ids: list[str] = field(default_factory=list)
    cases_changed: set[str] = field(default_factory=set)


class CaseHead(NamedTuple):
    """What appending needs of a case: its id and the order key of its current status.

    A named tuple, not a frozen dataclass, whose ``__init__`` sets each field through
    ``object.__setattr__``: a file's read of its cases builds one a case named (issue 17,
    fifteenth pass)."""

    id: int
    reference: str
    key: OrderKey | None


@dataclass
class MessageCases:
    """The cases a message's earlier chunks appended to, as those chunks left them, for
    the later chunks of the same message in the same transaction (issue 17, eleventh
    pass): their heads are not read again, and a case stamped already at ``now`` is not
    stamped again (the same value), so a file of many chunks updates a case once unless
    its status moves again.

    Sound because every case kept was updated by this transaction (its row is locked
    until the commit on PostgreSQL; SQLite has one writer): only this transaction's other
    writers can change it, and the caller calls ``forget`` whenever one has run (the
    sync rules, events attached to their cases)."""

    now: datetime
    heads: dict[str, CaseHead] = field(default_factory=dict)
    """The cases' heads as the last chunk left them (moved or not), by reference."""
    stamped: set[str] = field(default_factory=set)
    """The cases whose ``updated_at`` is ``now`` already."""

    def forget(self) -> None:
        """Another writer ran in the transaction: the next chunk reads and writes all."""
        self.heads.clear()
        self.stamped.clear()


HEAD_COLUMNS = (
    cases.c.id,
    cases.c.reference,
    cases.c.status,
    cases.c.status_at,
    cases.c.status_event_id,
)
"""A case's head as ``case_head`` reads it: selected by ``append_events`` and by the read
of the named cases' links, which hands them on (one read of the cases a file names)."""


def case_head(
    case_id: int,
    reference: str,
    status: str | None,
    status_at: datetime | None,
    status_event_id: str | None,
) -> CaseHead:
    """The head from ``HEAD_COLUMNS``' values: a case without a status has no key."""
    if status is None:
        return CaseHead(case_id, reference, None)
    assert status_at is not None, "written with the status"
    assert status_event_id is not None, "written with the status"
    rank = CASE_STATUS_RANKS.get(status)
    if rank is None:  # not a case status: refused by the enum, as before
        rank = CaseStatus(status).rank
    return CaseHead(case_id, reference, order_key(status_at, rank, status_event_id))


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` a statement's worth at a time (SQLite limits bound parameters)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


_HEADS = select(*HEAD_COLUMNS).where(cases.c.reference.in_(bindparam("references", expanding=True)))
"""Built once: building a statement costs more than a small file's query (issue 17)."""

_LOCKED_HEADS = _HEADS.order_by(cases.c.id).with_for_update()
"""PostgreSQL's: the heads read locks the cases (in the ids' order) until the commit, so
that no other writer moves a case between this read and the move written from it; a
rival's status read before and written after it was moved back (issue 17, seventeenth
pass, ``tests/test_store_transactions.py``). SQLite's transaction holds the one writer's
lock from its BEGIN (hub.store.db)."""

_MOVE = (
    update(cases)
    .where(cases.c.id == bindparam("case_id"))
    .values(
        status=func.coalesce(bindparam("new_status"), cases.c.status),
        status_at=func.coalesce(bindparam("new_status_at", type_=UtcDateTime), cases.c.status_at),
        status_event_id=func.coalesce(bindparam("new_status_event_id"), cases.c.status_event_id),
        updated_at=bindparam("now", type_=UtcDateTime),
    )
)
"""Moves a case's status forward, or (the three new values None) only stamps it: one
statement for both, a round trip fewer when a file does both (issue 17)."""

_MOVE_ON_DRIVER = DriverStatement(lambda _dialect: _MOVE)
"""Every file runs it: compiled once per database kind, run on the driver (issue 17)."""


def _case_heads(
    connection: Connection, references: set[str], read: Mapping[str, CaseHead]
) -> dict[str, CaseHead]:
    """The cases' heads by reference: those ``read`` already, the others read now."""
    heads = {reference: read[reference] for reference in references & read.keys()}
    wanted = sorted(references - heads.keys())
    statement = _LOCKED_HEADS if connection.dialect.name == "postgresql" else _HEADS
    for chunk in chunks(wanted):
        rows = connection.execute(statement, {"references": list(chunk)})
        # By position: a row's values by name go through an AttributeError each in
        # SQLAlchemy's rows, half of reading a large file's heads (issue 17).
        for row in rows:
            head = case_head(*row)
            heads[head.reference] = head
    return heads


def append_events(
    connection: Connection,
    new_events: Sequence[Event],
    *,
    message_id: int | None = None,
    now: datetime | None = None,
    heads_read: Mapping[str, CaseHead] | None = None,
    kept: MessageCases | None = None,
) -> AppendResult:
    """Store the events that are not stored yet and move case statuses forward.

    ``heads_read``: cases' heads read already in this transaction, nothing appended since
    (the named cases, read with their links by the resolution): not read again.
    ``kept``: what the same message's earlier chunks left (its ``now`` is the stamp),
    updated here for the next chunk.
    """
    if kept is not None:
        assert now is None or now == kept.now, "one stamp for a message's chunks"
        now = kept.now
        if kept.heads:
            heads_read = {**kept.heads, **(heads_read or {})}
    result = AppendResult()
    # Each event's fields read once, from the model's ``__dict__`` (an attribute of a
    # pydantic model costs about twice a dictionary's item: issue 17, thirteenth pass).
    batch: dict[str, Event] = {}
    references: list[str | None] = []
    for event in new_events:
        fields = event.__dict__
        event_id = fields["id"]
        if event_id in batch:
            result.duplicates += 1
        else:
            batch[event_id] = event
            references.append(fields["case_ref"])
    if not batch:
        return result

    heads = _case_heads(
        connection, {reference for reference in references if reference}, heads_read or {}
    )
    case_ids = []
    for reference in references:
        head = heads.get(reference) if reference else None
        case_ids.append(head.id if head else None)
    unique = list(batch.values())

    stored_ids: list[str] = []
    for start in range(0, len(unique), CHUNK):
        stored_ids.extend(
            insert_events(
                connection,
                unique[start : start + CHUNK],
                case_ids[start : start + CHUNK],
                message_id=message_id,
            )
        )
    result.stored = len(stored_ids)
    result.duplicates += len(batch) - result.stored
    result.stored_ids = stored_ids

    best: dict[str, OrderKey] = {}
    touched: set[str] = set()
    for event_id in stored_ids:
        fields = batch[event_id].__dict__
        status = fields["status"]
        reference = fields["case_ref"]
        if status is None:
            result.unmapped += 1
        if reference is None or reference not in heads:
            result.orphans += 1
            continue
        touched.add(reference)
        if isinstance(status, CaseStatus):
            key = order_key(fields["occurred_at"], status.rank, event_id)
            kept_key = best.get(reference)
            if kept_key is None or key > kept_key:
                best[reference] = key
    _move_cases_forward(connection, heads, best, touched, batch, now or datetime.now(UTC), kept)
    result.cases_changed = touched
    return result


def _move_cases_forward(
    connection: Connection,
    heads: dict[str, CaseHead],
    best: dict[str, OrderKey],
    touched: set[str],
    batch: dict[str, Event],
    now: datetime,
    kept: MessageCases | None,
) -> None:
    """One executemany statement, whatever the number of cases touched; with ``kept``,
    none for a case stamped at ``now`` already that does not move."""
    rows: list[dict[str, Any]] = []
    stamped = set() if kept is None else kept.stamped
    for reference in sorted(touched):
        head = heads[reference]
        candidate = best.get(reference)
        if candidate is not None and (head.key is None or candidate > head.key):
            # The event's fields from its ``__dict__``, its status's text as its
            # ``_value_`` (as ``bulk._rows`` reads them): a model's attribute and an
            # enum's ``.value`` are Python code (issue 17, thirteenth pass, second round).
            event_id = candidate[2]
            fields = batch[event_id].__dict__
            status = fields["status"]
            assert status is not None
            if kept is not None:
                kept.heads[reference] = CaseHead(head.id, reference, candidate)
            rows.append(
                {
                    "case_id": head.id,
                    "new_status": status._value_,
                    "new_status_at": fields["occurred_at"],
                    "new_status_event_id": event_id,
                    "now": now,
                }
            )
        elif reference not in stamped:
            if kept is not None:
                kept.heads[reference] = head
            rows.append(
                {
                    "case_id": head.id,
                    "new_status": None,
                    "new_status_at": None,
                    "new_status_event_id": None,
                    "now": now,
                }
            )
    _MOVE_ON_DRIVER.execute_many(connection, rows)
    if kept is not None:
        stamped |= touched


EVENTS_OF_CASE = (
    select(events).where(events.c.case_id == bindparam("case_id")).order_by(events.c.seq)
)
"""A case's events in stored order (the plain reads run it too)."""


def events_of_case(connection: Connection, case_id: int) -> list[Event]:
    rows = connection.execute(EVENTS_OF_CASE, {"case_id": case_id}).all()
    return [row_to_event(row) for row in rows]


def count_events(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(events)).scalar_one())


def count_events_by_reporter(connection: Connection) -> dict[str, int]:
    """Events stored per reporting party."""
    rows = connection.execute(
        select(events.c.reported_by, func.count()).group_by(events.c.reported_by)
    )
    return {str(party): int(count) for party, count in rows}


def events_by_id(connection: Connection, event_ids: Collection[str]) -> dict[str, Event]:
    """The stored events among ``event_ids``, by id (a chunk of ids per query)."""
    found: dict[str, Event] = {}
    for chunk in chunks(sorted(set(event_ids))):
        rows = connection.execute(select(events).where(events.c.event_id.in_(chunk)))
        found.update((row.event_id, row_to_event(row)) for row in rows)
    return found


def timelines_of_cases(
    connection: Connection, references: Collection[str]
) -> dict[str, list[Event]]:
    """Each case's events in stored order, by reference, as ``events_of_case`` reads one
    case's (a case without events is missing, as is an unknown reference)."""
    found: dict[str, list[Event]] = {}
    for chunk in chunks(sorted(set(references))):
        rows = connection.execute(
            select(events, cases.c.reference.label("of_case"))
            .join(cases, cases.c.id == events.c.case_id)
            .where(cases.c.reference.in_(chunk))
            .order_by(events.c.seq)
        )
        for row in rows:
            found.setdefault(row.of_case, []).append(row_to_event(row))
    return found


def get_event(connection: Connection, event_id: str) -> Event | None:
    row = connection.execute(select(events).where(events.c.event_id == event_id)).one_or_none()
    return None if row is None else row_to_event(row)
