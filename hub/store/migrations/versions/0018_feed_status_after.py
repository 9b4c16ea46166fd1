"""Each feed entry's status-after stored with it, so that a page is one indexed range read
instead of a computation over the cases' status history at every read.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 15:20:00.000000

The column is NULL until the fill (hub.store.feed_status) stores the value, which it does
only for entries below the feed's horizon, whose every predecessor has committed; a page
computes the value for any entry still NULL. Existing entries are left NULL here: the
scheduled fill stores them a batch per transaction instead of in one long migration.
Adding a nullable column does not rebuild ``events`` or ``feed_entries`` on SQLite, so the
triggers of migration 0003 stay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "feed_entries",
        sa.Column(
            "status_after",
            sa.String(length=32),
            nullable=True,
            comment="The case's status once this entry is applied ('' for none yet); "
            "NULL until filled below the feed's horizon (hub.store.feed_status).",
        ),
    )
    op.create_index(
        "ix_feed_entries_unfilled",
        "feed_entries",
        ["txid", "position"],
        sqlite_where=sa.text("status_after IS NULL"),
        postgresql_where=sa.text("status_after IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_feed_entries_unfilled", table_name="feed_entries")
    # Plain ALTER TABLE on both databases (SQLite 3.35 and later): batch mode would copy
    # feed_entries and rename the copy, which the triggers on events refuse.
    op.execute("ALTER TABLE feed_entries DROP COLUMN status_after")
