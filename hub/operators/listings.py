"""What operators list: connector names, a connector's runs and rejected records, and the
partner codes no mapping knows yet. Each call reads in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from hub.config.network import NetworkConfig
from hub.errors import NotFoundError
from hub.partners.runs import RunRecord, run_record
from hub.store.db import Database
from hub.store.tables import connector_runs, events, rejects
from hub.store.tables import replays as replays_table

__all__ = [
    "REMAPPED_SUFFIX",
    "Reject",
    "UnmappedCode",
    "aware",
    "known_names",
    "newest_first",
    "recent_rejects",
    "recent_runs",
    "remapped_id",
    "replay_run_ids",
    "require_known",
    "still_unmapped",
    "unmapped_codes",
]

REMAPPED_SUFFIX = "#remapped"
"""An event first stored unmapped and stored again mapped by a replay gets the first id
with this suffix (the first is a fact too, and is never changed): see hub.partners.replay."""


def remapped_id(event_id: str) -> str:
    return event_id + REMAPPED_SUFFIX


@dataclass(frozen=True)
class Reject:
    """A rejected record, with where it was, why, and its raw text."""

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


@dataclass(frozen=True)
class UnmappedCode:
    """A partner code no mapping table knows (yet), as the events carry it."""

    reported_by: str
    event_type: str
    raw_code: str | None
    raw_label: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    example_case_ref: str | None


# --- names ----------------------------------------------------------------------------


def known_names(config: NetworkConfig) -> list[str]:
    """Every connector and drop folder name, in the order of connectors.yaml."""
    return [spec.name for spec in config.connectors] + [d.name for d in config.case_imports]


def require_known(config: NetworkConfig, name: str) -> None:
    """A clear error for a name connectors.yaml does not have, listing those it does."""
    names = known_names(config)
    if name not in names:
        raise NotFoundError(f"no connector named {name!r} (known: {', '.join(names) or 'none'})")


# --- reading runs ---------------------------------------------------------------------


def newest_first(statement: Any) -> Any:
    """Runs in the order operators read them: the latest first."""
    return statement.order_by(connector_runs.c.started_at.desc(), connector_runs.c.id.desc())


def recent_runs(database: Database, connector: str, limit: int = 50) -> list[RunRecord]:
    """The connector's runs, newest first, replays included."""
    with database.transaction() as connection:
        rows = connection.execute(
            newest_first(
                select(connector_runs).where(connector_runs.c.connector == connector)
            ).limit(limit)
        ).all()
    return [run_record(row) for row in rows]


def replay_run_ids(database: Database, run_ids: list[int]) -> set[int]:
    """Which of these runs were replays."""
    if not run_ids:
        return set()
    with database.transaction() as connection:
        found = connection.execute(
            select(replays_table.c.run_id).where(replays_table.c.run_id.in_(run_ids))
        ).scalars()
        return {int(run_id) for run_id in found}


def recent_rejects(database: Database, connector: str, *, limit: int = 100) -> list[Reject]:
    """The connector's rejected records, newest first."""
    with database.transaction() as connection:
        rows = connection.execute(
            select(rejects)
            .where(rejects.c.connector == connector)
            .order_by(rejects.c.created_at.desc(), rejects.c.id.desc())
            .limit(limit)
        ).all()
    return [
        Reject(
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
        for row in rows
    ]


def still_unmapped() -> Any:
    """Unmapped events no replay has stored again mapped."""
    later = events.alias("remapped")
    fixed = (
        select(later.c.seq).where(later.c.event_id == events.c.event_id + REMAPPED_SUFFIX).exists()
    )
    return events.c.unmapped & ~fixed


def unmapped_codes(database: Database) -> list[UnmappedCode]:
    """Codes to add to a mapping, by reporting party and raw code, most frequent first."""
    statement = (
        select(
            events.c.reported_by,
            events.c.type,
            events.c.raw_code,
            func.max(events.c.raw_label).label("raw_label"),
            func.count().label("occurrences"),
            func.min(events.c.recorded_at).label("first_seen"),
            func.max(events.c.recorded_at).label("last_seen"),
            func.max(func.coalesce(events.c.case_ref, events.c.partner_ref)).label("example"),
        )
        .where(still_unmapped())
        .group_by(events.c.reported_by, events.c.type, events.c.raw_code)
        .order_by(func.count().desc(), events.c.reported_by, events.c.raw_code)
    )
    with database.transaction() as connection:
        rows = connection.execute(statement).all()
    return [
        UnmappedCode(
            reported_by=row.reported_by,
            event_type=row.type,
            raw_code=row.raw_code,
            raw_label=row.raw_label,
            count=int(row.occurrences),
            first_seen=aware(row.first_seen),
            last_seen=aware(row.last_seen),
            example_case_ref=row.example,
        )
        for row in rows
    ]


def aware(value: Any) -> datetime:
    """Aggregates bypass the column type on SQLite: give text and naive values back in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
