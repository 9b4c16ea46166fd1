"""Foundation: parties, cases and their references, events, raw message archive.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:11:51.050419
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
    )
    op.create_table(
        "raw_messages",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column(
            "source",
            sa.String(length=100),
            nullable=False,
            comment="Connector or endpoint it came from.",
        ),
        sa.Column(
            "name", sa.String(length=500), nullable=False, comment="File name, URL or push id."
        ),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column(
            "compression",
            sa.String(length=10),
            nullable=False,
            comment="How content is stored: none or zlib; sha256 and size are of the raw bytes.",
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_messages")),
        sa.UniqueConstraint("source", "sha256", name=op.f("uq_raw_messages_source_sha256")),
    )
    op.create_table(
        "cases",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False, comment="The canonical Case as JSON."),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_event_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["retailer_id"], ["parties.id"], name=op.f("fk_cases_retailer_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    op.create_index(op.f("ix_cases_retailer_id"), "cases", ["retailer_id"])
    op.create_index(op.f("ix_cases_status"), "cases", ["status"])
    op.create_index(op.f("ix_cases_updated_at"), "cases", ["updated_at"])

    op.create_table(
        "case_references",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", BIGINT_ID, nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_references_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_case_references_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_references")),
        sa.UniqueConstraint(
            "case_id", "party_id", name=op.f("uq_case_references_case_id_party_id")
        ),
        sa.UniqueConstraint(
            "party_id", "reference", name=op.f("uq_case_references_party_id_reference")
        ),
    )
    op.create_table(
        "events",
        sa.Column("seq", BIGINT_ID, autoincrement=True, nullable=False, comment="Recording order."),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("case_id", BIGINT_ID, nullable=True),
        sa.Column("case_ref", sa.String(length=128), nullable=True),
        sa.Column("partner_ref", sa.String(length=128), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("unmapped", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_offset_minutes", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("raw_code", sa.Text(), nullable=True),
        sa.Column("raw_label", sa.Text(), nullable=True),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("message_id", BIGINT_ID, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_events_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["raw_messages.id"], name=op.f("fk_events_message_id_raw_messages")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index(op.f("ix_events_case_id_occurred_at"), "events", ["case_id", "occurred_at"])
    op.create_index(
        "ix_events_orphan_case_ref",
        "events",
        ["case_ref"],
        sqlite_where=sa.text("case_id IS NULL"),
        postgresql_where=sa.text("case_id IS NULL"),
    )
    op.create_index(
        "ix_events_unmapped_reported_by",
        "events",
        ["reported_by"],
        sqlite_where=sa.text("unmapped"),
        postgresql_where=sa.text("unmapped"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_unmapped_reported_by", table_name="events")
    op.drop_index("ix_events_orphan_case_ref", table_name="events")
    op.drop_index(op.f("ix_events_case_id_occurred_at"), table_name="events")

    op.drop_table("events")
    op.drop_table("case_references")
    op.drop_index(op.f("ix_cases_updated_at"), table_name="cases")
    op.drop_index(op.f("ix_cases_status"), table_name="cases")
    op.drop_index(op.f("ix_cases_retailer_id"), table_name="cases")

    op.drop_table("cases")
    op.drop_table("raw_messages")
    op.drop_table("parties")
