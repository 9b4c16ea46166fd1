"""The connector lease aggregate: one ``connector_leases`` row per connector (and per
hub-wide job) saying who runs it and until when, how long it backs off and after how
many failures in a row, and whether (and why, and by whom) it is paused.

Claims are compare-and-set: one conditional ``UPDATE`` that only one process can win,
whatever the database's isolation; it also names the owner and the lease's end it read,
so that the winner knows whose lease it took over (hub.partners.leases closes the run
that owner left open, in the claim's transaction). hub.partners.leases decides the
lease's length and the backoff, hub.partners.alerts when to pause; this module only
reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, Update, bindparam, or_, select, update

from hub.store.tables import connector_leases
from hub.store.upsert import insert_ignoring_conflicts

__all__ = [
    "Claimed",
    "PauseState",
    "claim",
    "end_lapsed_lease",
    "ensure_row",
    "failures_in_a_row",
    "give_back",
    "pause",
    "pause_state",
    "release",
    "renew",
    "resume",
]


@dataclass(frozen=True)
class PauseState:
    paused_at: datetime
    reason: str
    by: str


def ensure_row(connection: Connection, connector: str) -> None:
    """The connector's row, free and with no failures, unless it exists already."""
    connection.execute(
        insert_ignoring_conflicts(connection, connector_leases, "connector"),
        {"connector": connector, "failures": 0},
    )


@dataclass(frozen=True)
class Claimed:
    """What a won claim found on the row: the owner and the end of its lease, both None
    when the row was free (released, or never taken). An owner here is one that stopped
    renewing and never released: its lease ran out at ``previous_until``."""

    previous_owner: str | None
    previous_until: datetime | None
    won: bool = True
    """False: the connector is paused, so nothing took it; the call only cleared from the
    row an owner whose lease had run out (`end_lapsed_lease`)."""


_CLAIM_READ = select(
    connector_leases.c.owner,
    connector_leases.c.lease_until,
    connector_leases.c.paused_at,
    connector_leases.c.not_before,
).where(connector_leases.c.connector == bindparam("connector", type_=String))


@cache
def _claim_write(was_free: bool, had_until: bool, ignore_backoff: bool) -> Update:
    """The compare-and-set of a claim on what the read found; built once per shape."""
    columns = connector_leases.c
    instant = columns.lease_until.type
    conditions: list[ColumnElement[bool]] = [
        columns.connector == bindparam("row", type_=String),
        columns.paused_at.is_(None),
        columns.owner.is_(None) if was_free else columns.owner == bindparam("was", type_=String),
        columns.lease_until == bindparam("was_until", type_=instant)
        if had_until
        else columns.lease_until.is_(None),
    ]
    if not ignore_backoff:
        now = bindparam("now", type_=instant)
        conditions.append(or_(columns.not_before.is_(None), columns.not_before <= now))
    return (
        update(connector_leases)
        .where(*conditions)
        .values(
            owner=bindparam("taker", type_=String),
            lease_until=bindparam("taken_until", type_=instant),
        )
    )


def claim(
    connection: Connection,
    connector: str,
    owner: str,
    *,
    now: datetime,
    until: datetime,
    ignore_backoff: bool,
) -> Claimed | None:
    """Take the row for ``owner`` unless it is held, paused or (unless ignored) backing
    off at ``now``; what the row held before when this call won it, None when it did not
    (the first claim creates the row). A paused row is not taken, but an owner whose lease
    ran out is cleared from it (`end_lapsed_lease`: ``won`` False), so that its runs are
    closed without waiting for the resume.

    The row is read first, and the ``UPDATE`` only wins if owner and lease end are still
    what was read (and it is not paused or backing off by then): the winner knows exactly
    whose expired lease it took, even when another claim or a release came between the
    read and the write. A row the read finds held, paused or backing off is not written
    (but a paused one's lapsed owner, once).
    """
    row = connection.execute(_CLAIM_READ, {"connector": connector}).one_or_none()
    previous_owner: str | None = None
    previous_until: datetime | None = None
    if row is None:
        ensure_row(connection, connector)
    else:
        if row.paused_at is not None:  # not taken; a stopped owner's lease ended, though
            return _ended_if_lapsed(connection, connector, row, now)
        if row.lease_until is not None and row.lease_until >= now:
            return None
        if not ignore_backoff and row.not_before is not None and row.not_before > now:
            return None
        previous_owner = row.owner
        previous_until = row.lease_until
    statement = _claim_write(previous_owner is None, previous_until is not None, ignore_backoff)
    values: dict[str, object] = {"row": connector, "taker": owner, "taken_until": until}
    if previous_owner is not None:
        values["was"] = previous_owner
    if previous_until is not None:
        values["was_until"] = previous_until
    if not ignore_backoff:
        values["now"] = now
    taken = connection.execute(statement, values)
    if taken.rowcount != 1:
        return None
    return Claimed(previous_owner, previous_until)


_END_LAPSED = (
    update(connector_leases)
    .where(
        connector_leases.c.connector == bindparam("row", type_=String),
        connector_leases.c.owner == bindparam("was", type_=String),
        connector_leases.c.lease_until
        == bindparam("was_until", type_=connector_leases.c.lease_until.type),
    )
    .values(owner=None, lease_until=None)
)


def end_lapsed_lease(connection: Connection, connector: str, *, now: datetime) -> Claimed | None:
    """Clear from the row an owner whose lease ran out before ``now`` without being
    released: it stopped (a live owner renews its lease long before its end). What the
    row held (``won`` False: nothing took the connector), or None when no owner, a live
    one, or the row changed since it was read: compare-and-set on the owner and lease
    end read, as a claim, so that only the call that ended it closes its runs."""
    row = connection.execute(_CLAIM_READ, {"connector": connector}).one_or_none()
    return None if row is None else _ended_if_lapsed(connection, connector, row, now)


def _ended_if_lapsed(
    connection: Connection, connector: str, row: Any, now: datetime
) -> Claimed | None:
    if row.owner is None or row.lease_until is None or row.lease_until >= now:
        return None
    values = {"row": connector, "was": row.owner, "was_until": row.lease_until}
    if connection.execute(_END_LAPSED, values).rowcount != 1:
        return None
    return Claimed(row.owner, row.lease_until, won=False)


def renew(connection: Connection, connector: str, owner: str, *, until: datetime) -> bool:
    """Push the lease to ``until``; False when ``owner`` no longer holds it."""
    renewed = connection.execute(
        update(connector_leases)
        .where(connector_leases.c.connector == connector, connector_leases.c.owner == owner)
        .values(lease_until=until)
    )
    return renewed.rowcount == 1


def failures_in_a_row(connection: Connection, connector: str) -> int:
    """The failures counted on the row; the row must exist (a lease was taken)."""
    return int(
        connection.execute(
            select(connector_leases.c.failures).where(connector_leases.c.connector == connector)
        ).scalar_one()
    )


def release(
    connection: Connection,
    connector: str,
    owner: str,
    *,
    failures: int,
    not_before: datetime | None,
) -> None:
    """Free the row if ``owner`` holds it, with its failures in a row and backoff."""
    connection.execute(
        update(connector_leases)
        .where(connector_leases.c.connector == connector, connector_leases.c.owner == owner)
        .values(owner=None, lease_until=None, failures=failures, not_before=not_before)
    )


def give_back(connection: Connection, connector: str, owner: str) -> None:
    """Free the row if ``owner`` holds it, its failures and backoff untouched."""
    connection.execute(
        update(connector_leases)
        .where(connector_leases.c.connector == connector, connector_leases.c.owner == owner)
        .values(owner=None, lease_until=None)
    )


def pause(connection: Connection, connector: str, *, reason: str, by: str, at: datetime) -> None:
    """Pause the connector unless it is paused already (the first reason stays)."""
    ensure_row(connection, connector)
    connection.execute(
        update(connector_leases)
        .where(connector_leases.c.connector == connector, connector_leases.c.paused_at.is_(None))
        .values(paused_at=at, paused_reason=reason, paused_by=by)
    )


def resume(connection: Connection, connector: str, *, at: datetime) -> bool:
    """Clear the pause, the backoff and the failures in a row, and count failures in a
    row again from ``at``; False when the connector was not paused."""
    ensure_row(connection, connector)
    resumed = connection.execute(
        update(connector_leases)
        .where(connector_leases.c.connector == connector)
        .where(connector_leases.c.paused_at.is_not(None))
        .values(
            paused_at=None,
            paused_reason=None,
            paused_by=None,
            failures=0,
            not_before=None,
            failures_reset_at=at,
        )
    )
    return resumed.rowcount == 1


def pause_state(connection: Connection, connector: str) -> PauseState | None:
    """Why and since when the connector is paused, or None when it is not."""
    row = connection.execute(
        select(
            connector_leases.c.paused_at,
            connector_leases.c.paused_reason,
            connector_leases.c.paused_by,
        ).where(
            connector_leases.c.connector == connector,
            connector_leases.c.paused_at.is_not(None),
        )
    ).one_or_none()
    if row is None:
        return None
    return PauseState(row.paused_at, row.paused_reason or "", row.paused_by or "")
