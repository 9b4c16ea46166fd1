"""What the declared parties' own profiles lack for the messages routed to others.

Found once for the network by `hub connectors check`, beside the case-by-case check of
hub.sync.requirements; here, apart from it and the delivery, so that the check imports
no store (SQLAlchemy is about a third of the command's start; issue 17).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.config.sync import Role
from hub.errors import HubError
from hub.mapping.outbound import required_paths, resolve_path
from hub.mapping.spec import OutboundSpec
from hub.model.parties import Party, PartyRole
from hub.sync.addresses import addresses_of, contact_of

if TYPE_CHECKING:
    from hub.partners.connectors import Network


def profile_needs(network: Network) -> list[str]:
    """What the declared parties' own profiles lack for the messages routed to others: a
    retailer's name on a repairer's order, a workshop's address on a pickup to it. Found
    once for the network (``hub connectors check``), not on each case a retailer opens,
    since only the hub's operator can add them."""
    config = network.config
    addresses = addresses_of(config)
    retailers = [party for party in config.parties if party.role is PartyRole.RETAILER]
    declared = {party.id: party for party in config.parties}
    repairers = [
        declared[route.repairer]
        for route in config.sync.routes
        if route.repairer is not None and route.repairer in declared
    ]
    found: list[str] = []
    for rule in config.sync.rules:
        for send in rule.send:
            if send.to is Role.RETAILER:
                continue
            targets = {
                str(getattr(route, send.to.value))
                for route in config.sync.routes
                if getattr(route, send.to.value) is not None
            }
            for target in sorted(targets):
                try:
                    name = addresses.connector(target, send.message)
                    spec = network.connector(name).message
                except HubError:
                    continue
                if not isinstance(spec, OutboundSpec):
                    continue
                for _column, path in required_paths(spec):
                    head, _, rest = path.partition(".")
                    holders = _profiles(head, send.leg, retailers, repairers)
                    for kind, party, values in holders:
                        value = resolve_path({head: values}, path)
                        if value is None or value == "":
                            found.append(
                                f"{kind} {party.id}'s profile has no {rest}: {target} needs it "
                                f"for its {send.message} message ({name}); add it to the party"
                            )
    return list(dict.fromkeys(found))


def _profiles(
    head: str, leg: str | None, retailers: list[Party], repairers: list[Party]
) -> list[tuple[str, Party, Any]]:
    """The declared profiles a context name reads, as the delivery context builds it."""
    if head == "retailer":
        return [("retailer", party, party) for party in retailers]
    if head in ("repairer", "ship_to"):
        return [("partner", party, party) for party in repairers]
    workshop_side = {"to_repairer": "recipient", "to_customer": "sender"}.get(leg or "")
    if head == workshop_side:
        return [("partner", party, contact_of(party)) for party in repairers]
    return []
