"""Connector state as operators read it: each connector's lease row (who runs it now,
how long it backs off, whether and why it is paused) and when a push last arrived.

Only reads; the rows are written where connectors are leased, paused and archived.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, String, bindparam, func, select

from hub.store.health_rows import LeaseState, lease_states_of
from hub.store.run_rows import RunRecord, run_record
from hub.store.tables import connector_leases, raw_messages
from hub.store.types import aware

__all__ = [
    "LAST_RECEIVED_AT",
    "LEASE_STATES",
    "ConnectionStatusReads",
    "LeaseState",
    "last_received_at",
    "lease_states",
]


LEASE_STATES = select(connector_leases)
"""Every connector's lease row (the plain reads run it too: hub.store.plain_sql)."""
LAST_RECEIVED_AT = select(func.max(raw_messages.c.received_at)).where(
    raw_messages.c.source == bindparam("source", type_=String)
)
"""When the raw archive last stored a message from ``source``."""


def lease_states(connection: Connection) -> dict[str, LeaseState]:
    """Every connector that has a lease row, by name."""
    return lease_states_of(connection.execute(LEASE_STATES).all())


def last_received_at(connection: Connection, source: str) -> datetime | None:
    """When the raw archive last stored a message from ``source`` (a push connector)."""
    value = connection.execute(LAST_RECEIVED_AT, {"source": source}).scalar_one_or_none()
    return None if value is None else aware(value)


class ConnectionStatusReads:
    """The network's status reads (hub.store.health_rows.StatusReads) on a connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def lease_states(self) -> dict[str, LeaseState]:
        return lease_states(self._connection)

    def unmapped_codes_by_source(self) -> dict[str, int]:
        from hub.store.unmapped import unmapped_codes_by_source

        return unmapped_codes_by_source(self._connection)

    def open_warning_counts(self) -> dict[str, int]:
        from hub.store.file_warnings import open_warning_counts

        return open_warning_counts(self._connection)

    def outbox_counts_by_target(self) -> dict[str, dict[str, int]]:
        from hub.store.outbox import counts_by_target

        return counts_by_target(self._connection)

    def oldest_pending_at(self) -> datetime | None:
        from hub.store.outbox import oldest_pending_at

        return oldest_pending_at(self._connection)

    def last_own_run(self, connector: str, *, outcome: str | None = None) -> RunRecord | None:
        from hub.store.run_history import last_own_run

        row = last_own_run(self._connection, connector, outcome=outcome)
        return None if row is None else run_record(row)

    def consecutive_failures(self, connector: str) -> int:
        from hub.store.runs import consecutive_failures

        return consecutive_failures(self._connection, connector)

    def last_received_at(self, source: str) -> datetime | None:
        return last_received_at(self._connection, source)
