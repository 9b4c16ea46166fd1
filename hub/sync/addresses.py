"""Who a message goes to: the connector carrying each (partner, message), a party's
contact as the messages write it.

Apart from the engine and the delivery, which read and write the store: `hub connectors
check` asks what the declared profiles lack for the routed messages and needs these two
without SQLAlchemy (issue 17).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigurationError

if TYPE_CHECKING:
    from hub.config.network import NetworkConfig
    from hub.model.parties import Party


@dataclass(frozen=True)
class Addresses:
    """Which connector carries each (partner, message): built from connectors.yaml."""

    by_partner_message: Mapping[tuple[str, str], str]
    webhook_retailers: frozenset[str] = frozenset()
    """Retailers that receive events by webhook; the others read the feed."""

    def connector(self, party: str, message: str) -> str:
        name = self.by_partner_message.get((party, message))
        if name is None:
            raise ConfigurationError(f"no enabled connector sends {message!r} to {party}")
        return name


def addresses_of(network: NetworkConfig) -> Addresses:
    """Every enabled connector, by the partner and message it carries."""
    return Addresses(
        {(spec.partner, spec.message): spec.name for spec in network.connectors if spec.enabled},
        frozenset(spec.retailer for spec in network.webhooks),
    )


def contact_of(party: Party) -> dict[str, Any]:
    """A declared party as a message's sender or recipient reads it."""
    return {"name": party.name, "address": party.address, "phone": party.phone}
