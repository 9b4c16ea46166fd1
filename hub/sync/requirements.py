"""What a case's route will need, checked before the case is opened or corrected.

A case the network cannot work (no customer address for the carrier's pickup, a retailer
profile without a name for the repairer's order) used to be accepted and then sat in the
outbox as a dead letter nobody told the retailer about. The sync rules say which
messages a case of this service will cause, the routes to whom, and each partner's
outbound mapping which values it cannot write a record without; here the three are put
together, generically, for one case. Values the hub makes at send time (the pickup's
reference, a parts order, the clock) are not checked: they are always there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import HubError, ModelError
from hub.mapping.outbound import required_paths, resolve_path
from hub.mapping.spec import OutboundSpec
from hub.model.case import Case
from hub.partners.connectors import Network
from hub.store.db import Connection
from hub.sync.addresses import addresses_of
from hub.sync.delivery import HolderKind, case_context
from hub.sync.rules import route_for


@dataclass(frozen=True)
class MissingData:
    """One value a message of the case's route needs and does not have."""

    field: str
    """Dotted path in its holder's terms: ``customer.address.line1`` of the case, ``name``
    of a retailer's or a partner's profile."""
    holder: HolderKind
    party: str | None
    """Whose profile lacks it (retailer or partner); None for the case's own fields."""
    needed_by: str
    """The partner the message goes to."""
    message: str
    connector: str

    @property
    def problem_field(self) -> str:
        """The field as a retailer's request names it: the case's own, or ``retailer``."""
        return self.field if self.holder == "case" else self.holder

    def sentence(self) -> str:
        """Says what is missing, who needs it and who can add it."""
        needs = f"{self.needed_by} needs it for its {self.message} message ({self.connector})"
        if self.holder == "case":
            return f"is required: {needs}"
        if self.holder == "retailer":
            return (
                f"your retailer profile ({self.party}) has no {self.field}: {needs}; you "
                "cannot set it through the API, ask the hub's operator to add it to your "
                "party in the network file (connectors.yaml)"
            )
        return (
            f"partner {self.party}'s profile has no {self.field}: {needs}; the hub's "
            "operator must add it to the party in the network file (connectors.yaml)"
        )


class CaseNotWorkable(ModelError):
    """The case lacks what its route needs: nothing is stored, each value is named."""

    def __init__(self, reference: str, missing: list[MissingData]) -> None:
        fields = ", ".join(dict.fromkeys(item.problem_field for item in missing))
        super().__init__(f"case {reference} cannot be worked by its partners: missing {fields}")
        self.missing = missing


RouteCheck = Callable[[Connection, Case], None]
"""Raises ``CaseNotWorkable`` for a case its route cannot work."""


def route_needs(connection: Connection, network: Network, case: Case) -> list[MissingData]:
    """Every value the messages of the case's route need and the case (or a profile)
    lacks. Each rule whose case conditions (the service) the case meets may fire: its
    other conditions depend on events still to come. A message the routes cannot address
    or no connector carries is left to ``hub connectors check``."""
    config = network.config
    addresses = addresses_of(config)
    missing: list[MissingData] = []
    seen: set[tuple[str, str, str | None]] = set()
    for rule in config.sync.rules:
        if rule.when.service is not None and case.service not in rule.when.service:
            continue
        for send in rule.send:
            party = route_for(config.sync.routes, case, send.to)
            if party is None or send.message in config.sync.not_sent.get(party, ()):
                continue
            if (party, send.message, send.leg) in seen:
                continue
            seen.add((party, send.message, send.leg))
            try:
                name = addresses.connector(party, send.message)
                spec = network.connector(name).message
                context = case_context(connection, network, case, send.leg)
            except HubError:  # no connector, a broken mapping, no context: `connectors check` says
                continue
            if not isinstance(spec, OutboundSpec):
                continue
            for _column, path in required_paths(spec):
                head, _, rest = path.partition(".")
                holder = context.holders.get(head)
                if holder is None:  # made by the hub at send time
                    continue
                value = resolve_path(context.values, path)
                if value is not None and value != "":
                    continue
                item = MissingData(
                    holder.field(rest), holder.kind, holder.party, party, send.message, name
                )
                if item not in missing:
                    missing.append(item)
    return missing


def route_check(network: Network) -> RouteCheck:
    """``route_needs`` as the check the write paths run before opening a case."""

    def check(connection: Connection, case: Case) -> None:
        missing = route_needs(connection, network, case)
        if missing:
            raise CaseNotWorkable(case.reference, missing)

    return check
