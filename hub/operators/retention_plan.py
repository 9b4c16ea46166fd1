"""What `hub retention --dry-run` says, worked out once from either store path: the
`Database`'s (hub.store.retention) or the plain reads' (hub.store.plain_reads), which
the dry run uses to start without SQLAlchemy (issue 17). Nothing here imports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from hub.store.retention_rows import KINDS

if TYPE_CHECKING:
    from hub.store.retention_rows import RetentionReads

__all__ = ["ANONYMISE", "KindPlan", "RetentionPeriods", "plan_of"]

ANONYMISE = "anonymise_closed_cases_after"

FOREVER = datetime.min.replace(tzinfo=UTC)
"""The cutoff of a kind kept forever: nothing is before it."""


class RetentionPeriods(Protocol):
    """Each kind's period: the validated ``retention:`` section
    (hub.config.retention.RetentionSpec) or the network's kept outline, which the dry run
    reads without pydantic (hub.partners.network_outline)."""

    def period(self, kind: str) -> timedelta | None:
        """The kind's period, None to keep it forever."""
        ...


@dataclass(frozen=True)
class KindPlan:
    """One kind of data: its period, what would go now, the oldest row kept."""

    kind: str
    period: timedelta | None
    due: int
    oldest_kept: datetime | None


def plan_of(reads: RetentionReads, spec: RetentionPeriods, moment: datetime) -> list[KindPlan]:
    """What retention would remove at ``moment``, kind by kind (a kind kept forever: 0,
    with its oldest row), then how many closed cases it would anonymise."""
    plans: list[KindPlan] = []
    for kind in KINDS:
        period = spec.period(kind)
        figures = reads.figures(kind, FOREVER if period is None else moment - period)
        plans.append(KindPlan(kind, period, figures.due, figures.oldest_kept))
    period = spec.period(ANONYMISE)
    due = 0 if period is None else reads.closed_cases_to_anonymise(moment - period)
    plans.append(KindPlan(ANONYMISE, period, due, None))
    return plans
