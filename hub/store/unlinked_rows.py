"""An event stored without a case, as the operators' listing shows it, without
SQLAlchemy: the store's read (hub.store.case_links) and the plain reads
(hub.store.plain_reads) convert rows here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["UnlinkedEvent", "unlinked_rows"]


@dataclass(frozen=True)
class UnlinkedEvent:
    """An event stored without a case, for the operator."""

    event_id: str
    reported_by: str
    type: str
    raw_code: str | None
    partner_ref: str | None
    case_ref: str | None
    subject: str | None
    occurred_at: datetime
    recorded_at: datetime
    reason: str


def unlinked_rows(rows: Iterable[Sequence[Any]]) -> list[UnlinkedEvent]:
    """Rows of ``hub.store.case_links.UNLINKED``, read by position."""
    found = []
    for row in rows:
        event_id, reported_by, kind, raw_code, partner_ref, case_ref, subject = row[:7]
        occurred_at, recorded_at, reason = row[7:]
        found.append(
            UnlinkedEvent(
                event_id=event_id,
                reported_by=reported_by,
                type=kind,
                raw_code=raw_code,
                partner_ref=partner_ref,
                case_ref=case_ref,
                subject=subject,
                occurred_at=occurred_at,
                recorded_at=recorded_at,
                reason=reason or _default_reason(case_ref, partner_ref),
            )
        )
    return found


def _default_reason(case_ref: str | None, partner_ref: str | None) -> str:
    if case_ref is not None:
        return f"no case {case_ref} yet: it links when the case is opened"
    if partner_ref is not None:
        return f"no case is known by the partner's reference {partner_ref}"
    return "the message names no case, partner reference, parts order or serial known here"
