"""Acknowledgements owed to partners (an EDIFACT CONTRL per interchange read): each with
its own control reference per connector, kept until the transport has put it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "acknowledgements",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column(
            "control_reference",
            BIGINT_ID,
            nullable=False,
            comment="The hub's counter per connector: each acknowledgement sent has its own.",
        ),
        sa.Column(
            "message_id",
            BIGINT_ID,
            nullable=False,
            comment="The archived message it acknowledges.",
        ),
        sa.Column(
            "name", sa.String(length=500), nullable=False, comment="File name it is put under."
        ),
        sa.Column("content", sa.LargeBinary(), nullable=False, comment="Exactly the bytes put."),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "sent_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="None: still owed to the partner.",
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["raw_messages.id"],
            name=op.f("fk_acknowledgements_message_id_raw_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgements")),
        sa.UniqueConstraint(
            "connector",
            "control_reference",
            name=op.f("uq_acknowledgements_connector_control_reference"),
        ),
        comment="Acknowledgements owed to partners (a CONTRL per interchange), kept until put.",
    )
    op.create_index(
        op.f("ix_acknowledgements_message_id"), "acknowledgements", ["message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_acknowledgements_message_id"), table_name="acknowledgements")
    op.drop_table("acknowledgements")
