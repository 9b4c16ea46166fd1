"""The ``sync:`` section of connectors.yaml: routes (which partner plays each role for a
retailer and a service) and rules (what an event sets in motion). Only their shape, read
and checked with the rest of the file; ``hub.sync.rules`` evaluates them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from hub.model.case import Case, ServiceType
from hub.model.event import EventType
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
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Route(_Spec):
    """Which partners serve a retailer's cases of a service (empty filters match all)."""

    retailer: PartyId | None = None
    service: ServiceType | None = None
    category: StrList | None = Field(
        default=None,
        description="The product's category, one or a list (bulky goods to their own "
        "carrier); a case whose product has no category matches none.",
    )
    repairer: PartyId | None = None
    carrier: PartyId | None = None
    supplier: PartyId | None = None

    def matches(self, case: Case) -> bool:
        return (
            (self.retailer is None or self.retailer == case.retailer)
            and (self.service is None or self.service is case.service)
            and (self.category is None or case.product.category in self.category)
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
    after: str | None = Field(
        default=None,
        description="The message of an earlier send of this rule that this one waits for: "
        "sent once that one is delivered (or discarded by an operator), so that it can "
        "read what the answer taught (a pickup's tracking number as shipment). A message "
        "the partner takes outside the hub (not_sent) is waited for by nothing.",
    )


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

    @model_validator(mode="after")
    def _waits_for_an_earlier_send(self) -> Rule:
        for index, send in enumerate(self.send):
            if send.after is None:
                continue
            earlier = [e for e in self.send[:index] if e.message == send.after]
            if len(earlier) != 1:
                why = "no" if not earlier else "more than one"
                raise ValueError(
                    f"rule {self.name!r}: {send.message} waits for {send.after!r}, but "
                    f"{why} earlier send of the rule is that message"
                )
        return self


class SyncSpec(_Spec):
    """The ``sync`` section of connectors.yaml."""

    routes: list[Route] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    not_sent: dict[PartyId, StrList] = Field(
        default_factory=dict,
        description="Messages a partner takes outside the hub (a relay carrier's customers "
        "drop their parcel at the counter): a rule that would send one to that partner "
        "sends nothing, rather than failing for want of a connector.",
    )
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
