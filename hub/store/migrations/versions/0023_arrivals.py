"""The archive by source and arrival: a push connector's last arrival (`hub status`, the
console, /metrics) is read as one index step per source instead of from every message
the source ever sent.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 19:10:00.000000

Every archived message writes one entry more (its source and when it arrived); existing
messages are indexed by the upgrade, which reads the archive's two columns once.
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_raw_messages_source_received_at"), "raw_messages", ["source", "received_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_raw_messages_source_received_at"), table_name="raw_messages")
