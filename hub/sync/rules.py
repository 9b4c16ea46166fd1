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
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from hub.model.case import Case, ServiceType
from hub.model.event import Event, EventType
from hub.model.parties import PartyId
from hub.model.statuses import CaseStatus
from hub.model.work import ShipmentLeg


class Role(StrEnum):
    """Who, in a case, a message goes to."""

    REPAIRER = "repairer"
    CARRIER = "carrier"
    SUPPLIER = "supplier"
    RETAILER = "retailer"


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(_as_list)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(_Spec):
    """Which partners serve a retailer's cases of a service (empty filters match all)."""

    retailer: PartyId | None = None
    service: ServiceType | None = None
    repairer: PartyId | None = None
    carrier: PartyId | None = None
    supplier: PartyId | None = None

    def matches(self, case: Case) -> bool:
        return (self.retailer is None or self.retailer == case.retailer) and (
            self.service is None or self.service is case.service
        )


class Condition(_Spec):
    """What an event must be for the rule to fire; every given field must match."""

    type: EventType
    status: StrList | None = Field(default=None, description="One status or a list.")
    raw_code: StrList | None = None
    reason: StrList | None = Field(default=None, description="The partner's reason code.")
    service: list[ServiceType] | None = None
    reported_by_role: Role | None = Field(
        default=None, description="Only events reported by the party in this role."
    )
    leg: Annotated[list[ShipmentLeg], BeforeValidator(_as_list)] | None = Field(
        default=None,
        description="Only events about a parcel of these legs (a parcel whose leg is not "
        "known matches none).",
    )


class Send(_Spec):
    """One message to one role; ``leg`` tells two pickups of one case apart."""

    to: Role
    message: str = Field(description="The outbound message of the partner's mapping.")
    leg: Literal["to_repairer", "to_customer", "part_to_repairer"] | None = None


class Rule(_Spec):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    when: Condition
    send: list[Send] = Field(default_factory=list)
    set_status: CaseStatus | None = Field(
        default=None, description="A case status the hub itself records (e.g. on_hold)."
    )
    notify_retailer: bool = Field(default=False, description="Publish the event to the retailer.")

    @model_validator(mode="after")
    def _does_something(self) -> Rule:
        if not self.send and self.set_status is None and not self.notify_retailer:
            raise ValueError(f"rule {self.name!r} sends nothing and changes nothing")
        return self


class SyncSpec(_Spec):
    """The ``sync`` section of connectors.yaml."""

    routes: list[Route] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    parcel_weight_kg: Decimal = Field(
        default=Decimal("5.0"),
        gt=0,
        description="Weight declared for a pickup when the case says none (carriers ask).",
    )

    @model_validator(mode="after")
    def _unique_rule_names(self) -> SyncSpec:
        names = [rule.name for rule in self.rules]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"rule names listed twice: {', '.join(twice)}")
        return self


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


Intent = SendIntent | StatusIntent | NotifyIntent


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
        for send in rule.send:
            party = route_for(sync.routes, case, send.to)
            if party is None:
                raise UnroutedCase(
                    f"rule {rule.name!r}: no route names a {send.to.value} for case "
                    f"{case.reference} ({case.retailer}, {case.service.value})"
                )
            intents.append(
                SendIntent(
                    rule.name, send.to, party, send.message, case.reference, send.leg, event.id
                )
            )
        if rule.set_status is not None:
            intents.append(StatusIntent(rule.name, case.reference, rule.set_status, event.id))
        if rule.notify_retailer:
            intents.append(NotifyIntent(rule.name, case.retailer, case.reference, event.id))
    return intents
