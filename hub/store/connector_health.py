"""Connector state as operators read it: each connector's lease row (who runs it now,
how long it backs off, whether and why it is paused) and when a push last arrived.

Only reads; the rows are written where connectors are leased, paused and archived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from hub.store.tables import connector_leases, raw_messages
from hub.store.types import aware

__all__ = ["LeaseState", "last_received_at", "lease_states"]


@dataclass(frozen=True)
class LeaseState:
    """A connector's lease row, less its failure counters."""

    owner: str | None
    lease_until: datetime | None
    not_before: datetime | None
    paused_at: datetime | None
    paused_reason: str | None
    paused_by: str | None


def lease_states(connection: Connection) -> dict[str, LeaseState]:
    """Every connector that has a lease row, by name."""
    rows = connection.execute(select(connector_leases)).all()
    return {
        row.connector: LeaseState(
            row.owner,
            row.lease_until,
            row.not_before,
            row.paused_at,
            row.paused_reason,
            row.paused_by,
        )
        for row in rows
    }


def last_received_at(connection: Connection, source: str) -> datetime | None:
    """When the raw archive last stored a message from ``source`` (a push connector)."""
    value = connection.execute(
        select(func.max(raw_messages.c.received_at)).where(raw_messages.c.source == source)
    ).scalar_one_or_none()
    return None if value is None else aware(value)
