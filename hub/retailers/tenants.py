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

from hub.errors import ConfigurationError, ConflictError, HubError, NextAction, NotFoundError
from hub.model.parties import Party, PartyRole
from hub.store.db import Connection, Database
from hub.store.parties import get_party, save_party
from hub.store.tenants import (
    ApiKeyInfo,
    Retailer,
    case_prefixes,
    get_retailer,
    insert_api_key,
    insert_retailer,
    mark_key_revoked,
    mark_key_used,
    retailers_named,
    stored_key,
)

__all__ = [
    "ApiKeyInfo",
    "InvalidApiKey",
    "IssuedKey",
    "Retailer",
    "add_retailer",
    "authenticate",
    "authenticate_in",
    "find_retailer",
    "issue_key",
    "revoke_key",
    "slug",
    "token_hash",
]
"""``Retailer`` and ``ApiKeyInfo`` are the store's records, named here too because
services and the API take them from the tenants' module."""

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

_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class InvalidApiKey(HubError):
    """No usable key: missing, unknown, malformed or revoked (one answer for all)."""

    action = NextAction.FIX_CONFIGURATION

    def __init__(self) -> None:
        super().__init__("a valid API key is required")


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


def find_retailer(connection: Connection, id_or_name: str) -> Retailer:
    """A tenant by party id, or else by its exact display name (for the command line)."""
    found = get_retailer(connection, id_or_name)
    if found is not None:
        return found
    named = retailers_named(connection, id_or_name)
    if len(named) != 1:
        raise NotFoundError(f"no retailer tenant {id_or_name!r}")
    return named[0]


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
    insert_retailer(connection, party_id, case_prefix, secrets.token_bytes(32), now)
    retailer = get_retailer(connection, party_id)
    assert retailer is not None
    return retailer, issue_key(connection, party_id, now=now)


def _check_prefix_is_free(connection: Connection, prefix: str) -> None:
    """Refuse a prefix that starts another's or that another starts: refs must not overlap."""
    for other in case_prefixes(connection):
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
    insert_api_key(connection, key_id, retailer_id, token_hash(token), now or datetime.now(UTC))
    return IssuedKey(id=key_id, retailer_id=retailer_id, token=token)


def revoke_key(connection: Connection, key_id: str, *, now: datetime | None = None) -> ApiKeyInfo:
    """Revoke a key by its id; revoking twice keeps the first revocation time."""
    info = mark_key_revoked(connection, key_id, now or datetime.now(UTC))
    if info is None:
        raise NotFoundError(f"no API key {key_id!r}")
    return info


def authenticate(connection: Connection, token: str, *, now: datetime | None = None) -> Retailer:
    """The tenant a token belongs to, or ``InvalidApiKey`` whatever the reason."""
    retailer, key_id, now = _checked(connection, token, now)
    if key_id is not None:
        mark_key_used(connection, key_id, now, resolution=LAST_USED_RESOLUTION)
    return retailer


def authenticate_in(database: Database, token: str, *, now: datetime | None = None) -> Retailer:
    """``authenticate`` as a request's own units of work: the check only reads, beside
    SQLite's writer rather than behind it (``Database.reading``); the key's stamp, due at
    most once a minute, is a write of its own, guarded, so a stale check cannot undo a
    newer stamp (issue 17, seventeenth pass)."""
    with database.reading() as connection:
        retailer, key_id, now = _checked(connection, token, now)
    if key_id is not None:
        with database.transaction() as connection:
            mark_key_used(connection, key_id, now, resolution=LAST_USED_RESOLUTION)
    return retailer


def _checked(
    connection: Connection, token: str, now: datetime | None
) -> tuple[Retailer, str | None, datetime]:
    """The token's tenant, the key's id when its last use is due a stamp, and ``now``."""
    now = now or datetime.now(UTC)
    match = _TOKEN_PATTERN.match(token)
    row = None if match is None else stored_key(connection, match.group(1))
    stored = _DUMMY_HASH if row is None else row.token_hash
    # Hash and compare even for an unknown id, so timing does not tell ids apart.
    matches = hmac.compare_digest(token_hash(token), stored)
    if row is None or not matches or row.revoked_at is not None:
        raise InvalidApiKey()
    assert match is not None
    due = row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
    return row.retailer, match.group(1) if due else None, now
