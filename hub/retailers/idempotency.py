"""Idempotency keys: a retailer retries a POST safely by sending the same
``Idempotency-Key`` again, and gets the first answer back instead of a second effect.

Keys belong to a retailer (two retailers may use the same one) and live 24 hours. The
same key with another body, or on another route, is refused: it is a client bug, and
answering the first request's result would hide it. A retry while the first request
still runs is told to wait. An answer that shows a webhook secret is kept encrypted,
like the secret itself (hub.retailers.webhook_endpoints).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.retailers.tenants import Retailer
from hub.retailers.webhook_endpoints import secret_box
from hub.store import idempotency as store
from hub.store.db import Database

__all__ = [
    "KEY_LIFETIME",
    "Claimed",
    "InProgress",
    "Mismatch",
    "Replay",
    "abandon",
    "begin",
    "finish",
    "request_digest",
    "valid_key",
]

KEY_LIFETIME = timedelta(hours=24)
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
SEALED_PREFIXES = ("/v1/webhook-endpoints",)
"""Routes whose answers may show a secret: kept encrypted."""


def valid_key(key: str) -> bool:
    """1 to 255 visible ASCII characters (a UUID is the usual choice)."""
    return _KEY.fullmatch(key) is not None


def request_digest(content_type: str | None, body: bytes) -> str:
    """SHA-256 of the body; a multipart body without its boundary, which a client
    library draws anew for each attempt of the same upload."""
    boundary = _boundary(content_type)
    if boundary:
        body = body.replace(boundary.encode("latin-1"), b"")
    return hashlib.sha256(body).hexdigest()


def _boundary(content_type: str | None) -> str | None:
    if not content_type or not content_type.lower().startswith("multipart/"):
        return None
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"')
    return None


@dataclass(frozen=True)
class Claimed:
    """The key is new: run the request, then ``finish`` or ``abandon``."""


@dataclass(frozen=True)
class InProgress:
    """The first request with this key has not answered yet."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used for another request (route or body)."""

    operation: str


@dataclass(frozen=True)
class Replay:
    status: int
    headers: dict[str, str]
    body: bytes


Decision = Claimed | InProgress | Mismatch | Replay


def _sealed(operation: str) -> bool:
    path = operation.partition(" ")[2]
    return path.startswith(SEALED_PREFIXES)


def begin(
    database: Database,
    retailer: Retailer,
    key: str,
    *,
    operation: str,
    digest: str,
    now: datetime | None = None,
) -> Decision:
    """Claim ``key`` for this request, or say what it already stands for."""
    moment = now or datetime.now(UTC)
    with database.transaction() as connection:
        kept = store.claim_key(
            connection,
            retailer.id,
            key,
            operation=operation,
            request_hash=digest,
            now=moment,
            expires_at=moment + KEY_LIFETIME,
        )
    if kept is None:
        return Claimed()
    if kept.operation != operation or kept.request_hash != digest:
        return Mismatch(kept.operation)
    if kept.status is None or kept.body is None:
        return InProgress()
    body = kept.body
    if _sealed(operation):
        body = secret_box().open(body.decode("ascii")).encode("latin-1")
    return Replay(kept.status, kept.headers, body)


def finish(
    database: Database,
    retailer: Retailer,
    key: str,
    *,
    operation: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    """Keep the first answer for the key's lifetime."""
    if _sealed(operation):
        body = secret_box().seal(body.decode("latin-1")).encode("ascii")
    with database.transaction() as connection:
        store.keep_answer(connection, retailer.id, key, status=status, headers=headers, body=body)


def abandon(database: Database, retailer: Retailer, key: str) -> None:
    """Free the key: the request failed in a way a retry may get past."""
    with database.transaction() as connection:
        store.forget_key(connection, retailer.id, key)
