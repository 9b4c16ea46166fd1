"""Retailer API: webhook endpoints retailers manage themselves (their signing secrets
encrypted), and the first answer to each POST sent with an Idempotency-Key.

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column(
            "id",
            sa.String(length=32),
            nullable=False,
            comment="Public id, we_…, shown to the retailer.",
        ),
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column(
            "event_types",
            sa.JSON(),
            nullable=False,
            comment="The webhook event types it receives.",
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "secret",
            sa.Text(),
            nullable=False,
            comment="The signing secret, encrypted with a key from the environment (Fernet).",
        ),
        sa.Column(
            "previous_secret",
            sa.Text(),
            nullable=True,
            comment="The secret before the last rotation, encrypted; signs too until its end.",
        ),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.party_id"],
            name=op.f("fk_webhook_endpoints_retailer_id_retailers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        comment="Webhook endpoints a retailer manages through the API (beside connectors.yaml's).",
    )
    op.create_index(op.f("ix_webhook_endpoints_retailer_id"), "webhook_endpoints", ["retailer_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column(
            "key", sa.String(length=255), nullable=False, comment="The Idempotency-Key header."
        ),
        sa.Column(
            "operation",
            sa.String(length=300),
            nullable=False,
            comment="Method and path it was sent to.",
        ),
        sa.Column(
            "request_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the request body.",
        ),
        sa.Column(
            "status", sa.Integer(), nullable=True, comment="Null while the first request runs."
        ),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column(
            "response_body",
            sa.LargeBinary(),
            nullable=True,
            comment="The first answer's body (encrypted when it shows a secret).",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.party_id"],
            name=op.f("fk_idempotency_keys_retailer_id_retailers"),
        ),
        sa.PrimaryKeyConstraint("retailer_id", "key", name=op.f("pk_idempotency_keys")),
        comment="The first answer to each POST sent with an Idempotency-Key, replayed on a retry.",
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_webhook_endpoints_retailer_id"), table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
