"""The network's health, read from the store: each connector's state and the outbox, as
the CLI, the console and /metrics show them.

Everything here only reads, in one transaction per call, so that the figures of one
answer agree with each other, and every hub process sharing the database tells the same
story. A connector's health counts its own runs only: a replay (``hub replay``) shows in
its runs but neither clears nor adds a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from hub.config.durations import parse_duration
from hub.config.secrets import is_missing_secret
from hub.errors import NotFoundError
from hub.operators.schedules import LATE_AFTER, describe_schedule, next_run
from hub.partners.flags import flags_for
from hub.partners.network_outline import AlertingPolicy, NetworkOutline, ScheduleOutline
from hub.store.outbox_rows import OutboxState
from hub.store.run_rows import RunCounts, RunRecord

if TYPE_CHECKING:
    from hub.partners.network import Network
    from hub.store.db import Database
    from hub.store.health_rows import LeaseState, StatusReads
    from hub.store.plain import PlainStore

# A command that shows the status (`hub status`) reads it on a PlainStore, without
# SQLAlchemy, and the network's kept outline, without pydantic; the console and /metrics
# on the Database, with the outline made from their Network. Both run the same
# statements, give their rows to the same conversions (hub.store.health_rows) and work
# the status out in `status_of`: issue 17.

__all__ = [
    "ConnectorState",
    "ConnectorStatus",
    "Direction",
    "NetworkStatus",
    "OutboxStatus",
    "network_status",
    "outline_of",
    "plain_network_status",
    "status_of",
]

Direction = Literal["in", "out", "push", "import"]


class ConnectorState(StrEnum):
    OK = "ok"
    FAILING = "failing"
    PAUSED = "paused"
    BACKING_OFF = "backing_off"
    NEVER_RUN = "never_run"
    DISABLED = "disabled"
    NOT_CONFIGURED = "not_configured"
    """Failing because its secrets are not set where it ran (its last run says which)."""


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
    file_warnings: int = 0
    """Warnings about its files not acknowledged yet (a sequence gap between files)."""
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


# --- the network's status -------------------------------------------------------------


def _latest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def _outbox(reads: StatusReads) -> OutboxStatus:
    by_target = reads.outbox_counts_by_target()
    totals: dict[str, int] = {}
    for states in by_target.values():
        for state, count in states.items():
            totals[state] = totals.get(state, 0) + count
    return OutboxStatus(
        pending=totals.get(OutboxState.PENDING.value, 0),
        dead=totals.get(OutboxState.DEAD.value, 0),
        delivered=totals.get(OutboxState.DELIVERED.value, 0),
        oldest_pending_at=reads.oldest_pending_at(),
        by_target=by_target,
    )


@dataclass(frozen=True)
class _Entry:
    name: str
    partner: str
    direction: Direction
    enabled: bool
    schedule: ScheduleOutline | None
    problem: str | None = None


def _entries(outline: NetworkOutline) -> list[_Entry]:
    """In, out or push: the message's direction as read from its mapping file when the
    outline was made, without building the connector (its codec, its checks), so that
    `hub status` starts fast; `hub connectors check` checks the rest of the mapping."""
    entries: list[_Entry] = []
    for spec in outline.connectors:
        problem = None
        direction: Direction
        if spec.pushed:
            direction = "push"
        elif spec.direction is None:
            direction, problem = "in", f"configuration problem: {spec.problem}"
        else:
            direction = "in" if spec.direction == "inbound" else "out"
        scheduled = spec.schedule if direction == "in" else None
        entries.append(_Entry(spec.name, spec.partner, direction, spec.enabled, scheduled, problem))
    for drop in outline.case_imports:
        entries.append(_Entry(drop.name, drop.retailer, "import", drop.enabled, drop.schedule))
    return entries


def outline_of(network: Network | NetworkOutline) -> NetworkOutline:
    """The outline the status is worked out from: the one given, or made from the
    network (the console and /metrics hold the whole Network)."""
    return network if isinstance(network, NetworkOutline) else network.outline()


def network_status(
    database: Database, network: Network, *, now: datetime | None = None
) -> NetworkStatus:
    """Every connector and drop folder of connectors.yaml, and the outbox, read at once."""
    from hub.store.connector_health import ConnectionStatusReads

    outline = outline_of(network)
    with database.reading() as connection:
        return status_of(ConnectionStatusReads(connection), outline, now=now)


def plain_network_status(
    store: PlainStore, network: Network | NetworkOutline, *, now: datetime | None = None
) -> NetworkStatus:
    """As `network_status`, read without SQLAlchemy (a command that only shows it), from
    the network's outline as kept (hub.partners.network_cache.read_outline)."""
    from hub.store.plain_reads import status_reads

    outline = outline_of(network)
    with status_reads(store) as reads:
        return status_of(reads, outline, now=now)


def status_of(
    reads: StatusReads, outline: NetworkOutline, *, now: datetime | None = None
) -> NetworkStatus:
    """The status from the store's reads, all in the transaction ``reads`` runs in, and
    the network's outline (its connectors' directions, schedules, alerting policy)."""
    moment = now or datetime.now(UTC)
    policy = outline.alerting
    entries = _entries(outline)
    statuses: list[ConnectorStatus] = []
    leases = reads.lease_states()
    codes = reads.unmapped_codes_by_source()
    warned = reads.open_warning_counts()
    box = _outbox(reads)
    summaries = reads.own_run_summaries([e.name for e in entries if e.direction != "out"])
    received = reads.last_received([e.name for e in entries if e.direction == "push"])
    for entry in entries:
        lease = leases.get(entry.name)
        summary = None if entry.direction == "out" else summaries.get(entry.name)
        last = None if summary is None else summary.last
        failures = 0 if summary is None else summary.consecutive_failures
        success_at = None if summary is None else summary.last_success_at
        if entry.direction == "push":  # a push received is the push connector working
            success_at = _latest(success_at, received.get(entry.name))
        statuses.append(
            _connector_status(
                policy,
                entry,
                lease,
                last,
                failures,
                success_at,
                codes,
                box,
                moment,
                warned.get(entry.name, 0),
            )
        )
    return NetworkStatus(statuses, box, moment)


def _connector_status(
    policy: AlertingPolicy,
    entry: _Entry,
    lease: LeaseState | None,
    last: RunRecord | None,
    failures: int,
    success_at: datetime | None,
    codes: dict[str, int],
    box: OutboxStatus,
    now: datetime,
    warnings: int = 0,
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
    elif failures > 0 and is_missing_secret(last.error_message if last else None):
        state = ConnectorState.NOT_CONFIGURED
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
            file_warnings=warnings,
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
        file_warnings=warnings,
        dead_letters=dead,
        pending=pending,
    )
