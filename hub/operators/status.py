"""The network's health, read from the store: what the CLI, the console and /metrics show.

Everything here only reads, in one transaction per call, so that the figures of one
answer agree with each other, and every hub process sharing the database tells the same
story. A connector's health counts its own runs only: a replay (``hub replay``) shows in
its runs but neither clears nor adds a failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Connection, func, select

from hub.config.connector_spec import HttpPushTransportSpec, ScheduleSpec, parse_duration
from hub.config.network import NetworkConfig
from hub.errors import ConfigurationError, NotFoundError
from hub.mapping.loader import load_mapping
from hub.mapping.spec import InboundSpec
from hub.partners.alerts import AlertingSpec, consecutive_failures, flags_for, own_runs
from hub.partners.connectors import Network
from hub.partners.runs import RunCounts, RunOutcome, RunRecord, run_record
from hub.store.db import Database
from hub.store.tables import connector_leases, connector_runs, events, outbox, raw_messages, rejects
from hub.store.tables import replays as replays_table
from hub.sync.outbox import OutboxState

Direction = Literal["in", "out", "push", "import"]

REMAPPED_SUFFIX = "#remapped"
"""An event first stored unmapped and stored again mapped by a replay gets the first id
with this suffix (the first is a fact too, and is never changed): see hub.partners.replay."""


def remapped_id(event_id: str) -> str:
    return event_id + REMAPPED_SUFFIX


class ConnectorState(StrEnum):
    OK = "ok"
    FAILING = "failing"
    PAUSED = "paused"
    BACKING_OFF = "backing_off"
    NEVER_RUN = "never_run"
    DISABLED = "disabled"


@dataclass(frozen=True)
class ConnectorStatus:
    """One connector (or retailer drop folder) as the operator sees it."""

    name: str
    partner: str
    direction: Direction
    state: ConnectorState
    paused_reason: str | None
    flags: tuple[str, ...]
    last_run: RunRecord | None
    last_success_at: datetime | None
    lag: timedelta | None
    """Now minus the end of the last successful run."""
    records_read: int
    rejected: int
    unmapped: int
    """These three are the last run's."""
    consecutive_failures: int
    next_run_at: datetime | None
    paused_at: datetime | None = None
    paused_by: str | None = None
    schedule: str | None = None
    """``every 15m`` or ``cron 30 2 * * *``; None when it is not run on a schedule."""
    running_on: str | None = None
    """The hub process running it right now, if any."""
    backing_off_until: datetime | None = None
    unmapped_codes: int = 0
    """Distinct raw codes of its messages still unmapped (not fixed by a replay)."""
    dead_letters: int = 0
    """Outbound connectors: messages to it that gave up."""
    pending: int = 0
    """Outbound connectors: messages to it waiting to go."""


@dataclass(frozen=True)
class OutboxStatus:
    pending: int
    dead: int
    delivered: int
    oldest_pending_at: datetime | None
    by_target: dict[str, dict[str, int]] = field(default_factory=dict)
    """target -> state -> count."""


@dataclass(frozen=True)
class NetworkStatus:
    connectors: list[ConnectorStatus]
    outbox: OutboxStatus
    generated_at: datetime

    def connector(self, name: str) -> ConnectorStatus:
        for status in self.connectors:
            if status.name == name:
                return status
        raise NotFoundError(f"no connector named {name!r} (known: {_known_text(self)})")


def _known_text(status: NetworkStatus) -> str:
    return ", ".join(c.name for c in status.connectors) or "none"


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


def _newest_first(statement: Any) -> Any:
    return statement.order_by(connector_runs.c.started_at.desc(), connector_runs.c.id.desc())


def recent_runs(database: Database, connector: str, limit: int = 50) -> list[RunRecord]:
    """The connector's runs, newest first, replays included."""
    with database.transaction() as connection:
        rows = connection.execute(
            _newest_first(
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


def _still_unmapped() -> Any:
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
        .where(_still_unmapped())
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
            first_seen=_aware(row.first_seen),
            last_seen=_aware(row.last_seen),
            example_case_ref=row.example,
        )
        for row in rows
    ]


def _aware(value: Any) -> datetime:
    """Aggregates bypass the column type on SQLite: give text and naive values back in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- the network's status -------------------------------------------------------------


@lru_cache(maxsize=256)
def _is_inbound(mapping_path: str, message: str, stamp: int) -> bool:
    """Whether a mapping's message is inbound; cached while the mapping file is unchanged."""
    del stamp  # part of the cache key only
    spec = load_mapping(Path(mapping_path)).messages.get(message)
    if spec is None:
        raise ConfigurationError(f"mapping {mapping_path} has no message {message!r}")
    return isinstance(spec, InboundSpec)


def _direction(network: Network, name: str) -> Direction:
    spec = network.config.connector(name)
    if isinstance(spec.transport, HttpPushTransportSpec):
        return "push"
    path = (network.path.parent / spec.mapping).resolve()
    return "in" if _is_inbound(str(path), spec.message, _mtime(path)) else "out"


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def describe_schedule(schedule: ScheduleSpec | None) -> str | None:
    if schedule is None:
        return None
    return f"every {schedule.every}" if schedule.every else f"cron {schedule.cron}"


def next_run(schedule: ScheduleSpec, last_start: datetime | None, now: datetime) -> datetime:
    """When the schedule next fires after the last run's start (now, if it never ran)."""
    if schedule.every is not None:
        if last_start is None:
            return now
        return last_start + parse_duration(schedule.every)
    assert schedule.cron is not None
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=UTC)
    after = (last_start + timedelta(seconds=1)) if last_start is not None else now
    fire: datetime | None = trigger.get_next_fire_time(None, after)
    assert fire is not None, "a five-field cron line always fires again"
    return fire.astimezone(UTC)


LATE_AFTER = timedelta(minutes=5)
"""A scheduled run this much past its time (beyond the jitter) is flagged as late."""


@dataclass(frozen=True)
class _Lease:
    owner: str | None
    lease_until: datetime | None
    not_before: datetime | None
    paused_at: datetime | None
    paused_reason: str | None
    paused_by: str | None


def _leases(connection: Connection) -> dict[str, _Lease]:
    rows = connection.execute(select(connector_leases)).all()
    return {
        row.connector: _Lease(
            row.owner,
            row.lease_until,
            row.not_before,
            row.paused_at,
            row.paused_reason,
            row.paused_by,
        )
        for row in rows
    }


def _last_own_run(connection: Connection, connector: str) -> RunRecord | None:
    row = connection.execute(
        _newest_first(
            select(connector_runs).where(connector_runs.c.connector == connector, own_runs())
        ).limit(1)
    ).first()
    return None if row is None else run_record(row)


def _last_success_at(connection: Connection, connector: str) -> datetime | None:
    value: datetime | None = connection.execute(
        _newest_first(
            select(connector_runs.c.finished_at).where(
                connector_runs.c.connector == connector,
                connector_runs.c.outcome == RunOutcome.SUCCEEDED.value,
                own_runs(),
            )
        ).limit(1)
    ).scalar_one_or_none()
    return value


def _last_received(connection: Connection, source: str) -> datetime | None:
    value = connection.execute(
        select(func.max(raw_messages.c.received_at)).where(raw_messages.c.source == source)
    ).scalar_one_or_none()
    return None if value is None else _aware(value)


def _latest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def _unmapped_codes_by_source(connection: Connection) -> dict[str, int]:
    rows = connection.execute(
        select(raw_messages.c.source, func.count(func.distinct(events.c.raw_code)))
        .select_from(events.join(raw_messages, raw_messages.c.id == events.c.message_id))
        .where(_still_unmapped())
        .group_by(raw_messages.c.source)
    ).all()
    return {str(source): int(count) for source, count in rows}


def _outbox(connection: Connection) -> OutboxStatus:
    by_target: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for target, state, count in connection.execute(
        select(outbox.c.target, outbox.c.state, func.count()).group_by(
            outbox.c.target, outbox.c.state
        )
    ):
        by_target.setdefault(str(target), {})[str(state)] = int(count)
        totals[str(state)] = totals.get(str(state), 0) + int(count)
    oldest = connection.execute(
        select(func.min(outbox.c.created_at)).where(outbox.c.state == OutboxState.PENDING.value)
    ).scalar_one_or_none()
    return OutboxStatus(
        pending=totals.get(OutboxState.PENDING.value, 0),
        dead=totals.get(OutboxState.DEAD.value, 0),
        delivered=totals.get(OutboxState.DELIVERED.value, 0),
        oldest_pending_at=None if oldest is None else _aware(oldest),
        by_target=by_target,
    )


@dataclass(frozen=True)
class _Entry:
    name: str
    partner: str
    direction: Direction
    enabled: bool
    schedule: ScheduleSpec | None
    problem: str | None = None


def _entries(network: Network) -> list[_Entry]:
    entries: list[_Entry] = []
    for spec in network.config.connectors:
        problem = None
        try:
            direction = _direction(network, spec.name)
        except ConfigurationError as error:
            direction, problem = "in", f"configuration problem: {error.message}"
        scheduled = spec.schedule if direction == "in" else None
        entries.append(_Entry(spec.name, spec.partner, direction, spec.enabled, scheduled, problem))
    for drop in network.config.case_imports:
        entries.append(_Entry(drop.name, drop.retailer, "import", drop.enabled, drop.schedule))
    return entries


def network_status(
    database: Database, network: Network, *, now: datetime | None = None
) -> NetworkStatus:
    """Every connector and drop folder of connectors.yaml, and the outbox, read at once."""
    moment = now or datetime.now(UTC)
    policy = network.config.alerting
    entries = _entries(network)
    statuses: list[ConnectorStatus] = []
    with database.transaction() as connection:
        leases = _leases(connection)
        codes = _unmapped_codes_by_source(connection)
        box = _outbox(connection)
        for entry in entries:
            lease = leases.get(entry.name)
            last = None if entry.direction == "out" else _last_own_run(connection, entry.name)
            failures = 0 if last is None else consecutive_failures(connection, entry.name)
            success_at = None if last is None else _last_success_at(connection, entry.name)
            if entry.direction == "push":  # a push received is the push connector working
                success_at = _latest(success_at, _last_received(connection, entry.name))
            statuses.append(
                _connector_status(
                    policy, entry, lease, last, failures, success_at, codes, box, moment
                )
            )
    return NetworkStatus(statuses, box, moment)


def _connector_status(
    policy: AlertingSpec,
    entry: _Entry,
    lease: _Lease | None,
    last: RunRecord | None,
    failures: int,
    success_at: datetime | None,
    codes: dict[str, int],
    box: OutboxStatus,
    now: datetime,
) -> ConnectorStatus:
    paused_at = lease.paused_at if lease else None
    not_before = lease.not_before if lease else None
    running_on = None
    if lease and lease.owner and lease.lease_until and lease.lease_until > now:
        running_on = lease.owner
    counts = last.counts if last else RunCounts()
    targeted = box.by_target.get(entry.name, {})
    dead = targeted.get(OutboxState.DEAD.value, 0)
    pending = targeted.get(OutboxState.PENDING.value, 0)
    unmapped = codes.get(entry.name, 0)

    if not entry.enabled:
        state = ConnectorState.DISABLED
    elif paused_at is not None:
        state = ConnectorState.PAUSED
    elif entry.direction == "out":
        state = ConnectorState.FAILING if dead else ConnectorState.OK
    elif not_before is not None and not_before > now:
        state = ConnectorState.BACKING_OFF
    elif last is None:
        state = ConnectorState.OK if entry.direction == "push" else ConnectorState.NEVER_RUN
    elif failures > 0:
        state = ConnectorState.FAILING
    else:
        state = ConnectorState.OK

    next_at = None
    if entry.schedule is not None and state not in (ConnectorState.PAUSED, ConnectorState.DISABLED):
        next_at = next_run(entry.schedule, last.started_at if last else None, now)
        if not_before is not None and not_before > next_at:
            next_at = not_before

    flags = list(
        flags_for(
            policy,
            consecutive_failures=failures,
            unmapped_codes=unmapped,
            last_run_rejected=counts.rejected,
        )
    )
    if entry.problem:
        flags.insert(0, entry.problem)
    if running_on is not None:
        flags.append(f"running now on {running_on}")
    if dead:
        flags.append(f"{dead} dead letter{'s' if dead != 1 else ''}")
    if next_at is not None and running_on is None and entry.schedule is not None:
        jitter = parse_duration(entry.schedule.jitter) if entry.schedule.jitter else timedelta()
        late = now - next_at
        if late > LATE_AFTER + jitter:
            flags.append(f"late: due {int(late.total_seconds() // 60)} minutes ago")
    return ConnectorStatus(
        name=entry.name,
        partner=entry.partner,
        direction=entry.direction,
        state=state,
        paused_reason=lease.paused_reason if lease and paused_at else None,
        flags=tuple(flags),
        last_run=last,
        last_success_at=success_at,
        lag=None if success_at is None else now - success_at,
        records_read=counts.records_read,
        rejected=counts.rejected,
        unmapped=counts.unmapped,
        consecutive_failures=failures,
        next_run_at=next_at,
        paused_at=paused_at,
        paused_by=lease.paused_by if lease and paused_at else None,
        schedule=describe_schedule(entry.schedule),
        running_on=running_on,
        backing_off_until=not_before if not_before is not None and not_before > now else None,
        unmapped_codes=unmapped,
        dead_letters=dead,
        pending=pending,
    )


# --- JSON, for scripts (--json) and the console ------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: _plain(getattr(value, item.name)) for item in fields(value)}
    return value


def as_json(value: Any) -> Any:
    """Any of these results as JSON-ready data: times in ISO 8601 UTC, durations in seconds."""
    return _plain(value)
