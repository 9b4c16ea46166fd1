"""Counts over whole tables (parties, cases, events, raw messages, runs, rejects, the
outbox): the figures of the operators' overview and of Prometheus.

Each function is one query; callers read the ones they show in one transaction, so the
figures agree with each other.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from hub.store.figure_rows import EventCounts, counts_by_name, counts_by_status, event_counts_of
from hub.store.tables import cases, connector_runs, events, outbox, parties, raw_messages, rejects

PARTIES_BY_ROLE = select(parties.c.role, func.count()).group_by(parties.c.role)
CASES_BY_STATUS = select(cases.c.status, func.count()).group_by(cases.c.status)
EVENT_COUNTS = select(
    func.count(),
    func.count().filter(events.c.unmapped.is_(True)),
    func.count().filter(events.c.case_id.is_(None)),
).select_from(events)
RAW_MESSAGE_COUNT = select(func.count()).select_from(raw_messages)
OUTBOX_BY_STATE = select(outbox.c.state, func.count()).group_by(outbox.c.state)
"""The overview's statements (the plain reads run them too: hub.store.plain_sql); their
rows are read by hub.store.figure_rows."""


def parties_by_role(connection: Connection) -> dict[str, int]:
    return counts_by_name(connection.execute(PARTIES_BY_ROLE))


def cases_by_status(connection: Connection) -> dict[str | None, int]:
    """None counts the cases with no status yet."""
    return counts_by_status(connection.execute(CASES_BY_STATUS))


def event_counts(connection: Connection) -> EventCounts:
    return event_counts_of(connection.execute(EVENT_COUNTS).one())


def raw_message_count(connection: Connection) -> int:
    return int(connection.execute(RAW_MESSAGE_COUNT).scalar_one())


def outbox_by_state(connection: Connection) -> dict[str, int]:
    return counts_by_name(connection.execute(OUTBOX_BY_STATE))


def outbox_by_target(connection: Connection, state: str) -> dict[str, int]:
    """Messages in this state, per target."""
    rows = connection.execute(
        select(outbox.c.target, func.count())
        .where(outbox.c.state == state)
        .group_by(outbox.c.target)
    )
    return {str(target): int(count) for target, count in rows}


def runs_by_outcome(connection: Connection) -> dict[tuple[str, str], int]:
    """(connector, outcome) -> runs, running ones included."""
    rows = connection.execute(
        select(connector_runs.c.connector, connector_runs.c.outcome, func.count()).group_by(
            connector_runs.c.connector, connector_runs.c.outcome
        )
    )
    return {(str(connector), str(outcome)): int(count) for connector, outcome, count in rows}


def rejects_by_connector(connection: Connection) -> dict[str, int]:
    rows = connection.execute(
        select(rejects.c.connector, func.count()).group_by(rejects.c.connector)
    )
    return {str(connector): int(count) for connector, count in rows}
