"""Retention: what of each kind of accumulated data is old enough to go, and removing it
a batch at a time (each batch the caller's own short transaction).

Each kind says which rows are due (older than the cutoff) and which the hub still needs
whatever their age; ``tests/test_retention.py`` checks the second list on both databases.

- ``raw_archive``: the bytes of a message go (its row stays: name, SHA-256, size, so
  the same file sent again is recognised, and every reference to it holds); kept while
  it has rejected lines, unmapped events or events waiting for their case (a replay
  needs the bytes), a file not moved yet at the partner's, or an acknowledgement owed.
- ``closed_case_events``: events of cases closed before the cutoff, but the event that
  gives the case its status (so the case still reads closed), and none of a case with a
  message pending or dead (its replay reads its event).
- ``delivered_outbox``: delivered or discarded messages; never pending or dead ones.
- ``run_records``: finished runs, but each connector's last run and last successful run.
- ``rejects``: rejected lines.
- ``file_warnings``: warnings an operator acknowledged; never one still unseen.
- ``acknowledgements``: those put to the partner, but each connector's last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.sql import CompoundSelect

from hub.model.statuses import FINAL_CASE_STATUSES
from hub.store.archive import PURGED
from hub.store.retention_rows import KINDS, KindFigures
from hub.store.tables import (
    acknowledgements,
    cases,
    connector_runs,
    events,
    feed_entries,
    file_warnings,
    inbound_messages,
    outbox,
    raw_messages,
    rejects,
    replays,
    unlinked_reasons,
)
from hub.store.types import UtcDateTime

if TYPE_CHECKING:
    from hub.store.db import Database

__all__ = [
    "DUE_COUNTS",
    "KINDS",
    "OLDEST_KEPT",
    "ConnectionRetentionReads",
    "KindFigures",
    "figures",
    "remove_batch",
]


def _raw_due(cutoff: datetime) -> ColumnElement[bool]:
    message = raw_messages.c.id
    return and_(
        raw_messages.c.received_at < cutoff,
        raw_messages.c.compression != PURGED,
        not_(exists().where(rejects.c.message_id == message)),
        not_(
            exists().where(
                events.c.message_id == message,
                or_(events.c.unmapped.is_(True), events.c.case_id.is_(None)),
            )
        ),
        not_(
            exists().where(
                inbound_messages.c.message_id == message,
                inbound_messages.c.acknowledged_at.is_(None),
            )
        ),
        not_(
            exists().where(
                acknowledgements.c.message_id == message, acknowledgements.c.sent_at.is_(None)
            )
        ),
    )


def _closed_event_due(cutoff: datetime) -> ColumnElement[bool]:
    closed = sorted(status.value for status in FINAL_CASE_STATUSES)  # one text each run
    case = cases.c
    return exists().where(
        case.id == events.c.case_id,
        case.status.in_(closed),
        case.status_at < cutoff,
        or_(case.status_event_id.is_(None), case.status_event_id != events.c.event_id),
        not_(
            exists().where(
                outbox.c.case_ref == case.reference, outbox.c.state.in_(("pending", "dead"))
            )
        ),
    )


def _outbox_due(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        outbox.c.state.in_(("delivered", "discarded")),
        func.coalesce(outbox.c.delivered_at, outbox.c.created_at) < cutoff,
    )


def _runs_kept() -> CompoundSelect[Any]:
    """Each connector's last run and last successful run."""
    last = select(func.max(connector_runs.c.id)).group_by(connector_runs.c.connector)
    succeeded = (
        select(func.max(connector_runs.c.id))
        .where(connector_runs.c.outcome == "succeeded")
        .group_by(connector_runs.c.connector)
    )
    return last.union(succeeded)


def _runs_due(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        connector_runs.c.started_at < cutoff,
        connector_runs.c.outcome != "running",
        connector_runs.c.id.not_in(_runs_kept()),
    )


def _acknowledgements_due(cutoff: datetime) -> ColumnElement[bool]:
    last = select(func.max(acknowledgements.c.id)).group_by(acknowledgements.c.connector)
    return and_(
        acknowledgements.c.sent_at.is_not(None),
        acknowledgements.c.sent_at < cutoff,
        acknowledgements.c.id.not_in(last),
    )


@dataclass(frozen=True)
class _Kind:
    table: Any
    key: Any
    time: Any
    due: Any
    among: ColumnElement[bool] | None = None
    """Rows of the table the kind is about at all (the oldest kept is among them)."""


def _kind(kind: str) -> _Kind:
    if kind == "raw_archive":
        return _Kind(
            raw_messages,
            raw_messages.c.id,
            raw_messages.c.received_at,
            _raw_due,
            raw_messages.c.compression != PURGED,
        )
    if kind == "closed_case_events":
        return _Kind(
            events,
            events.c.seq,
            events.c.recorded_at,
            _closed_event_due,
            events.c.case_id.is_not(None),
        )
    if kind == "delivered_outbox":
        return _Kind(outbox, outbox.c.id, outbox.c.created_at, _outbox_due)
    if kind == "run_records":
        return _Kind(connector_runs, connector_runs.c.id, connector_runs.c.started_at, _runs_due)
    if kind == "rejects":
        return _Kind(
            rejects,
            rejects.c.id,
            rejects.c.created_at,
            lambda cutoff: rejects.c.created_at < cutoff,
        )
    if kind == "file_warnings":
        return _Kind(
            file_warnings,
            file_warnings.c.id,
            file_warnings.c.created_at,
            lambda cutoff: and_(
                file_warnings.c.created_at < cutoff, file_warnings.c.acknowledged_at.is_not(None)
            ),
        )
    if kind == "acknowledgements":
        return _Kind(
            acknowledgements,
            acknowledgements.c.id,
            acknowledgements.c.created_at,
            _acknowledgements_due,
        )
    raise ValueError(f"no retention kind {kind!r}")


CUTOFF: Any = bindparam("cutoff", type_=UtcDateTime())
"""The instant before which a row is due (a kind kept forever: the first instant)."""


def _due_count(kind: str) -> Select[Any]:
    spec = _kind(kind)
    return select(func.count()).select_from(spec.table).where(spec.due(CUTOFF))


def _oldest_kept(kind: str) -> Select[Any]:
    spec = _kind(kind)
    kept = select(func.min(spec.time)).where(not_(spec.due(CUTOFF)))
    return kept if spec.among is None else kept.where(spec.among)


DUE_COUNTS = {kind: _due_count(kind) for kind in KINDS}
"""Per kind, how many rows are due at ``cutoff`` (the plain reads run them too)."""
OLDEST_KEPT = {kind: _oldest_kept(kind) for kind in KINDS}
"""Per kind, the oldest instant of a row kept at ``cutoff`` (the plain reads run them too)."""


def figures(connection: Connection, kind: str, cutoff: datetime) -> KindFigures:
    """How many rows of the kind are due, and the oldest the hub keeps."""
    values = {"cutoff": cutoff}
    count = connection.execute(DUE_COUNTS[kind], values).scalar_one()
    oldest = connection.execute(OLDEST_KEPT[kind], values).scalar_one_or_none()
    return KindFigures(kind, int(count), oldest)


class ConnectionRetentionReads:
    """What the dry run reads (hub.store.retention_rows.RetentionReads) through the
    `Database`, a transaction per read, as `hub retention` read them before (issue 17)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def figures(self, kind: str, cutoff: datetime) -> KindFigures:
        with self._database.reading() as connection:
            return figures(connection, kind, cutoff)

    def closed_cases_to_anonymise(self, closed_before: datetime) -> int:
        from hub.store.erasure import count_closed_cases_to_anonymise

        with self._database.reading() as connection:
            return count_closed_cases_to_anonymise(connection, closed_before=closed_before)


def remove_batch(connection: Connection, kind: str, cutoff: datetime, limit: int) -> int:
    """Remove up to ``limit`` due rows of the kind; how many went (0: none is due)."""
    spec = _kind(kind)
    ids: Sequence[Any] = (
        connection.execute(select(spec.key).where(spec.due(cutoff)).order_by(spec.key).limit(limit))
        .scalars()
        .all()
    )
    if not ids:
        return 0
    if kind == "raw_archive":
        connection.execute(
            update(raw_messages)
            .where(raw_messages.c.id.in_(ids))
            .values(content=b"", compression=PURGED)
        )
        return len(ids)
    if kind == "closed_case_events":
        connection.execute(delete(feed_entries).where(feed_entries.c.event_seq.in_(ids)))
        connection.execute(
            delete(unlinked_reasons).where(
                unlinked_reasons.c.event_id.in_(
                    select(events.c.event_id).where(events.c.seq.in_(ids))
                )
            )
        )
    if kind == "run_records":
        for table in (rejects, file_warnings, inbound_messages):
            connection.execute(update(table).where(table.c.run_id.in_(ids)).values(run_id=None))
        connection.execute(delete(replays).where(replays.c.run_id.in_(ids)))
    connection.execute(delete(spec.table).where(spec.key.in_(ids)))
    return len(ids)
