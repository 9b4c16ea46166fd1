"""Operator controls: connectors paused (by hand or by alerting) and replays recorded.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connector_leases") as batch:
        batch.add_column(
            sa.Column(
                "paused_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="Set while the connector is paused.",
            )
        )
        batch.add_column(
            sa.Column("paused_reason", sa.Text(), nullable=True, comment="Why, in a sentence.")
        )
        batch.add_column(
            sa.Column(
                "paused_by",
                sa.String(length=200),
                nullable=True,
                comment="Who: an operator or alerting.",
            )
        )
        batch.add_column(
            sa.Column(
                "failures_reset_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="Failed runs before this (the last resume) no longer count as in a row.",
            )
        )
    op.create_table(
        "replays",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["raw_messages.id"], name=op.f("fk_replays_message_id_raw_messages")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["connector_runs.id"], name=op.f("fk_replays_run_id_connector_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_replays")),
        comment="Runs that re-processed archived messages through today's mapping (hub "
        "replay); they are not the connector's own runs for its state and alerting.",
    )


def downgrade() -> None:
    op.drop_table("replays")
    with op.batch_alter_table("connector_leases") as batch:
        batch.drop_column("failures_reset_at")
        batch.drop_column("paused_by")
        batch.drop_column("paused_reason")
        batch.drop_column("paused_at")
