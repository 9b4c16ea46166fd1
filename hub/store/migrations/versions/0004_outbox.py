"""Transactional outbox: messages to partners and retailers, claimed with leases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00.000000

The sync rules write outbox rows in the transaction of the events that cause them; the
dispatcher (hub/sync/outbox.py) claims due rows with a lease, sends them and marks them.
Both indexes are partial: delivered messages, the bulk of the table, are in neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column(
            "id", BIGINT_ID, autoincrement=True, nullable=False, comment="Also the send order."
        ),
        sa.Column(
            "target",
            sa.String(length=100),
            nullable=False,
            comment="Who receives it: a connector name or webhook:<retailer id>.",
        ),
        sa.Column("kind", sa.String(length=100), nullable=False, comment="The message's name."),
        sa.Column("case_ref", sa.String(length=128), nullable=True),
        sa.Column(
            "ordering_key",
            sa.String(length=200),
            nullable=False,
            comment="Messages with the same target and key go out in id order.",
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.String(length=16),
            nullable=False,
            comment="pending, delivered, dead, discarded",
        ),
        sa.Column(
            "attempts",
            sa.Integer(),
            nullable=False,
            comment="Claims so far, the current one included.",
        ),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt_status", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
        comment="Messages to send, written in the transaction of the events that cause them.",
    )
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["next_attempt_at"],
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_outbox_queue",
        "outbox",
        ["target", "ordering_key", "id"],
        sqlite_where=sa.text("state IN ('pending', 'dead')"),
        postgresql_where=sa.text("state IN ('pending', 'dead')"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_queue", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
