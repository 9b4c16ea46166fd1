"""A one-screen summary of the hub's state, for the main job and for operators."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from hub.store.db import Database
from hub.store.migrate import current_revision, head_revision
from hub.store.tables import cases, events, outbox, parties, raw_messages


@dataclass(frozen=True)
class Overview:
    database: str
    schema_revision: str | None
    schema_head: str | None
    parties_by_role: dict[str, int] = field(default_factory=dict)
    cases_by_status: dict[str, int] = field(default_factory=dict)
    events: int = 0
    unmapped_events: int = 0
    orphan_events: int = 0
    raw_messages: int = 0
    outbox_by_state: dict[str, int] = field(default_factory=dict)

    @property
    def schema_up_to_date(self) -> bool:
        return self.schema_revision == self.schema_head


def overview(database: Database) -> Overview:
    """Counts read in one transaction, so they agree with each other."""
    revision, head = current_revision(database), head_revision(database)
    if revision is None:
        return Overview(database.safe_url(), None, head)
    with database.transaction() as connection:
        by_role = {
            str(role): int(count)
            for role, count in connection.execute(
                select(parties.c.role, func.count()).group_by(parties.c.role)
            )
        }
        by_status = {
            str(status or "none"): int(count)
            for status, count in connection.execute(
                select(cases.c.status, func.count()).group_by(cases.c.status)
            )
        }
        counts = connection.execute(
            select(
                func.count(),
                func.count().filter(events.c.unmapped.is_(True)),
                func.count().filter(events.c.case_id.is_(None)),
            ).select_from(events)
        ).one()
        messages = connection.execute(select(func.count()).select_from(raw_messages)).scalar_one()
        by_state = {
            str(state): int(count)
            for state, count in connection.execute(
                select(outbox.c.state, func.count()).group_by(outbox.c.state)
            )
        }
    return Overview(
        database=database.safe_url(),
        schema_revision=revision,
        schema_head=head,
        parties_by_role=by_role,
        cases_by_status=by_status,
        events=int(counts[0]),
        unmapped_events=int(counts[1]),
        orphan_events=int(counts[2]),
        raw_messages=int(messages),
        outbox_by_state=by_state,
    )
