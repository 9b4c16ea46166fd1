"""Indexes for the console's charts: runs by start, outbox messages by when they were
written and delivered, and service-level events by deadline, so that a period's figures
are read from its own rows rather than by scanning the whole of each table.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SERVICE_LEVEL = sa.text("type = 'service_level'")


def upgrade() -> None:
    op.create_index(op.f("ix_connector_runs_started_at"), "connector_runs", ["started_at"])
    op.create_index(op.f("ix_outbox_created_at"), "outbox", ["created_at"])
    op.create_index(op.f("ix_outbox_delivered_at"), "outbox", ["delivered_at"])
    op.create_index(
        "ix_events_service_level_occurred_at",
        "events",
        ["occurred_at"],
        sqlite_where=SERVICE_LEVEL,
        postgresql_where=SERVICE_LEVEL,
    )


def downgrade() -> None:
    op.drop_index("ix_events_service_level_occurred_at", table_name="events")
    op.drop_index(op.f("ix_outbox_delivered_at"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_created_at"), table_name="outbox")
    op.drop_index(op.f("ix_connector_runs_started_at"), table_name="connector_runs")
