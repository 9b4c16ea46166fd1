"""Erasures: the cases whose customer's personal data was erased, when and by whom; and
the indexes retention needs to ask, per archived message, whether anything still refers
to it (events, rejects, inbound files).

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-05 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("case_id", BIGINT_ID, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "requested_by",
            sa.String(length=200),
            nullable=False,
            comment="Who asked: a retailer's API key id, an operator, or retention.",
        ),
        sa.Column(
            "completed_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="None while the archive and the other tables are still being masked.",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_erasures_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_erasures")),
        comment="Cases whose customer's personal data was erased (GDPR), and by whom; the "
        "values themselves are kept nowhere.",
    )

    for table in ("events", "rejects", "inbound_messages"):
        op.create_index(f"ix_{table}_message_id", table, ["message_id"])


def downgrade() -> None:
    for table in ("events", "rejects", "inbound_messages"):
        op.drop_index(f"ix_{table}_message_id", table_name=table)
    op.drop_table("erasures")
