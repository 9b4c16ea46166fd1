"""The connector runs aggregate: a run record per run of a connector, the replay mark
that tells a replay from the connector's own runs, and the rejects each run kept.

hub.partners.runs opens and closes runs (each in its own transaction, so a run that
crashes still shows up); hub.partners.alerts counts failures in a row from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import ReturningInsert

from hub.errors import NextAction, PartnerDataError
from hub.store.run_rows import ReplayMark, RunCounts, RunOutcome, RunRecord, run_record
from hub.store.tables import connector_leases, connector_runs, rejects, replays
from hub.store.types import aware
from hub.store.upsert import dialect_insert

__all__ = [
    "CONSECUTIVE_FAILURES",
    "OpenRun",
    "ReplayMark",
    "RunCounts",
    "RunOutcome",
    "RunRecord",
    "add_to_run",
    "close_abandoned_run",
    "close_run",
    "consecutive_failures",
    "failures_in_a_row_of",
    "last_failure",
    "open_own_runs",
    "open_run",
    "own_runs",
    "push_window_run",
    "record_rejects",
    "run_by_id",
    "run_record",
]


def open_run(
    connection: Connection, connector: str, started_at: datetime, replay: ReplayMark | None
) -> int:
    """A new ``running`` record, with the replay's mark in the same transaction, so a
    replay is never taken for one of the connector's own runs."""
    run_id: int = connection.execute(
        connector_runs.insert().returning(connector_runs.c.id),
        {"connector": connector, "started_at": started_at, "outcome": RunOutcome.RUNNING.value},
    ).scalar_one()
    if replay is not None:
        connection.execute(
            replays.insert(),
            {
                "run_id": run_id,
                "message_id": replay.message_id,
                "since": replay.since,
                "requested_by": replay.requested_by,
            },
        )
    return run_id


def close_run(
    connection: Connection,
    run_id: int,
    counts: RunCounts,
    *,
    outcome: RunOutcome,
    error_action: str | None,
    error_message: str | None,
    finished_at: datetime,
) -> None:
    """Write how the run ended and what it counted."""
    connection.execute(
        update(connector_runs)
        .where(connector_runs.c.id == run_id)
        .values(
            finished_at=finished_at,
            outcome=outcome.value,
            error_action=error_action,
            error_message=error_message,
            **vars(counts),
        )
    )


@dataclass(frozen=True)
class OpenRun:
    """A run record still marked running, and when the connector's next own run began
    (None when it is the latest): that run took the lease, so this one had stopped."""

    id: int
    started_at: datetime
    next_started_at: datetime | None


def own_runs(runs: Any = connector_runs) -> ColumnElement[bool]:
    """The condition for a connector's own runs (of ``runs``, the table or an alias of
    it): replays are not counted as its health."""
    return ~exists().where(replays.c.run_id == runs.c.id).correlate_except(replays)


def _leased_runs(runs: Any) -> ColumnElement[bool]:
    """The connector's own runs opened under its lease: neither a replay (which holds no
    lease) nor an hour of pushes (closed as it is written)."""
    return and_(runs.c.push_window.is_(None), own_runs(runs))


def _open_own_runs() -> Select[Any]:
    runs = connector_runs.c
    later = connector_runs.alias("later")
    next_started = (
        select(func.min(later.c.started_at))
        .where(
            later.c.connector == runs.connector,
            later.c.started_at > runs.started_at,
            _leased_runs(later),
        )
        .scalar_subquery()
    )
    return (
        select(runs.id, runs.started_at, next_started.label("next"))
        .where(
            runs.connector == bindparam("connector", type_=String),
            # A literal, as the partial index states it: the planners (SQLite's above
            # all) only take an index whose predicate the query repeats word for word.
            runs.outcome == literal_column(f"'{RunOutcome.RUNNING.value}'"),
            runs.started_at < bindparam("before", type_=connector_runs.c.started_at.type),
            _leased_runs(connector_runs),
        )
        .order_by(runs.started_at, runs.id)
    )


_OPEN_OWN_RUNS = _open_own_runs()
"""Built once: a claim won runs it, most often to find nothing (issue 17)."""


def open_own_runs(connection: Connection, connector: str, *, before: datetime) -> list[OpenRun]:
    """The connector's leased runs still marked running that began before ``before``,
    oldest first; found through the index of open runs, whatever the history's length."""
    rows = connection.execute(_OPEN_OWN_RUNS, {"connector": connector, "before": before}).all()
    return [
        OpenRun(row.id, row.started_at, None if row.next is None else aware(row.next))
        for row in rows
    ]


def close_abandoned_run(
    connection: Connection, run_id: int, *, finished_at: datetime, error_message: str
) -> bool:
    """Mark a run whose process stopped as failed, unless it is closed already (then
    False: two claims never close it twice, and a run that did end keeps its end)."""
    closed = connection.execute(
        update(connector_runs)
        .where(
            connector_runs.c.id == run_id,
            connector_runs.c.outcome == RunOutcome.RUNNING.value,
        )
        .values(
            finished_at=finished_at,
            outcome=RunOutcome.FAILED.value,
            error_action=NextAction.RETRY.value,
            error_message=error_message,
        )
    )
    return closed.rowcount == 1


def push_window_run(connection: Connection, connector: str, window: datetime, now: datetime) -> int:
    """The record of the connector's pushes of the hour that starts at ``window``, with
    this push counted as seen: opened by the hour's first push, found by the others, in
    one statement (the unique index on connector and window makes two pushes of the same
    hour processed at once find one record, never open two)."""
    statement = _window_upsert(connection.dialect.name)
    run_id: int = connection.execute(
        statement,
        {
            "connector": connector,
            "push_window": window,
            "started_at": now,
            "finished_at": now,
            "outcome": RunOutcome.SUCCEEDED.value,
            "messages_seen": 1,
        },
    ).scalar_one()
    return run_id


@cache
def _window_upsert(dialect: str) -> ReturningInsert[Any]:
    """Insert the window's record, or count one more push in it; built once per database
    kind."""
    statement = dialect_insert(dialect, connector_runs)
    return statement.on_conflict_do_update(
        index_elements=[connector_runs.c.connector, connector_runs.c.push_window],
        set_={
            "messages_seen": connector_runs.c.messages_seen + 1,
            "finished_at": statement.excluded.finished_at,
        },
    ).returning(connector_runs.c.id)


def add_to_run(
    connection: Connection, run_id: int, counts: RunCounts, finished_at: datetime
) -> None:
    """Add what one more message gave to a record that sums many (an hour of pushes), in
    the transaction that stored it: the record never counts what was rolled back."""
    columns = connector_runs.c
    connection.execute(
        update(connector_runs)
        .where(columns.id == run_id)
        .values(
            finished_at=finished_at,
            **{name: columns[name] + value for name, value in vars(counts).items() if value},
        )
    )


def run_by_id(connection: Connection, run_id: int) -> RunRecord:
    row = connection.execute(select(connector_runs).where(connector_runs.c.id == run_id)).one()
    return run_record(row)


def record_rejects(
    connection: Connection,
    connector: str,
    problems: Sequence[PartnerDataError],
    *,
    run_id: int | None,
    message_id: int | None,
    now: datetime,
) -> None:
    """Keep each rejected record with where, why and its raw text, for the operator."""
    if not problems:
        return
    connection.execute(
        rejects.insert(),
        [
            {
                "run_id": run_id,
                "connector": connector,
                "message_id": message_id,
                "source": problem.location.source,
                "line": problem.location.line,
                "field": problem.location.field,
                "reason": problem.reason,
                "raw": problem.raw,
                "created_at": now,
            }
            for problem in problems
        ],
    )


def failures_in_a_row_of(connector: ColumnElement[Any]) -> Select[Any]:
    """The count of failed own runs of ``connector`` since its last success and its last
    resume: a bind for one connector (`CONSECUTIVE_FAILURES`), or a column of an
    enclosing statement for each of its rows (the status's, hub.store.run_history); each
    table under a name of its own, so that only ``connector`` is taken from outside."""
    failed = connector_runs.alias("failed_runs")
    succeeded = connector_runs.alias("succeeded_runs")
    first = connector_runs.alias("first_runs")
    last_success = (  # the newest first, so that the index finds it without the history
        select(succeeded.c.started_at)
        .where(
            succeeded.c.connector == connector,
            succeeded.c.outcome == RunOutcome.SUCCEEDED.value,
            own_runs(succeeded),
        )
        .order_by(succeeded.c.started_at.desc())
        .limit(literal_column("1"))
        .correlate_except(succeeded)
        .scalar_subquery()
    )
    first_start = (
        select(func.min(first.c.started_at))
        .where(first.c.connector == connector)
        .correlate_except(first)
        .scalar_subquery()
    )
    reset_at = (
        select(connector_leases.c.failures_reset_at)
        .where(connector_leases.c.connector == connector)
        .correlate_except(connector_leases)
        .scalar_subquery()
    )
    return (
        select(func.count())
        .select_from(failed)
        .where(
            failed.c.connector == connector,
            # The runs since the last success as a range of the index on connector and
            # start (the conditions below say exactly which count; an OR takes no range).
            failed.c.started_at >= func.coalesce(last_success, first_start),
            failed.c.outcome == RunOutcome.FAILED.value,
            own_runs(failed),
            or_(last_success.is_(None), failed.c.started_at > last_success),
            or_(reset_at.is_(None), failed.c.started_at >= reset_at),
        )
        .correlate_except(failed)
    )


CONSECUTIVE_FAILURES = failures_in_a_row_of(bindparam("connector", type_=String))
"""Failed own runs of ``connector`` since its last success and its last resume (alerting
asks it after each run; the status counts every connector's at once: hub.store.run_history)."""


def consecutive_failures(connection: Connection, connector: str) -> int:
    """Failed runs since the last success and since the last resume, replays left out."""
    count = connection.execute(CONSECUTIVE_FAILURES, {"connector": connector}).scalar_one()
    return int(count)


def last_failure(connection: Connection, connector: str) -> tuple[str | None, str | None]:
    """The error text and what to do next (its class, as NextAction) of the connector's
    latest failed run, replays included: the text for the pause reason an operator reads,
    the class for the logs, since the text may quote a partner's data."""
    row = connection.execute(
        select(connector_runs.c.error_message, connector_runs.c.error_action)
        .where(
            connector_runs.c.connector == connector,
            connector_runs.c.outcome == RunOutcome.FAILED.value,
        )
        .order_by(connector_runs.c.started_at.desc(), connector_runs.c.id.desc())
        .limit(1)
    ).one_or_none()
    return (None, None) if row is None else (row.error_message, row.error_action)
