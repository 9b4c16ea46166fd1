"""Sync rules and routing, declared in connectors.yaml, evaluated as pure functions.

A rule says: when an event like this happens to a case like this, send these messages
to these roles (the carrier, the repairer, the supplier, the retailer), or put the case
on hold. Routing says which partner plays each role for a retailer and a service. The
result is a list of intents; writing them to the outbox in the event's transaction is
the engine's job, rendering and sending them the dispatcher's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.config.sync import Condition, Role, Route, SyncSpec
from hub.model.case import Case
from hub.model.event import Event
from hub.model.statuses import CaseStatus


@dataclass(frozen=True)
class SendIntent:
    """A message that must go out because of an event."""

    rule: str
    role: Role
    party: str
    message: str
    case_ref: str
    leg: str | None
    cause: str
    after: str | None = None
    """The idempotency key of the earlier intent this message waits for."""

    @property
    def idempotency_key(self) -> str:
        """One message per case, party, message and leg, however often the cause repeats."""
        return ":".join((self.case_ref, self.party, self.message, self.leg or "-"))


@dataclass(frozen=True)
class StatusIntent:
    rule: str
    case_ref: str
    status: CaseStatus
    cause: str


@dataclass(frozen=True)
class NotifyIntent:
    rule: str
    retailer: str
    case_ref: str
    event_id: str

    @property
    def idempotency_key(self) -> str:
        return f"webhook:{self.retailer}:{self.event_id}"


@dataclass(frozen=True)
class TakenOutsideIntent:
    """A message the routed partner takes outside the hub (``sync.not_sent``: a relay's
    counter): nothing is sent, but the partner now holds the case as surely as if it had
    been, so a reference the retailer records for it may link its events."""

    rule: str
    party: str
    message: str
    case_ref: str


Intent = SendIntent | StatusIntent | NotifyIntent | TakenOutsideIntent


class UnroutedCase(ValueError):
    """No route names a partner for this role: the intent cannot be addressed."""


def route_for(routes: Sequence[Route], case: Case, role: Role) -> str | None:
    """The first route that matches the case and names a partner for the role."""
    if role is Role.RETAILER:
        return case.retailer
    for route in routes:
        party = getattr(route, role.value)
        if party is not None and route.matches(case):
            return str(party)
    return None


def _role_of(routes: Sequence[Route], case: Case, party: str) -> Role | None:
    for role in Role:
        if route_for(routes, case, role) == party:
            return role
    return None


def _matches(condition: Condition, event: Event, case: Case, routes: Sequence[Route]) -> bool:
    if event.type is not condition.type or event.status is None:
        return False
    checks: list[tuple[Sequence[str] | None, str | None]] = [
        (condition.status, event.status.value),
        (condition.raw_code, event.raw_code),
        (condition.reason, event.details.reason),
    ]
    for allowed, actual in checks:
        if allowed is not None and actual not in allowed:
            return False
    if condition.service is not None and case.service not in condition.service:
        return False
    if condition.leg is not None:
        shipment = event.details.shipment
        if shipment is None or shipment.leg not in condition.leg:
            return False
    return condition.reported_by_role is None or (
        _role_of(routes, case, event.reported_by) is condition.reported_by_role
    )


def evaluate(sync: SyncSpec, event: Event, case: Case) -> list[Intent]:
    """Every intent the event causes for its case, in rule order. Pure."""
    intents: list[Intent] = []
    for rule in sync.rules:
        if not _matches(rule.when, event, case, sync.routes):
            continue
        sent: dict[str, str] = {}  # message -> idempotency key, for a later send's ``after``
        for send in rule.send:
            party = route_for(sync.routes, case, send.to)
            if party is None:
                raise UnroutedCase(
                    f"rule {rule.name!r}: no route names a {send.to.value} for case "
                    f"{case.reference} ({case.retailer}, {case.service.value})"
                )
            if send.message in sync.not_sent.get(party, ()):
                # The partner takes it outside the hub (its counter, a phone call).
                intents.append(TakenOutsideIntent(rule.name, party, send.message, case.reference))
                continue
            intent = SendIntent(
                rule.name,
                send.to,
                party,
                send.message,
                case.reference,
                send.leg,
                event.id,
                after=None if send.after is None else sent.get(send.after),
            )
            sent[send.message] = intent.idempotency_key
            intents.append(intent)
        if rule.set_status is not None:
            intents.append(StatusIntent(rule.name, case.reference, rule.set_status, event.id))
        if rule.notify_retailer:
            intents.append(NotifyIntent(rule.name, case.retailer, case.reference, event.id))
    return intents
