"""Connector leases: one run of a connector at a time across processes, with backoff.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:06:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_leases",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column(
            "owner", sa.String(length=200), nullable=True, comment="The process running it now."
        ),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, comment="Failed runs in a row."),
        sa.Column(
            "not_before",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Backing off until then.",
        ),
        sa.PrimaryKeyConstraint("connector", name=op.f("pk_connector_leases")),
        comment="One run of a connector at a time across every hub process; backoff state.",
    )


def downgrade() -> None:
    op.drop_table("connector_leases")
