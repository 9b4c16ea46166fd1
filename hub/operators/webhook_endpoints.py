"""The webhook endpoints retailers registered through the API, as an operator oversees
them: whose, where, for which events, and whether their receivers keep up. Never their
secrets (the operator needs none of them, and the console is no place to show one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.retailers.webhook_endpoints import Endpoint, endpoint_target
from hub.store.db import Database
from hub.store.target_deliveries import TargetDeliveries, deliveries_by_target
from hub.store.webhook_endpoints import all_endpoints

WINDOW = timedelta(hours=24)
"""What "delivered" counts: the last day, as the health page's figures."""


@dataclass(frozen=True)
class EndpointOverview:
    """One retailer-managed endpoint and its queue in the outbox."""

    retailer_id: str
    endpoint: Endpoint
    target: str
    deliveries: TargetDeliveries


def webhook_endpoint_overview(database: Database, *, now: datetime) -> list[EndpointOverview]:
    """Every retailer's endpoints, by retailer, with their outbox figures."""
    with database.reading() as connection:
        stored = all_endpoints(connection)
        targets = [endpoint_target(item.retailer_id, item.id) for item in stored]
        figures = deliveries_by_target(connection, targets, since=now - WINDOW)
    return [
        EndpointOverview(item.retailer_id, Endpoint.of(item, now), target, figures[target])
        for item, target in zip(stored, targets, strict=True)
    ]
