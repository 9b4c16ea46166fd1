"""The connector runs aggregate, as operators read it back: a connector's runs newest
first, which of them were replays, and its last own run.

Rows come back as stored (every ``connector_runs`` column); hub.partners.runs, which
writes them, turns them into ``RunRecord``. A replay (``hub replay``) is a run too, but
not one of the connector's own: its health counts only the runs without a ``replays``
row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, select

from hub.store.runs import own_runs
from hub.store.tables import connector_runs, replays

__all__ = ["last_own_run", "replay_run_ids", "runs_of"]


def _newest_first(statement: Select[Any]) -> Select[Any]:
    """Runs in the order operators read them: the latest first."""
    return statement.order_by(connector_runs.c.started_at.desc(), connector_runs.c.id.desc())


def runs_of(connection: Connection, connector: str, *, limit: int) -> Sequence[Row[Any]]:
    """The connector's runs, newest first, replays included."""
    statement = select(connector_runs).where(connector_runs.c.connector == connector)
    return connection.execute(_newest_first(statement).limit(limit)).all()


def last_own_run(
    connection: Connection, connector: str, *, outcome: str | None = None
) -> Row[Any] | None:
    """The connector's latest own run, or its latest own run that ended so."""
    statement = select(connector_runs).where(connector_runs.c.connector == connector, own_runs())
    if outcome is not None:
        statement = statement.where(connector_runs.c.outcome == outcome)
    return connection.execute(_newest_first(statement).limit(1)).first()


def replay_run_ids(connection: Connection, run_ids: Sequence[int]) -> set[int]:
    """Which of these runs were replays."""
    if not run_ids:
        return set()
    found = connection.execute(
        select(replays.c.run_id).where(replays.c.run_id.in_(run_ids))
    ).scalars()
    return {int(run_id) for run_id in found}
