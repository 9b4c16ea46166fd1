"""Connector state as operators read it: each connector's lease row (who runs it now,
how long it backs off, whether and why it is paused) and when a push last arrived.

Only reads; the rows are written where connectors are leased, paused and archived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, Connection, Select, bindparam, func, select

from hub.store.health_rows import LeaseState, OwnRunSummary, lease_states_of, own_run_summaries_of
from hub.store.skip_scan import distinct_values
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


def _archive_sources() -> CTE:
    """Every source the archive holds messages from, found one index step each, not by
    reading their messages. The sources asked are kept afterwards: an ``IN`` in the step
    would make SQLite read every entry of each source asked before the previous one (it
    takes the ``IN`` as equalities, and the range only as a filter)."""
    return distinct_values(raw_messages.c.source, "archive_sources")


def _last_received() -> Select[Any]:
    sources = _archive_sources()
    name = sources.c.source
    latest = (
        select(func.max(raw_messages.c.received_at))
        .where(raw_messages.c.source == name)
        .scalar_subquery()
    )
    asked = name.in_(bindparam("sources", expanding=True))
    return select(name, latest.label("received_at")).where(asked)


LAST_RECEIVED = _last_received()
"""When the raw archive last stored a message from each of ``sources`` that has one: a
step of the index on source and arrival for each source of the archive, and one more for
each source asked, however many messages each holds (the plain reads run it too:
hub.store.plain_sql)."""


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
