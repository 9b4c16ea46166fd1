"""Outbox failures: each time a message became a dead letter, kept after it is re-sent
(a correction of its case or an operator's replay), so that a case's page can say what
failed, when, and whether a later re-send fixed it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_failures",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("message_id", BIGINT_ID, nullable=False),
        sa.Column("case_ref", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column(
            "attempts", sa.Integer(), nullable=False, comment="Attempts made before it gave up."
        ),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "resent_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When it was queued again; the message's own state says how that went.",
        ),
        sa.Column(
            "resent_by", sa.String(length=16), nullable=True, comment="correction or replay."
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["outbox.id"], name=op.f("fk_outbox_failures_message_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_failures")),
        comment="Each time an outbox message became a dead letter: kept after it is re-sent.",
    )
    op.create_index(op.f("ix_outbox_failures_case_ref"), "outbox_failures", ["case_ref"])
    op.create_index(op.f("ix_outbox_failures_message_id"), "outbox_failures", ["message_id"])
    # The dead letters already there get their failure, dated by their last attempt.
    op.execute(
        "INSERT INTO outbox_failures (message_id, case_ref, error, attempts, failed_at) "
        "SELECT id, case_ref, COALESCE(last_error, ''), attempts, next_attempt_at "
        "FROM outbox WHERE state = 'dead'"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_failures_message_id"), table_name="outbox_failures")
    op.drop_index(op.f("ix_outbox_failures_case_ref"), table_name="outbox_failures")
    op.drop_table("outbox_failures")
