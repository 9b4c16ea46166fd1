"""Webhook endpoints retailers manage through the API: the rows behind
hub.retailers.webhook_endpoints.

Secrets reach this module already encrypted and leave it so: choosing, encrypting and
decrypting them is the service's work, and nothing here can read one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from hub.store.compiled import DriverStatement
from hub.store.tables import webhook_endpoints

__all__ = [
    "StoredEndpoint",
    "all_endpoints",
    "delete_endpoint",
    "endpoints_of",
    "get_endpoint",
    "insert_endpoint",
    "receiving_endpoints",
    "update_endpoint",
]


@dataclass(frozen=True)
class StoredEndpoint:
    """An endpoint as stored; ``secret`` and ``previous_secret`` are ciphertexts."""

    id: str
    retailer_id: str
    url: str
    description: str | None
    event_types: tuple[str, ...]
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime


def insert_endpoint(connection: Connection, endpoint: StoredEndpoint) -> None:
    connection.execute(
        webhook_endpoints.insert(),
        {
            "id": endpoint.id,
            "retailer_id": endpoint.retailer_id,
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": list(endpoint.event_types),
            "enabled": endpoint.enabled,
            "secret": endpoint.secret,
            "previous_secret": endpoint.previous_secret,
            "previous_secret_until": endpoint.previous_secret_until,
            "created_at": endpoint.created_at,
            "updated_at": endpoint.updated_at,
        },
    )


def get_endpoint(
    connection: Connection, retailer_id: str, endpoint_id: str, *, for_update: bool = False
) -> StoredEndpoint | None:
    """The retailer's endpoint; None for a missing one and another retailer's alike.
    ``for_update`` locks it (PostgreSQL), so two rotations run one after the other."""
    query = select(webhook_endpoints).where(
        webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.retailer_id == retailer_id
    )
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).one_or_none()
    return None if row is None else _endpoint(row)


def endpoints_of(
    connection: Connection, retailer_id: str, *, after: str | None, limit: int
) -> list[StoredEndpoint]:
    """A page of the retailer's endpoints in id order, after the id ``after``; one more
    than ``limit`` is read by callers that want to know whether more follow."""
    query = select(webhook_endpoints).where(webhook_endpoints.c.retailer_id == retailer_id)
    if after is not None:
        query = query.where(webhook_endpoints.c.id > after)
    rows = connection.execute(query.order_by(webhook_endpoints.c.id).limit(limit)).all()
    return [_endpoint(row) for row in rows]


def all_endpoints(connection: Connection) -> list[StoredEndpoint]:
    """Every retailer's endpoints, by retailer then id: the operator's overview."""
    rows = connection.execute(
        select(webhook_endpoints).order_by(webhook_endpoints.c.retailer_id, webhook_endpoints.c.id)
    ).all()
    return [_endpoint(row) for row in rows]


_RECEIVING = DriverStatement(
    lambda _dialect: (
        select(webhook_endpoints)
        .where(
            webhook_endpoints.c.retailer_id.in_(bindparam("retailers", expanding=True)),
            webhook_endpoints.c.enabled.is_(True),
        )
        .order_by(webhook_endpoints.c.id)
    )
)
"""Run on the driver: the sync rules ask it for every file that notifies a retailer,
and building the statement and SQLAlchemy's execution of it cost more than the read
(issue 17, fourteenth pass)."""


def receiving_endpoints(
    connection: Connection, retailer_ids: Sequence[str]
) -> list[StoredEndpoint]:
    """The enabled endpoints of these retailers, by id: where their events go."""
    if not retailer_ids:
        return []
    rows = _RECEIVING.rows(connection, {"retailers": sorted(set(retailer_ids))})
    return [_endpoint(row) for row in rows]


def _endpoint(row: Sequence[Any]) -> StoredEndpoint:
    """An endpoint of a row of every column, in the table's order (the record's): a
    SQLAlchemy row or a driver statement's tuple alike."""
    (endpoint_id, retailer_id, url, description, event_types, enabled) = row[:6]
    secret, previous_secret, previous_secret_until, created_at, updated_at = row[6:]
    return StoredEndpoint(
        id=endpoint_id,
        retailer_id=retailer_id,
        url=url,
        description=description,
        event_types=tuple(event_types),
        enabled=bool(enabled),
        secret=secret,
        previous_secret=previous_secret,
        previous_secret_until=previous_secret_until,
        created_at=created_at,
        updated_at=updated_at,
    )


def update_endpoint(connection: Connection, endpoint: StoredEndpoint) -> None:
    """Write every changeable field of ``endpoint`` (its id and owner stay)."""
    connection.execute(
        update(webhook_endpoints)
        .where(
            webhook_endpoints.c.id == endpoint.id,
            webhook_endpoints.c.retailer_id == endpoint.retailer_id,
        )
        .values(
            url=endpoint.url,
            description=endpoint.description,
            event_types=list(endpoint.event_types),
            enabled=endpoint.enabled,
            secret=endpoint.secret,
            previous_secret=endpoint.previous_secret,
            previous_secret_until=endpoint.previous_secret_until,
            updated_at=endpoint.updated_at,
        )
    )


def delete_endpoint(connection: Connection, retailer_id: str, endpoint_id: str) -> bool:
    """Remove the retailer's endpoint; False when it had none by that id."""
    result = connection.execute(
        delete(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.retailer_id == retailer_id
        )
    )
    return bool(result.rowcount)
