"""A one-screen summary of the hub's state, for the main job and for operators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.store.db import Database
    from hub.store.figure_rows import EventCounts
    from hub.store.plain import PlainStore

# The store is imported where it is read: `hub overview` reads through hub.store.plain,
# without SQLAlchemy (issue 17), `hub up` through the `Database` it has just migrated.


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
    from hub.store.figures import (
        cases_by_status,
        event_counts,
        outbox_by_state,
        parties_by_role,
        raw_message_count,
    )
    from hub.store.migrate import current_revision, head_revision

    revision, head = current_revision(database), head_revision(database)
    if revision is None:
        return Overview(database.safe_url(), None, head)
    with database.reading() as connection:
        by_role = parties_by_role(connection)
        by_status = cases_by_status(connection)
        counts = event_counts(connection)
        messages = raw_message_count(connection)
        by_state = outbox_by_state(connection)
    return _overview(
        database.safe_url(), revision, head, by_role, by_status, counts, messages, by_state
    )


def plain_overview(store: PlainStore) -> Overview:
    """`overview` read without SQLAlchemy (hub.store.plain_reads): the same figures."""
    from hub.store.plain_reads import current_revision, head_revision, overview_figures

    revision, head = current_revision(store), head_revision(store)
    if revision is None:
        return Overview(store.safe_url(), None, head)
    figures = overview_figures(store)
    return _overview(
        store.safe_url(),
        revision,
        head,
        figures.parties_by_role,
        figures.cases_by_status,
        figures.events,
        figures.raw_messages,
        figures.outbox_by_state,
    )


def _overview(
    database: str,
    revision: str,
    head: str | None,
    by_role: dict[str, int],
    by_status: dict[str | None, int],
    counts: EventCounts,
    messages: int,
    by_state: dict[str, int],
) -> Overview:
    return Overview(
        database=database,
        schema_revision=revision,
        schema_head=head,
        parties_by_role=by_role,
        cases_by_status={status or "none": count for status, count in by_status.items()},
        events=counts.stored,
        unmapped_events=counts.unmapped,
        orphan_events=counts.orphans,
        raw_messages=messages,
        outbox_by_state=by_state,
    )
