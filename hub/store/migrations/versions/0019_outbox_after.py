"""A message may wait for another of its case (a rule's ``send`` with ``after``): the
workshop's repair order goes once the carrier has answered the pickup, so that it can
carry the parcel's tracking number.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 15:55:00.000000

No foreign key: retention removes delivered messages, and a message whose awaited one is
gone waits for nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column(
            "after_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="The message this one waits for: claimed only once that one is "
            "delivered or discarded.",
        ),
    )


def downgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite 3.35 and later), as 0018.
    op.execute("ALTER TABLE outbox DROP COLUMN after_id")
