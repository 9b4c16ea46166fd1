"""Each feed entry's item stored as the JSON a page writes for it (UTF-8 bytes), so that a
page joins stored bytes instead of converting and writing every row at every read.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 07:00:00.000000

The column is NULL until the fill (hub.store.feed_status) writes it, with or after the
entry's status-after; an erasure clears it for the erased case's entries, and the fill
writes it again from the masked event. Existing entries are left NULL here, the scheduled
fill writes them a batch per transaction; a page builds a NULL entry's item as it reads
it. The fill's index of entries to do follows the new column: every entry whose
status-after is not stored has no item either.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "feed_entries",
        sa.Column(
            "item_json",
            sa.LargeBinary(),
            nullable=True,
            comment="The item's JSON as a feed page writes it, less its cursor and status "
            "after; NULL until written by the fill, or cleared by an erasure "
            "(hub.store.feed_status).",
        ),
    )
    op.drop_index("ix_feed_entries_unfilled", table_name="feed_entries")
    op.create_index(
        "ix_feed_entries_unwritten",
        "feed_entries",
        ["txid", "position"],
        sqlite_where=sa.text("item_json IS NULL"),
        postgresql_where=sa.text("item_json IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_feed_entries_unwritten", table_name="feed_entries")
    op.create_index(
        "ix_feed_entries_unfilled",
        "feed_entries",
        ["txid", "position"],
        sqlite_where=sa.text("status_after IS NULL"),
        postgresql_where=sa.text("status_after IS NULL"),
    )
    # Plain ALTER TABLE on both databases (SQLite 3.35 and later), as 0018.
    op.execute("ALTER TABLE feed_entries DROP COLUMN item_json")
