"""What the outbox holds for each target, counted in one query: what an operator reads
beside an endpoint to see whether its receiver keeps up (pending, dead, delivered of late,
the last delivery and the last error)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from hub.store.tables import outbox


@dataclass(frozen=True)
class TargetDeliveries:
    """One target's messages: waiting, given up on, delivered since a moment."""

    pending: int = 0
    dead: int = 0
    delivered_since: int = 0
    last_delivered_at: datetime | None = None


def deliveries_by_target(
    connection: Connection, targets: Sequence[str], *, since: datetime
) -> dict[str, TargetDeliveries]:
    """The figures of each target named (a target with no message: all zero)."""
    if not targets:
        return {}
    state = outbox.c.state

    def counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = connection.execute(
        select(
            outbox.c.target,
            counted(state == "pending"),
            counted(state == "dead"),
            counted(and_(state == "delivered", outbox.c.delivered_at >= since)),
            func.max(outbox.c.delivered_at),
        )
        .where(outbox.c.target.in_(sorted(set(targets))))
        .group_by(outbox.c.target)
    ).all()
    found = {
        row[0]: TargetDeliveries(int(row[1]), int(row[2]), int(row[3]), row[4]) for row in rows
    }
    return {target: found.get(target, TargetDeliveries()) for target in targets}
