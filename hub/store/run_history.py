"""The connector runs aggregate, as operators read it back: a connector's runs newest
first, which of them were replays, and its last own run.

Rows come back as stored (every ``connector_runs`` column); hub.partners.runs, which
writes them, turns them into ``RunRecord``. A replay (``hub replay``) is a run too, but
not one of the connector's own: its health counts only the runs without a ``replays``
row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    select,
)

from hub.store.id_pages import id_page
from hub.store.runs import RunOutcome, failures_in_a_row_of, own_runs
from hub.store.skip_scan import distinct_values
from hub.store.tables import connector_runs, replays

__all__ = [
    "OWN_RUN_SUMMARIES",
    "REPLAY_RUN_IDS",
    "RUNS_OF",
    "RunPage",
    "RunsShown",
    "empty_polls",
    "own_run_summaries",
    "replay_run_ids",
    "run_page",
    "run_totals_since",
    "runs_of",
]


def _newest_first(statement: Select[Any]) -> Select[Any]:
    """Runs in the order operators read them: the latest first."""
    return statement.order_by(connector_runs.c.started_at.desc(), connector_runs.c.id.desc())


RUNS_OF = _newest_first(
    select(connector_runs).where(connector_runs.c.connector == bindparam("connector", type_=String))
).limit(bindparam("limit", type_=Integer))
"""A connector's runs, newest first, replays included (the plain reads run it too:
hub.store.plain_sql)."""


def runs_of(connection: Connection, connector: str, *, limit: int) -> Sequence[Row[Any]]:
    """The connector's runs, newest first, replays included."""
    return connection.execute(RUNS_OF, {"connector": connector, "limit": limit}).all()


def _connectors_with_runs() -> CTE:
    """Every connector that has runs, found one index step each, not by reading the
    runs: a history of any length costs the status a step per connector."""
    return distinct_values(connector_runs.c.connector, "run_connectors")


def _latest_own(column: Any, connector: ColumnElement[Any], *, outcome: str | None) -> Any:
    """``column`` of the connector's latest own run (or latest that ended with
    ``outcome``), through the index on connector and start, newest first."""
    statement = select(column).where(connector_runs.c.connector == connector, own_runs())
    if outcome is not None:
        statement = statement.where(connector_runs.c.outcome == outcome)
    # A literal limit: SQLite adds an OFFSET bind to each LIMIT and PostgreSQL none, so
    # numbered binds would name other values on each (hub.store.plain_statements).
    return _newest_first(statement).limit(literal_column("1")).scalar_subquery()


def _own_run_summaries() -> Select[Any]:
    connectors = _connectors_with_runs()
    name = connectors.c.connector
    summary = (
        select(
            _latest_own(connector_runs.c.id, name, outcome=None).label("run_id"),
            _latest_own(
                connector_runs.c.finished_at, name, outcome=RunOutcome.SUCCEEDED.value
            ).label("last_success_at"),
            failures_in_a_row_of(name).scalar_subquery().label("failures_in_a_row"),
        )
        .where(name.in_(bindparam("connectors", expanding=True)))
        .subquery("summary")
    )
    return select(connector_runs, summary.c.last_success_at, summary.c.failures_in_a_row).join_from(
        summary, connector_runs, connector_runs.c.id == summary.c.run_id
    )


OWN_RUN_SUMMARIES = _own_run_summaries()
"""For each of ``connectors`` that has own runs: its latest own run (every column), when
its latest successful one ended, and its failed runs in a row, in one statement whatever
the number of connectors (the plain reads run it too: hub.store.plain_sql)."""


def own_run_summaries(connection: Connection, connectors: Sequence[str]) -> Sequence[Row[Any]]:
    """`OWN_RUN_SUMMARIES`' rows: none for a connector without own runs."""
    if not connectors:
        return []
    return connection.execute(OWN_RUN_SUMMARIES, {"connectors": list(connectors)}).all()


REPLAY_RUN_IDS = select(replays.c.run_id).where(
    replays.c.run_id.in_(bindparam("run_ids", expanding=True))
)
"""Which of ``run_ids`` were replays."""


def replay_run_ids(connection: Connection, run_ids: Sequence[int]) -> set[int]:
    """Which of these runs were replays."""
    if not run_ids:
        return set()
    found = connection.execute(REPLAY_RUN_IDS, {"run_ids": list(run_ids)}).scalars()
    return {int(run_id) for run_id in found}


# --- the console's runs list ------------------------------------------------------------


class RunsShown(StrEnum):
    """Which runs a list shows: by default every run but the empty polls, which would
    bury the one that mattered."""

    WORK = "work"
    """Runs that read something, rejected something or failed."""
    ALL = "all"
    REJECTS = "rejects"
    """Runs that rejected records (whatever their outcome)."""
    FAILED = "failed"
    REPLAYS = "replays"


def empty_poll() -> ColumnElement[bool]:
    """A run that succeeded and found nothing new: no message read, nothing stored or
    rejected."""
    return and_(
        connector_runs.c.outcome == RunOutcome.SUCCEEDED.value,
        connector_runs.c.messages_read == 0,
        connector_runs.c.events_stored == 0,
        connector_runs.c.rejected == 0,
    )


def _shown(shown: RunsShown) -> ColumnElement[bool] | None:
    if shown is RunsShown.WORK:
        return ~empty_poll()
    if shown is RunsShown.REJECTS:
        return connector_runs.c.rejected > 0
    if shown is RunsShown.FAILED:
        return connector_runs.c.outcome == RunOutcome.FAILED.value
    if shown is RunsShown.REPLAYS:
        return exists().where(replays.c.run_id == connector_runs.c.id)
    return None


def _run_conditions(connector: str | None, shown: RunsShown) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if connector:
        conditions.append(connector_runs.c.connector == connector)
    kept = _shown(shown)
    if kept is not None:
        conditions.append(kept)
    return conditions


@dataclass(frozen=True)
class RunPage:
    """A page of runs, newest first, with the keys of the pages around it (None: none)."""

    rows: Sequence[Row[Any]]
    newer: int | None
    older: int | None


def run_page(
    connection: Connection,
    *,
    connector: str | None,
    shown: RunsShown,
    count: int,
    before: int | None = None,
    after: int | None = None,
) -> RunPage:
    """Runs newest first by id (the order they were opened in, which never changes), the
    page after run ``before`` or before run ``after``."""
    conditions = _run_conditions(connector, shown)
    page = id_page(connection, connector_runs, conditions, count, before=before, after=after)
    ids = [row.id for row in page.rows]
    return RunPage(page.rows, newer=page.newer(ids), older=page.older(ids))


def empty_polls(connection: Connection, connector: str | None) -> int:
    """How many runs found nothing new (what the default list leaves out)."""
    statement = select(func.count()).select_from(connector_runs).where(empty_poll())
    if connector:
        statement = statement.where(connector_runs.c.connector == connector)
    return int(connection.execute(statement).scalar_one())


@dataclass(frozen=True)
class RunTotals:
    """What a connector's own runs added up to over a window."""

    runs: int = 0
    failed: int = 0
    records_read: int = 0
    events_stored: int = 0
    rejected: int = 0
    unmapped: int = 0


def run_totals_since(connection: Connection, since: datetime) -> dict[str, RunTotals]:
    """Each connector's own runs started at or after ``since``, added up (replays left
    out: they read again what a run already counted)."""
    failed = func.sum(case((connector_runs.c.outcome == RunOutcome.FAILED.value, 1), else_=0))
    rows = connection.execute(
        select(
            connector_runs.c.connector,
            func.count(),
            failed,
            func.sum(connector_runs.c.records_read),
            func.sum(connector_runs.c.events_stored),
            func.sum(connector_runs.c.rejected),
            func.sum(connector_runs.c.unmapped),
        )
        .where(connector_runs.c.started_at >= since, own_runs())
        .group_by(connector_runs.c.connector)
    ).all()
    return {str(row[0]): RunTotals(*(int(value or 0) for value in row[1:])) for row in rows}
