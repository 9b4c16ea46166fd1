"""The outbox's due index in claim order: ``(next_attempt_at, id)`` of pending messages,
so that a claim reads the due messages in the order it takes them and stops once it has
its batch, instead of reading and sorting every message due at the same moment (a
backlog queued in one transaction is all due at once).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 12:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _due(columns: list[str]) -> None:
    op.create_index(
        "ix_outbox_due",
        "outbox",
        columns,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )


def upgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    _due(["next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    _due(["next_attempt_at"])
