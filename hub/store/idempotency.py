"""Idempotency keys of the retailer API: the first answer to a POST, kept to be replayed.

A key is claimed by inserting its row before the request runs (``status`` null), so
that two requests racing with one key cannot both run; the answer is written when the
request ends, or the claim removed when it failed in a way worth retrying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from hub.store.tables import idempotency_keys
from hub.store.upsert import insert_ignoring_conflicts

__all__ = ["KeptAnswer", "claim_key", "forget_key", "keep_answer"]


@dataclass(frozen=True)
class KeptAnswer:
    """What is stored under a key: the request it was first used for, and its answer
    once there is one (``status`` None while the first request still runs)."""

    operation: str
    request_hash: str
    status: int | None
    headers: dict[str, str]
    body: bytes | None


def claim_key(
    connection: Connection,
    retailer_id: str,
    key: str,
    *,
    operation: str,
    request_hash: str,
    now: datetime,
    expires_at: datetime,
) -> KeptAnswer | None:
    """Take ``key`` for a new request (None), or give what it already holds.

    The retailer's expired keys are removed first, so an old key is free again.
    """
    connection.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.retailer_id == retailer_id, idempotency_keys.c.expires_at <= now
        )
    )
    inserted = connection.execute(
        insert_ignoring_conflicts(connection, idempotency_keys, "retailer_id", "key")
        .values(
            retailer_id=retailer_id,
            key=key,
            operation=operation,
            request_hash=request_hash,
            created_at=now,
            expires_at=expires_at,
        )
        .returning(idempotency_keys.c.key)
    ).scalar_one_or_none()
    if inserted is not None:
        return None
    row = connection.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.retailer_id == retailer_id, idempotency_keys.c.key == key
        )
    ).one()
    headers: Any = row.response_headers or {}
    return KeptAnswer(
        operation=row.operation,
        request_hash=row.request_hash,
        status=row.status,
        headers={str(name): str(value) for name, value in headers.items()},
        body=None if row.response_body is None else bytes(row.response_body),
    )


def keep_answer(
    connection: Connection,
    retailer_id: str,
    key: str,
    *,
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    """Record the first request's answer under its key."""
    connection.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.retailer_id == retailer_id, idempotency_keys.c.key == key)
        .values(status=status, response_headers=headers, response_body=body)
    )


def forget_key(connection: Connection, retailer_id: str, key: str) -> None:
    """Free a key whose request failed in a way worth retrying (the database busy)."""
    connection.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.retailer_id == retailer_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.status.is_(None),
        )
    )
