"""Rejected records kept for the operator, each once per archived message.

A message imported again (a file re-sent after an import stopped half-way) must not
list the same rejected line twice: the rejects already kept for it are looked up by
line, field and reason, as a replay does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

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
