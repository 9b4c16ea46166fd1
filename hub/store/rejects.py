"""Rejected records kept for the operator, each once per archived message, and read
back for the operator's listings.

A message imported again (a file re-sent after an import stopped half-way) must not
list the same rejected line twice: the rejects already kept for it are looked up by
line, field and reason, as a replay does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from hub.store.tables import rejects

RejectKey = tuple[int | None, str | None, str]
"""Line, field and reason: what tells two rejects of one message apart."""


@dataclass(frozen=True)
class NewReject:
    line: int | None
    field: str | None
    reason: str
    raw: str

    @property
    def key(self) -> RejectKey:
        return (self.line, self.field, self.reason)


def kept_reject_keys(connection: Connection, message_id: int) -> set[RejectKey]:
    """The rejects already kept for this archived message."""
    found = connection.execute(
        select(rejects.c.line, rejects.c.field, rejects.c.reason).where(
            rejects.c.message_id == message_id
        )
    ).all()
    return {(row.line, row.field, row.reason) for row in found}


def keep_rejects(
    connection: Connection,
    found: Sequence[NewReject],
    *,
    connector: str,
    source: str,
    message_id: int,
    run_id: int | None,
    now: datetime,
) -> None:
    """Keep each rejected record with where, why and its raw text."""
    if not found:
        return
    connection.execute(
        rejects.insert(),
        [
            {
                "connector": connector,
                "run_id": run_id,
                "message_id": message_id,
                "source": source,
                "line": reject.line,
                "field": reject.field,
                "reason": reject.reason,
                "raw": reject.raw,
                "created_at": now,
            }
            for reject in found
        ],
    )


@dataclass(frozen=True)
class Reject:
    """A kept rejected record, with where it was, why, and its raw text."""

    id: int
    connector: str
    run_id: int | None
    message_id: int | None
    source: str
    line: int | None
    field: str | None
    reason: str
    raw: str | None
    created_at: datetime


def _reject(row: Row[Any]) -> Reject:
    return Reject(
        id=row.id,
        connector=row.connector,
        run_id=row.run_id,
        message_id=row.message_id,
        source=row.source,
        line=row.line,
        field=row.field,
        reason=row.reason,
        raw=row.raw,
        created_at=row.created_at,
    )


def recent_rejects(connection: Connection, connector: str, *, limit: int) -> list[Reject]:
    """The connector's rejected records, newest first."""
    rows = connection.execute(
        select(rejects)
        .where(rejects.c.connector == connector)
        .order_by(rejects.c.created_at.desc(), rejects.c.id.desc())
        .limit(limit)
    ).all()
    return [_reject(row) for row in rows]


def all_rejects(connection: Connection) -> list[Reject]:
    """Every rejected record, in the order they were kept."""
    return [_reject(row) for row in connection.execute(select(rejects).order_by(rejects.c.id))]
