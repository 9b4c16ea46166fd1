"""A connector's rejected records and file warnings as the store gives them back, without
SQLAlchemy: the store's reads (hub.store.rejects, file_warnings) and the plain reads
(hub.store.plain_reads) convert rows here, so that both say the same (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["FileWarning", "Reject", "reject_of", "warning_of"]


@dataclass(frozen=True)
class Reject:
    """A kept rejected record, with where it was, why, and its raw text."""

    id: int
    connector: str
    run_id: int | None
    message_id: int | None
    source: str
    line: int | None
    field: str | None
    reason: str
    raw: str | None
    created_at: datetime
    fixed_at: datetime | None = None
    fixed_by_run: int | None = None


def reject_of(row: Any) -> Reject:
    """A ``rejects`` row (its columns by name)."""
    return Reject(
        id=row.id,
        connector=row.connector,
        run_id=row.run_id,
        message_id=row.message_id,
        source=row.source,
        line=row.line,
        field=row.field,
        reason=row.reason,
        raw=row.raw,
        created_at=row.created_at,
        fixed_at=row.fixed_at,
        fixed_by_run=row.fixed_by_run,
    )


@dataclass(frozen=True)
class FileWarning:
    """A kept warning: which file, what kind, why; acknowledged or not yet."""

    id: int
    connector: str
    run_id: int | None
    message_id: int | None
    source: str
    kind: str
    reason: str
    created_at: datetime
    acknowledged_at: datetime | None


def warning_of(row: Any) -> FileWarning:
    """A ``file_warnings`` row (its columns by name)."""
    return FileWarning(
        id=row.id,
        connector=row.connector,
        run_id=row.run_id,
        message_id=row.message_id,
        source=row.source,
        kind=row.kind,
        reason=row.reason,
        created_at=row.created_at,
        acknowledged_at=row.acknowledged_at,
    )
