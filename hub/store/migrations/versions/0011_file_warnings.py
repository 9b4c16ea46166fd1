"""File warnings: what is wrong around a file that still went in (a sequence number
that skips between two files, one seen again, an older one), kept for the operator
until acknowledged.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_warnings",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("run_id", BIGINT_ID, nullable=True),
        sa.Column("message_id", BIGINT_ID, nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False, comment="File or message name."),
        sa.Column(
            "kind",
            sa.String(length=40),
            nullable=False,
            comment="sequence_gap, sequence_repeated, sequence_older.",
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "acknowledged_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When an operator saw it; until then the connector is flagged.",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["raw_messages.id"],
            name=op.f("fk_file_warnings_message_id_raw_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["connector_runs.id"], name=op.f("fk_file_warnings_run_id_connector_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_warnings")),
        comment="What is wrong around a file that still went in (a sequence gap between files).",
    )
    op.create_index(
        op.f("ix_file_warnings_connector_created_at"),
        "file_warnings",
        ["connector", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_file_warnings_connector_created_at"), table_name="file_warnings")
    op.drop_table("file_warnings")
