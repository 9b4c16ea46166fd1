"""Operator console sessions: random ids kept server-side (as hashes), so that logging out
and expiry hold on every hub process sharing the database.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column(
            "id_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the session id; the id itself is only in the operator's cookie.",
        ),
        sa.Column(
            "credential",
            sa.String(length=64),
            nullable=False,
            comment="Fingerprint of the operator credential it was opened with: a new one ends it.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="For the idle expiry.",
        ),
        sa.Column(
            "expires_at", sa.DateTime(timezone=True), nullable=False, comment="Absolute expiry."
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_console_sessions")),
        comment="Operator console sessions, shared by every hub process on the database; "
        "logging out deletes the row.",
    )
    op.create_index(
        op.f("ix_console_sessions_expires_at"), "console_sessions", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_console_sessions_expires_at"), table_name="console_sessions")
    op.drop_table("console_sessions")
