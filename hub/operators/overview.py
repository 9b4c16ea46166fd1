"""A one-screen summary of the hub's state, for the main job and for operators."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.store.db import Database
from hub.store.figures import (
    cases_by_status,
    event_counts,
    outbox_by_state,
    parties_by_role,
    raw_message_count,
)
from hub.store.migrate import current_revision, head_revision


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
        by_role = parties_by_role(connection)
        by_status = {
            status or "none": count for status, count in cases_by_status(connection).items()
        }
        counts = event_counts(connection)
        messages = raw_message_count(connection)
        by_state = outbox_by_state(connection)
    return Overview(
        database=database.safe_url(),
        schema_revision=revision,
        schema_head=head,
        parties_by_role=by_role,
        cases_by_status=by_status,
        events=counts.stored,
        unmapped_events=counts.unmapped,
        orphan_events=counts.orphans,
        raw_messages=messages,
        outbox_by_state=by_state,
    )
