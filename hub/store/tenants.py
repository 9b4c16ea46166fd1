"""Retailer tenants and their API keys: the rows behind hub.retailers.tenants.

The store keeps a key's SHA-256 only, never its value; choosing, hashing and checking
keys is hub.retailers.tenants' work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, Select, String, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.errors import ConflictError
from hub.store.tables import api_keys, parties, retailers

AnyRow = Row[*tuple[Any, ...]]


@dataclass(frozen=True)
class Retailer:
    """A tenant: its party id and name, its case prefix, the key that signs its cursors."""

    id: str
    name: str
    case_prefix: str
    cursor_key: bytes

    def owns_reference(self, reference: str) -> bool:
        return reference.startswith(self.case_prefix)


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: never its value."""

    id: str
    retailer_id: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class StoredKey:
    """What checking a presented key needs: its hash and state, and its tenant (read with
    it, so a request's key costs one query)."""

    retailer: Retailer
    token_hash: str
    revoked_at: datetime | None
    last_used_at: datetime | None


def _retailer(row: Row[Any]) -> Retailer:
    return Retailer(
        id=str(row.party_id),
        name=str(row.name),
        case_prefix=str(row.case_prefix),
        cursor_key=bytes.fromhex(str(row.cursor_key)),
    )


def _tenants() -> Select[Any]:
    return select(
        retailers.c.party_id, parties.c.name, retailers.c.case_prefix, retailers.c.cursor_key
    ).join(parties, parties.c.id == retailers.c.party_id)


def get_retailer(connection: Connection, retailer_id: str) -> Retailer | None:
    query = _tenants().where(retailers.c.party_id == retailer_id)
    row = connection.execute(query).one_or_none()
    return None if row is None else _retailer(row)


def retailers_named(connection: Connection, name: str) -> list[Retailer]:
    """The tenants whose party has exactly this display name (names need not be unique)."""
    rows = connection.execute(_tenants().where(parties.c.name == name)).all()
    return [_retailer(row) for row in rows]


def insert_retailer(
    connection: Connection, party_id: str, case_prefix: str, cursor_key: bytes, now: datetime
) -> None:
    """Make the (existing) party a tenant."""
    connection.execute(
        retailers.insert(),
        {
            "party_id": party_id,
            "case_prefix": case_prefix,
            "cursor_key": cursor_key.hex(),
            "created_at": now,
        },
    )


def case_prefixes(connection: Connection) -> list[str]:
    """Every tenant's case prefix."""
    return list(connection.execute(select(retailers.c.case_prefix)).scalars())


def insert_api_key(
    connection: Connection, key_id: str, retailer_id: str, token_hash: str, now: datetime
) -> None:
    """Keep a new key's hash; ``ConflictError`` if its id is taken."""
    try:
        connection.execute(
            api_keys.insert(),
            {
                "id": key_id,
                "retailer_id": retailer_id,
                "token_hash": token_hash,
                "created_at": now,
            },
        )
    except IntegrityError as exc:  # 64 random bits colliding: astronomically unlikely
        raise ConflictError("key id collision, try again") from exc


_KEY_INFO = (
    api_keys.c.id,
    api_keys.c.retailer_id,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
    api_keys.c.last_used_at,
)


def _key_info(row: AnyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=str(row.id),
        retailer_id=str(row.retailer_id),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def list_keys(connection: Connection, retailer_id: str) -> list[ApiKeyInfo]:
    """The tenant's keys, revoked ones included, oldest first."""
    rows = connection.execute(
        select(*_KEY_INFO)
        .where(api_keys.c.retailer_id == retailer_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    ).all()
    return [_key_info(row) for row in rows]


def mark_key_revoked(connection: Connection, key_id: str, now: datetime) -> ApiKeyInfo | None:
    """Revoke the key unless it is revoked already (the first time stays); None if there
    is no such key."""
    connection.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    row = connection.execute(select(*_KEY_INFO).where(api_keys.c.id == key_id)).one_or_none()
    return None if row is None else _key_info(row)


def stored_key(connection: Connection, key_id: str) -> StoredKey | None:
    """The key with this public id, its tenant with it; None when there is none."""
    row = connection.execute(_stored_key_query(), {"key_id": key_id}).one_or_none()
    if row is None:
        return None
    return StoredKey(_retailer(row), row.token_hash, row.revoked_at, row.last_used_at)


@cache
def _stored_key_query() -> Select[Any]:
    """``stored_key``'s query, built once, on first use, the key id bound at each call:
    every request's key check ran it, and building it (a join, its columns coerced one
    by one) cost five times what running it does: 140 against 24 us a call on SQLite
    (issue 17)."""
    return (
        _tenants()
        .add_columns(api_keys.c.token_hash, api_keys.c.revoked_at, api_keys.c.last_used_at)
        .join(api_keys, api_keys.c.retailer_id == retailers.c.party_id)
        .where(api_keys.c.id == bindparam("key_id", type_=String))
    )


def mark_key_used(
    connection: Connection, key_id: str, now: datetime, *, resolution: timedelta
) -> None:
    """Stamp ``last_used_at`` unless a concurrent request stamped it within ``resolution``."""
    connection.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            or_(
                api_keys.c.last_used_at.is_(None),
                api_keys.c.last_used_at < now - resolution,
            ),
        )
        .values(last_used_at=now)
    )
