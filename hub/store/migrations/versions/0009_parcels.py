"""Parcels by tracking number: a carrier's event that names only the parcel links to the
case through the number the hub learned from another message (the supplier's shipped
event, the carrier's first event with the case reference, a return label); events
waiting for a number are found by their subject.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parcels",
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("case_id", BIGINT_ID, nullable=False),
        sa.Column(
            "carrier",
            sa.String(length=64),
            nullable=True,
            comment="The carrier's party id, when the message that taught the number named it.",
        ),
        sa.Column("leg", sa.String(length=32), nullable=True),
        sa.Column(
            "learned_from",
            sa.String(length=200),
            nullable=False,
            comment="The event that taught the hub this parcel's number for the case.",
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_parcels_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tracking_number", "case_id", name=op.f("pk_parcels")),
        comment="Parcels the hub knows the tracking numbers of, by case: a carrier's event "
        "with only a tracking number links through them.",
    )
    op.create_index(
        "ix_events_orphan_subject",
        "events",
        ["subject"],
        unique=False,
        sqlite_where=sa.text("case_id IS NULL"),
        postgresql_where=sa.text("case_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_orphan_subject", table_name="events")
    op.drop_table("parcels")
