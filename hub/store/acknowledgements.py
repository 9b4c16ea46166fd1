"""Acknowledgements the hub owes partners (an EDIFACT CONTRL per interchange it read).

One is recorded in the transaction that stores the acknowledged message's events, with
the next control reference of its connector, so an interchange is never stored without
its answer being owed; it stays owed (``sent_at`` empty) until the transport has put it,
and a run puts every owed one first: a put that failed, or a crash before it, is made
good by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from hub.store.tables import acknowledgements

__all__ = [
    "OwedAcknowledgement",
    "acknowledgements_of",
    "next_control_reference",
    "owe",
    "owed",
    "owed_for_message",
    "record_failure",
    "record_sent",
]


@dataclass(frozen=True)
class OwedAcknowledgement:
    """An acknowledgement with what putting it needs, and whether it went."""

    id: int
    connector: str
    control_reference: int
    message_id: int
    name: str
    content: bytes
    accepted: bool
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None


def next_control_reference(connection: Connection, connector: str) -> int:
    """One more than the connector's highest; the unique (connector, reference) makes two
    processes that picked the same one fail whole, and the lease keeps them apart."""
    highest = connection.execute(
        select(func.max(acknowledgements.c.control_reference)).where(
            acknowledgements.c.connector == connector
        )
    ).scalar_one_or_none()
    return int(highest or 0) + 1


def owe(
    connection: Connection,
    connector: str,
    *,
    control_reference: int,
    message_id: int,
    name: str,
    content: bytes,
    accepted: bool,
    now: datetime,
) -> int:
    """Record an acknowledgement to put; returns its id."""
    inserted = connection.execute(
        acknowledgements.insert().returning(acknowledgements.c.id),
        {
            "connector": connector,
            "control_reference": control_reference,
            "message_id": message_id,
            "name": name,
            "content": content,
            "accepted": accepted,
            "created_at": now,
            "attempts": 0,
        },
    ).scalar_one()
    return int(inserted)


def _rows(connection: Connection, *where: object) -> list[OwedAcknowledgement]:
    rows = connection.execute(
        select(acknowledgements).where(*where).order_by(acknowledgements.c.control_reference)  # type: ignore[arg-type]
    ).mappings()
    return [
        OwedAcknowledgement(
            id=row["id"],
            connector=row["connector"],
            control_reference=row["control_reference"],
            message_id=row["message_id"],
            name=row["name"],
            content=row["content"],
            accepted=row["accepted"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
            attempts=row["attempts"],
            last_error=row["last_error"],
        )
        for row in rows
    ]


def owed(connection: Connection, connector: str) -> list[OwedAcknowledgement]:
    """The connector's acknowledgements not put yet, oldest first."""
    return _rows(
        connection, acknowledgements.c.connector == connector, acknowledgements.c.sent_at.is_(None)
    )


def owed_for_message(connection: Connection, connector: str, message_id: int) -> bool:
    """Whether an acknowledgement of this archived message still waits to be put."""
    found = connection.execute(
        select(acknowledgements.c.id).where(
            acknowledgements.c.connector == connector,
            acknowledgements.c.message_id == message_id,
            acknowledgements.c.sent_at.is_(None),
        )
    ).first()
    return found is not None


def acknowledgements_of(connection: Connection, connector: str) -> list[OwedAcknowledgement]:
    """Every acknowledgement of the connector, sent or owed, oldest first."""
    return _rows(connection, acknowledgements.c.connector == connector)


def record_sent(connection: Connection, acknowledgement_id: int, *, now: datetime) -> None:
    """Put: no longer owed."""
    connection.execute(
        update(acknowledgements)
        .where(acknowledgements.c.id == acknowledgement_id)
        .values(sent_at=now, attempts=acknowledgements.c.attempts + 1, last_error=None)
    )


def record_failure(connection: Connection, acknowledgement_id: int, error: str) -> None:
    """A put that failed: still owed, the attempt and its reason kept for operators."""
    connection.execute(
        update(acknowledgements)
        .where(acknowledgements.c.id == acknowledgement_id)
        .values(attempts=acknowledgements.c.attempts + 1, last_error=error[:2000])
    )
