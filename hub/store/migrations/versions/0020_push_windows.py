"""Pushes leave run records: one per connector and hour of pushes, its counts added up
push by push, so `hub runs` and the console show what a push connector received.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 17:50:00.000000

The unique index is what lets two pushes of the same hour, processed at once, find the
same record instead of opening two (an insert that conflicts updates instead).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "connector_runs",
        sa.Column(
            "push_window",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="The start of the hour of pushes this record adds up; NULL for every "
            "other run.",
        ),
    )
    op.create_index(
        "ix_connector_runs_connector_push_window",
        "connector_runs",
        ["connector", "push_window"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_connector_runs_connector_push_window", table_name="connector_runs")
    # Plain ALTER TABLE on both databases (SQLite 3.35 and later), as 0018.
    op.execute("ALTER TABLE connector_runs DROP COLUMN push_window")
