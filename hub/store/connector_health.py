"""Connector state as operators read it: each connector's lease row (who runs it now,
how long it backs off, whether and why it is paused) and when a push last arrived.

Only reads; the rows are written where connectors are leased, paused and archived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    bindparam,
    func,
    literal_column,
    select,
)

from hub.store.health_rows import LeaseState, OwnRunSummary, lease_states_of, own_run_summaries_of
from hub.store.tables import connector_leases, raw_messages
from hub.store.types import aware

__all__ = [
    "LAST_RECEIVED",
    "LEASE_STATES",
    "ConnectionStatusReads",
    "LeaseState",
    "last_received",
    "lease_states",
]


LEASE_STATES = select(connector_leases)
"""Every connector's lease row (the plain reads run it too: hub.store.plain_sql)."""


def _arrival_sources() -> CTE:
    """Which of ``sources`` the archive holds messages from, found one index step each
    (the first of them in the index, then the first after each), not by reading their
    messages. ``ORDER BY ... LIMIT 1`` rather than ``min()``: SQLite reads every entry of
    the sources in an ``IN`` for a ``min`` of them, and walks the ``IN`` in order for
    this."""
    wanted: BindParameter[Any] = bindparam("sources", expanding=True)
    later = raw_messages.alias("later")

    def first(after: ColumnElement[str] | None) -> Any:
        statement = select(later.c.source).where(later.c.source.in_(wanted))
        if after is not None:
            statement = statement.where(later.c.source > after)
        # A literal limit: SQLite adds an OFFSET bind to each LIMIT and PostgreSQL none
        # (hub.store.plain_statements; as hub.store.run_history does).
        ordered = statement.order_by(later.c.source).limit(literal_column("1"))
        return ordered.scalar_subquery()

    found = select(first(None).label("source")).cte("arrival_sources", recursive=True)
    return found.union_all(select(first(found.c.source)).where(found.c.source.is_not(None)))


def _last_received() -> Select[Any]:
    sources = _arrival_sources()
    name = sources.c.source
    latest = (
        select(func.max(raw_messages.c.received_at))
        .where(raw_messages.c.source == name)
        .scalar_subquery()
    )
    return select(name, latest.label("received_at")).where(name.is_not(None))


LAST_RECEIVED = _last_received()
"""When the raw archive last stored a message from each of ``sources`` that has one, one
step of the index on source and arrival per source whatever the archive holds (the plain
reads run it too: hub.store.plain_sql)."""


def lease_states(connection: Connection) -> dict[str, LeaseState]:
    """Every connector that has a lease row, by name."""
    return lease_states_of(connection.execute(LEASE_STATES).all())


def last_received(connection: Connection, sources: Sequence[str]) -> dict[str, datetime]:
    """When the raw archive last stored a message from each source (push connectors)."""
    if not sources:
        return {}
    rows = connection.execute(LAST_RECEIVED, {"sources": list(sources)}).all()
    return {str(source): aware(received) for source, received in rows}


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

    def own_run_summaries(self, connectors: Sequence[str]) -> dict[str, OwnRunSummary]:
        from hub.store.run_history import own_run_summaries

        return own_run_summaries_of(own_run_summaries(self._connection, connectors))

    def last_received(self, sources: Sequence[str]) -> dict[str, datetime]:
        return last_received(self._connection, sources)
