"""Erasure of a customer's personal data: the record of each erasure, and the masking of
every place the hub may hold what a partner or a retailer quoted, a batch at a time.

Where personal data can be, and how each place is found (``SCRUB_TARGETS``): the case's
own rows (its document, events, parts orders, outbox messages), then everything written
since the case began that may quote it without naming it: the raw archive, rejected
lines, run errors, file warnings, acknowledgements, the reasons an event was not linked,
events stored without a case. The feed's stored items, written from the case's events,
are cleared as the erasure completes (``clear_feed_items``) and written again from the
masked events. ``tests/test_erasure.py`` greps every table for what is left, so a new
table holding text must be listed here.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    LargeBinary,
    Select,
    Table,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    update,
)

from hub.model.case import Case
from hub.model.personal_data import Eraser
from hub.model.statuses import FINAL_CASE_STATUSES
from hub.store.case_rows import ErasureRecord
from hub.store.tables import (
    acknowledgements,
    cases,
    connector_runs,
    erasures,
    events,
    feed_entries,
    file_warnings,
    inbound_messages,
    outbox,
    parts_orders,
    raw_messages,
    rejects,
    unlinked_reasons,
)
from hub.store.types import UtcDateTime
from hub.store.upsert import insert_ignoring_conflicts


def record_request(connection: Connection, case_id: int, *, by: str, at: datetime) -> ErasureRecord:
    """Record the request once; asking again returns the first record (idempotent)."""
    connection.execute(
        insert_ignoring_conflicts(connection, erasures, "case_id"),
        {"case_id": case_id, "requested_at": at, "requested_by": by, "completed_at": None},
    )
    record = erasure_of(connection, case_id)
    assert record is not None
    return record


ERASURE_OF = select(erasures).where(erasures.c.case_id == bindparam("case_id"))
"""A case's erasure, if any (the plain reads run it too)."""


def erasure_of(connection: Connection, case_id: int) -> ErasureRecord | None:
    row = connection.execute(ERASURE_OF, {"case_id": case_id}).one_or_none()
    return None if row is None else ErasureRecord(*row)


def mark_completed(connection: Connection, case_id: int, *, at: datetime) -> None:
    connection.execute(
        update(erasures).where(erasures.c.case_id == case_id).values(completed_at=at)
    )


def unfinished_erasures(connection: Connection) -> list[str]:
    """References of the cases whose erasure was asked but not finished (a process that
    stopped midway): the retention job finishes them."""
    rows = connection.execute(
        select(cases.c.reference)
        .join(erasures, erasures.c.case_id == cases.c.id)
        .where(erasures.c.completed_at.is_(None))
        .order_by(erasures.c.requested_at)
    )
    return [row.reference for row in rows]


def _closed_not_erased(closed_before: Any) -> Select[Any]:
    """The cases closed (a final status) before the instant and not erased yet: what the
    anonymisation erases and what its dry run counts."""
    return (
        select(cases.c.reference)
        .outerjoin(erasures, erasures.c.case_id == cases.c.id)
        .where(
            erasures.c.case_id.is_(None),
            cases.c.status.in_(sorted(status.value for status in FINAL_CASE_STATUSES)),
            cases.c.status_at < closed_before,
        )
    )


def closed_cases_to_anonymise(
    connection: Connection, *, closed_before: datetime, limit: int
) -> list[str]:
    """Cases closed (a final status) before the date and not erased yet, oldest first."""
    rows = connection.execute(
        _closed_not_erased(closed_before).order_by(cases.c.status_at, cases.c.id).limit(limit)
    )
    return [row.reference for row in rows]


CLOSED_CASES_TO_ANONYMISE = select(func.count()).select_from(
    _closed_not_erased(bindparam("closed_before", type_=UtcDateTime())).subquery()
)
"""How many cases the anonymisation would erase (the plain reads run it too)."""


def count_closed_cases_to_anonymise(connection: Connection, *, closed_before: datetime) -> int:
    """How many cases closed before the date are not erased yet (the dry run's figure)."""
    found = connection.execute(CLOSED_CASES_TO_ANONYMISE, {"closed_before": closed_before})
    return int(found.scalar_one())


def replace_case_document(connection: Connection, case_id: int, case: Case) -> None:
    """The case's document, its personal data gone (its content hash stays that of what
    the retailer sent, so the same case sent again is still recognised)."""
    connection.execute(
        update(cases).where(cases.c.id == case_id).values(document=case.model_dump(mode="json"))
    )


@dataclass(frozen=True)
class Scope:
    """What one erasure looks at: the case, and since when others may have quoted it."""

    case_id: int
    case_ref: str
    since: datetime


@dataclass(frozen=True)
class ScrubTarget:
    """A table that may hold personal data: the columns to mask, and which rows."""

    table: Table
    key: str
    columns: tuple[str, ...]
    time: str | None = None
    """Rows written since the scope's start may quote the customer."""
    case_id: str | None = None
    """Rows of the case itself (whenever written)."""
    case_ref: str | None = None
    """Rows naming the case by reference (whenever written)."""
    orphans_only: bool = False
    """Rows by time only when they belong to no case (events without a case)."""

    @property
    def name(self) -> str:
        return self.table.name

    def where(self, scope: Scope) -> ColumnElement[bool]:
        table = self.table.c
        conditions: list[ColumnElement[bool]] = []
        if self.case_id is not None:
            conditions.append(table[self.case_id] == scope.case_id)
        if self.case_ref is not None:
            conditions.append(table[self.case_ref] == scope.case_ref)
        if self.time is not None:
            recent = table[self.time] >= scope.since
            if self.orphans_only and self.case_id is not None:
                recent = and_(recent, table[self.case_id].is_(None))
            conditions.append(recent)
        return or_(*conditions) if conditions else false()


SCRUB_TARGETS: tuple[ScrubTarget, ...] = (
    ScrubTarget(
        events,
        "seq",
        ("raw_code", "raw_label", "partner_ref", "subject", "details"),
        time="recorded_at",
        case_id="case_id",
        case_ref="case_ref",
        orphans_only=True,
    ),
    ScrubTarget(parts_orders, "id", ("document",), case_id="case_id"),
    ScrubTarget(outbox, "id", ("payload", "last_error"), time="created_at", case_ref="case_ref"),
    ScrubTarget(raw_messages, "id", ("name", "content", "meta"), time="received_at"),
    ScrubTarget(inbound_messages, "id", ("name",), time="read_at"),
    ScrubTarget(rejects, "id", ("source", "reason", "raw", "field"), time="created_at"),
    ScrubTarget(file_warnings, "id", ("source", "reason"), time="created_at"),
    ScrubTarget(connector_runs, "id", ("error_message",), time="started_at"),
    ScrubTarget(acknowledgements, "id", ("name", "content", "last_error"), time="created_at"),
    ScrubTarget(unlinked_reasons, "event_id", ("reason",), time="noted_at"),
)


def _masked(column: Column[Any], value: Any, eraser: Eraser, row: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, JSON):
        return eraser.json(value)
    if isinstance(column.type, LargeBinary):
        content = bytes(value)
        compressed = getattr(row, "compression", "none") == "zlib"
        raw = zlib.decompress(content) if compressed else content
        masked = eraser.bytes(raw)
        if masked == raw:
            return value
        return zlib.compress(masked, 1) if compressed else masked
    return eraser.text(str(value))


def scrub_batch(
    connection: Connection,
    target: ScrubTarget,
    scope: Scope,
    eraser: Eraser,
    *,
    after: Any,
    limit: int,
) -> tuple[Any, int]:
    """Mask up to ``limit`` rows of the target after key ``after`` (None: from the start);
    returns the last key looked at (None when the table is done) and the rows changed.

    A raw message keeps its SHA-256 (the same file sent again is still recognised) and
    says in its meta that it was masked; its size becomes that of what is kept."""
    table = target.table
    key = table.c[target.key]
    columns: list[Column[Any]] = [table.c[name] for name in target.columns]
    extra = [table.c.compression] if table is raw_messages else []
    query = select(key, *columns, *extra).where(target.where(scope))
    if after is not None:
        query = query.where(key > after)
    rows = connection.execute(query.order_by(key).limit(limit)).all()
    changed = 0
    for row in rows:
        values: dict[str, Any] = {}
        for column in columns:
            current = getattr(row, column.name)
            masked = _masked(column, current, eraser, row)
            if masked != current:
                values[column.name] = masked
        if not values:
            continue
        if table is raw_messages and "content" in values:
            stored = values["content"]
            plain = zlib.decompress(stored) if row.compression == "zlib" else stored
            values["size"] = len(plain)
            meta = dict(values.get("meta", row.meta) or {})
            meta["personal_data_masked"] = True
            values["meta"] = meta
        connection.execute(update(table).where(key == getattr(row, target.key)).values(**values))
        changed += 1
    last = getattr(rows[-1], target.key) if len(rows) == limit else None
    return last, changed


def clear_feed_items(connection: Connection, case_id: int) -> None:
    """Forget the case's feed items as stored (hub.store.feed_status): they quote its
    events as they were before the masking. Run as the erasure completes; the fill
    writes them again from the masked events, and stores none for the case while its
    erasure is under way."""
    # Every entry of the case, not only those with an item: on PostgreSQL an update skips
    # a row whose committed version does not match, so a fill that wrote an unmasked item
    # and has not committed yet would keep it; matching by case alone, this waits for
    # that fill and clears what it wrote.
    connection.execute(
        update(feed_entries).where(feed_entries.c.case_id == case_id).values(item_json=None)
    )


def scrub_targets() -> Sequence[ScrubTarget]:
    return SCRUB_TARGETS
