"""Counts over whole tables (parties, cases, events, raw messages, runs, rejects, the
outbox): the figures of the operators' overview and of Prometheus.

Each function is one query; callers read the ones they show in one transaction, so the
figures agree with each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from hub.store.tables import cases, connector_runs, events, outbox, parties, raw_messages, rejects


@dataclass(frozen=True)
class EventCounts:
    stored: int
    unmapped: int
    """Stored with a code no mapping knew at the time."""
    orphans: int
    """Without a case."""


def parties_by_role(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(parties.c.role, func.count()).group_by(parties.c.role))
    return {str(role): int(count) for role, count in rows}


def cases_by_status(connection: Connection) -> dict[str | None, int]:
    """None counts the cases with no status yet."""
    rows = connection.execute(select(cases.c.status, func.count()).group_by(cases.c.status))
    return {status: int(count) for status, count in rows}


def event_counts(connection: Connection) -> EventCounts:
    stored, unmapped, orphans = connection.execute(
        select(
            func.count(),
            func.count().filter(events.c.unmapped.is_(True)),
            func.count().filter(events.c.case_id.is_(None)),
        ).select_from(events)
    ).one()
    return EventCounts(int(stored), int(unmapped), int(orphans))


def raw_message_count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(raw_messages)).scalar_one())


def outbox_by_state(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))
    return {str(state): int(count) for state, count in rows}


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
