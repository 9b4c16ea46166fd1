"""Telling the retailer when a step breaches: once, as an event of its case.

The breach becomes a ``service_level`` event reported by the hub, stored through the
normal path with the network's sync rules, so a rule such as
``{when: {type: service_level}, notify_retailer: true}`` sends it by webhook, and the
feed carries it like any other event. Its id is derived from the case, the step and
the deadline: checking again (or from another process) stores nothing new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hub.errors import HubError
from hub.model.event import Event, EventDetails, EventType, stable_event_id
from hub.model.statuses import ServiceLevelStatus
from hub.partners.leases import acquire_lease, release_lease
from hub.partners.network import Network
from hub.sla.business_days import PARIS
from hub.sla.store import Breach, breaches_of
from hub.store.db import Database
from hub.store.events import append_events
from hub.sync import HUB_PARTY

logger = logging.getLogger(__name__)

LEASE_NAME = "service-levels"
"""The lease row (beside the connectors') that keeps two processes from publishing at once."""

EVERY = timedelta(minutes=1)
"""How often `hub serve` looks for new breaches: a deadline passes with no event to
trigger anything, so the check is the detection, and retailers were told up to 15
minutes after the console showed a breach when it ran every quarter of an hour (two
queries for every open case, cheap enough each minute)."""

LEASE = timedelta(seconds=60)
"""Long enough for one check; a process that dies frees it within this time."""


def breach_event_id(breach: Breach) -> str:
    """Stable per case, step and deadline: the same breach is one event however often seen."""
    deadline = breach.deadline.astimezone(UTC).isoformat()
    return stable_event_id(
        reported_by=HUB_PARTY,
        partner_event_id=f"service-level:{breach.case_ref}:{breach.step.value}:{deadline}",
        type=EventType.SERVICE_LEVEL,
        raw_code=breach.step.value,
        occurred_at=breach.deadline,
    )


def breach_event(breach: Breach, *, now: datetime) -> Event:
    """The event the retailer receives: it happened when the deadline passed."""
    due = breach.deadline.astimezone(PARIS)
    basis = "legal conformity, C. conso. L217-10" if breach.basis == "legal" else breach.basis
    return Event(
        id=breach_event_id(breach),
        case_ref=breach.case_ref,
        type=EventType.SERVICE_LEVEL,
        status=ServiceLevelStatus.BREACHED,
        occurred_at=due,
        recorded_at=now,
        reported_by=HUB_PARTY,
        raw_code=breach.step.value,
        raw_label=f"{breach.step.description} ({basis})",
        subject=breach.step.value,
        details=EventDetails(
            reason=breach.basis,
            note=f"due before {due.isoformat()}",
        ),
    )


@dataclass
class PublishResult:
    """What one check found and what it stored (the rest had been published before)."""

    breaches: list[Breach] = field(default_factory=list)
    published: list[Event] = field(default_factory=list)


def publish_breaches(database: Database, network: Network, *, now: datetime) -> PublishResult:
    """Store a ``service_level`` event for every open breach not published yet, and run
    the sync rules on the new ones, in one transaction."""
    result = PublishResult()
    hook = network.sync_hook()
    with database.transaction() as connection:
        result.breaches = breaches_of(connection, network, now=now)
        candidates = [breach_event(breach, now=now) for breach in result.breaches]
        if not candidates:
            return result
        stored = set(append_events(connection, candidates, now=now).stored_ids)
        result.published = [event for event in candidates if event.id in stored]
        if hook is not None and result.published:
            hook(connection, result.published)
    return result


def publish_leased(
    database: Database,
    network: Network,
    owner: str,
    *,
    lease: timedelta = LEASE,
    now: datetime | None = None,
) -> PublishResult | None:
    """The scheduled check, under the "service-levels" lease; None when another process
    holds it. The event ids already make a second publication harmless; the lease saves
    the work."""
    if not acquire_lease(database, LEASE_NAME, owner, lease=lease, now=now):
        logger.info("%s: checked elsewhere; skipped", LEASE_NAME)
        return None
    error: HubError | None = None
    try:
        result = publish_breaches(database, network, now=now or datetime.now(UTC))
    except HubError as exc:
        error = exc
        raise
    finally:
        release_lease(database, LEASE_NAME, owner, error)
    if result.published:
        logger.info("%s: %d breach(es) published", LEASE_NAME, len(result.published))
    return result
