"""Console lists: a rejected record remembers when a later re-send or replay of its file
read that record without refusing it (fixed), and a case's outbox messages are found by
the case's reference without reading the whole outbox.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-05 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rejects") as batch:
        batch.add_column(
            sa.Column(
                "fixed_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="When a later re-send or replay read this record without refusing it.",
            )
        )
        batch.add_column(
            sa.Column(
                "fixed_by_run",
                BIGINT_ID,
                nullable=True,
                comment="The run (a re-send's or a replay's) that read the record again.",
            )
        )
        batch.create_foreign_key(
            op.f("fk_rejects_fixed_by_run_connector_runs"),
            "connector_runs",
            ["fixed_by_run"],
            ["id"],
        )
    op.create_index(op.f("ix_rejects_connector_source"), "rejects", ["connector", "source"])
    op.create_index(op.f("ix_outbox_case_ref"), "outbox", ["case_ref"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_case_ref"), table_name="outbox")
    op.drop_index(op.f("ix_rejects_connector_source"), table_name="rejects")
    with op.batch_alter_table("rejects") as batch:
        batch.drop_constraint(op.f("fk_rejects_fixed_by_run_connector_runs"), type_="foreignkey")
        batch.drop_column("fixed_by_run")
        batch.drop_column("fixed_at")
