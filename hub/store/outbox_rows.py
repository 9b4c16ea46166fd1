"""An outbox message as the store gives it back, without SQLAlchemy: the store's reads
(hub.store.outbox) and the plain reads (hub.store.plain_reads) convert rows here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["OutboxRow", "OutboxState", "held_back_rows"]


class OutboxState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class OutboxRow:
    """A stored outbox message, as claimed by a dispatcher or listed for an operator."""

    id: int
    target: str
    kind: str
    case_ref: str | None
    ordering_key: str
    idempotency_key: str
    payload: Any
    created_at: datetime
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    receipt_status: int | None
    after_id: int | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> OutboxRow:
        """A row of ``ROW_COLUMNS`` (every field, in order), read by position: by name (a
        mapping of each row, the dataclass's fields listed again for each) it cost a
        claim about as much as the row's own processing (issue 17).

        The message's attributes are given at once, as the one dictionary the
        generated ``__init__`` would fill: a frozen dataclass's ``__init__`` sets each of
        the 17 fields through ``object.__setattr__``, 3.8 us a row against 0.8 (timeit;
        issue 17, seventeenth pass). The same instance, field by field (a test compares
        it with the constructor's); a row of another length is refused (``ValueError``):
        every reader selects all the columns."""
        attributes = dict(zip(_NAMES, row, strict=True))
        attributes["state"] = _STATES[attributes["state"]]
        message = object.__new__(cls)
        object.__setattr__(message, "__dict__", attributes)
        return message


_STATES = {state.value: state for state in OutboxState}
_NAMES = tuple(field.name for field in fields(OutboxRow))


def held_back_rows(rows: Iterable[Sequence[Any]]) -> dict[int, list[OutboxRow]]:
    """Rows of waiting messages, by the message each waits for."""
    found: dict[int, list[OutboxRow]] = {}
    for row in rows:
        message = OutboxRow.from_row(row)
        assert message.after_id is not None
        found.setdefault(message.after_id, []).append(message)
    return found
