"""Retailers as tenants of the API, and the keys they call it with.

A key is a random token shown once, when it is issued; the hub keeps only its SHA-256,
found by the key's public id and compared in constant time. Keys are listed by id and
revoked by id, never shown again. Each tenant has a case reference prefix that no other
tenant's prefix overlaps, so a reference names at most one tenant's case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Select, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.errors import ConfigurationError, ConflictError, HubError, NextAction, NotFoundError
from hub.model.parties import Party, PartyRole
from hub.store.parties import get_party, save_party
from hub.store.tables import api_keys, parties, retailers

KEY_TEXT_PREFIX = "hub_"
KEY_ID_HEX = 16
SECRET_BYTES = 32
"""256 bits of randomness: a plain SHA-256 is enough, no slow hash needed."""

PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key, so reads stay reads."""

_TOKEN_PATTERN = re.compile(
    rf"^{KEY_TEXT_PREFIX}([0-9a-f]{{{KEY_ID_HEX}}})_([A-Za-z0-9_-]{{20,100}})$"
)
AnyRow = Row[*tuple[Any, ...]]

_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class InvalidApiKey(HubError):
    """No usable key: missing, unknown, malformed or revoked (one answer for all)."""

    action = NextAction.FIX_CONFIGURATION

    def __init__(self) -> None:
        super().__init__("a valid API key is required")


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
class IssuedKey:
    """A new key; ``token`` exists only here, to be printed once."""

    id: str
    retailer_id: str
    token: str


def slug(name: str) -> str:
    """A party id from a display name: ``Maison Électro`` becomes ``maison-electro``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _retailer(row: AnyRow) -> Retailer:
    mapping = row._mapping
    return Retailer(
        id=str(mapping["party_id"]),
        name=str(mapping["name"]),
        case_prefix=str(mapping["case_prefix"]),
        cursor_key=bytes.fromhex(str(mapping["cursor_key"])),
    )


def _tenants() -> Select[Any]:
    return select(
        retailers.c.party_id, parties.c.name, retailers.c.case_prefix, retailers.c.cursor_key
    ).join(parties, parties.c.id == retailers.c.party_id)


def get_retailer(connection: Connection, retailer_id: str) -> Retailer | None:
    query = _tenants().where(retailers.c.party_id == retailer_id)
    row = connection.execute(query).one_or_none()
    return None if row is None else _retailer(row)


def find_retailer(connection: Connection, id_or_name: str) -> Retailer:
    """A tenant by party id, or else by its exact display name (for the command line)."""
    found = get_retailer(connection, id_or_name)
    if found is not None:
        return found
    rows = connection.execute(_tenants().where(parties.c.name == id_or_name)).all()
    if len(rows) != 1:
        raise NotFoundError(f"no retailer tenant {id_or_name!r}")
    return _retailer(rows[0])


def add_retailer(
    connection: Connection,
    *,
    name: str,
    case_prefix: str,
    party_id: str | None = None,
    now: datetime | None = None,
) -> tuple[Retailer, IssuedKey]:
    """Make a retailer a tenant (creating its party if needed) and issue its first key."""
    now = now or datetime.now(UTC)
    party_id = party_id or slug(name)
    if not PREFIX_PATTERN.match(case_prefix):
        raise ConfigurationError(
            f"case prefix {case_prefix!r}: use 1 to 16 letters, digits, '-' or '_', e.g. ME-"
        )
    party = get_party(connection, party_id)
    if party is None:
        try:
            party = Party(id=party_id, role=PartyRole.RETAILER, name=name)
        except ValueError as exc:
            raise ConfigurationError(f"retailer id {party_id!r} is not a valid party id") from exc
        save_party(connection, party)
    elif party.role is not PartyRole.RETAILER:
        raise ConflictError(f"party {party_id!r} exists as a {party.role.value}, not a retailer")
    if get_retailer(connection, party_id) is not None:
        raise ConflictError(f"retailer {party_id!r} is a tenant already")
    _check_prefix_is_free(connection, case_prefix)
    connection.execute(
        retailers.insert(),
        {
            "party_id": party_id,
            "case_prefix": case_prefix,
            "cursor_key": secrets.token_hex(32),
            "created_at": now,
        },
    )
    retailer = get_retailer(connection, party_id)
    assert retailer is not None
    return retailer, issue_key(connection, party_id, now=now)


def _check_prefix_is_free(connection: Connection, prefix: str) -> None:
    """Refuse a prefix that starts another's or that another starts: refs must not overlap."""
    for other in connection.execute(select(retailers.c.case_prefix)).scalars():
        if prefix.startswith(other) or other.startswith(prefix):
            raise ConflictError(f"case prefix {prefix!r} overlaps the prefix {other!r}")


def issue_key(
    connection: Connection, retailer_id: str, *, now: datetime | None = None
) -> IssuedKey:
    """A new key for the tenant; its token is returned once and never stored."""
    if get_retailer(connection, retailer_id) is None:
        raise NotFoundError(f"no retailer tenant {retailer_id!r}")
    key_id = secrets.token_hex(KEY_ID_HEX // 2)
    token = f"{KEY_TEXT_PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    try:
        connection.execute(
            api_keys.insert(),
            {
                "id": key_id,
                "retailer_id": retailer_id,
                "token_hash": token_hash(token),
                "created_at": now or datetime.now(UTC),
            },
        )
    except IntegrityError as exc:  # 64 random bits colliding: astronomically unlikely
        raise ConflictError("key id collision, try again") from exc
    return IssuedKey(id=key_id, retailer_id=retailer_id, token=token)


def _key_info(row: AnyRow) -> ApiKeyInfo:
    mapping = row._mapping
    return ApiKeyInfo(
        id=str(mapping["id"]),
        retailer_id=str(mapping["retailer_id"]),
        created_at=mapping["created_at"],
        revoked_at=mapping["revoked_at"],
        last_used_at=mapping["last_used_at"],
    )


def list_keys(connection: Connection, retailer_id: str) -> list[ApiKeyInfo]:
    rows = connection.execute(
        select(
            api_keys.c.id,
            api_keys.c.retailer_id,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
            api_keys.c.last_used_at,
        )
        .where(api_keys.c.retailer_id == retailer_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    ).all()
    return [_key_info(row) for row in rows]


def revoke_key(connection: Connection, key_id: str, *, now: datetime | None = None) -> ApiKeyInfo:
    """Revoke a key by its id; revoking twice keeps the first revocation time."""
    connection.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    row = connection.execute(
        select(
            api_keys.c.id,
            api_keys.c.retailer_id,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
            api_keys.c.last_used_at,
        ).where(api_keys.c.id == key_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no API key {key_id!r}")
    return _key_info(row)


def authenticate(connection: Connection, token: str, *, now: datetime | None = None) -> Retailer:
    """The tenant a token belongs to, or ``InvalidApiKey`` whatever the reason."""
    now = now or datetime.now(UTC)
    match = _TOKEN_PATTERN.match(token)
    row = None
    if match is not None:
        row = connection.execute(
            select(
                api_keys.c.retailer_id,
                api_keys.c.token_hash,
                api_keys.c.revoked_at,
                api_keys.c.last_used_at,
            ).where(api_keys.c.id == match.group(1))
        ).one_or_none()
    stored = _DUMMY_HASH if row is None else row.token_hash
    # Hash and compare even for an unknown id, so timing does not tell ids apart.
    matches = hmac.compare_digest(token_hash(token), stored)
    if row is None or not matches or row.revoked_at is not None:
        raise InvalidApiKey()
    assert match is not None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        connection.execute(
            update(api_keys)
            .where(
                api_keys.c.id == match.group(1),
                or_(
                    api_keys.c.last_used_at.is_(None),
                    api_keys.c.last_used_at < now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
        )
    retailer = get_retailer(connection, row.retailer_id)
    if retailer is None:  # the key row has a foreign key: only a concurrent delete
        raise InvalidApiKey()
    return retailer
