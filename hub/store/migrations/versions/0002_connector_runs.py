"""Connector runs, rejects, inbound messages, cursors, parts orders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:19:08.888899
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A partner may know a case only by the product's serial number.
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(
            sa.Column("serial_number", sa.String(length=64), nullable=True, comment="Upper case.")
        )
        batch_op.create_index(batch_op.f("ix_cases_serial_number"), ["serial_number"])
    op.create_table(
        "connector_cursors",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", "name", name=op.f("pk_connector_cursors")),
    )
    op.create_table(
        "connector_runs",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome", sa.String(length=20), nullable=False, comment="running, succeeded, failed"
        ),
        sa.Column("messages_seen", sa.Integer(), nullable=False),
        sa.Column("messages_read", sa.Integer(), nullable=False),
        sa.Column("records_read", sa.Integer(), nullable=False),
        sa.Column("events_stored", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("unmapped", sa.Integer(), nullable=False),
        sa.Column("orphans", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column(
            "error_action",
            sa.String(length=32),
            nullable=True,
            comment="What to do next (NextAction).",
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_runs")),
    )
    op.create_index(
        op.f("ix_connector_runs_connector_started_at"),
        "connector_runs",
        ["connector", "started_at"],
    )

    op.create_table(
        "inbound_messages",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("size", BIGINT_ID, nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("message_id", BIGINT_ID, nullable=False),
        sa.Column("run_id", BIGINT_ID, nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["raw_messages.id"],
            name=op.f("fk_inbound_messages_message_id_raw_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["connector_runs.id"],
            name=op.f("fk_inbound_messages_run_id_connector_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "connector", "name", "sha256", name=op.f("uq_inbound_messages_connector_name_sha256")
        ),
        comment="What each connector has read: files by name, size, time and hash.",
    )
    op.create_table(
        "rejects",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", BIGINT_ID, nullable=True),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("message_id", BIGINT_ID, nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False, comment="File or message name."),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["raw_messages.id"], name=op.f("fk_rejects_message_id_raw_messages")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["connector_runs.id"], name=op.f("fk_rejects_run_id_connector_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejects")),
    )
    op.create_index(op.f("ix_rejects_connector_created_at"), "rejects", ["connector", "created_at"])

    op.create_table(
        "parts_orders",
        sa.Column(
            "id", sa.String(length=128), nullable=False, comment="The hub's order id; never reused."
        ),
        sa.Column("case_id", BIGINT_ID, nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("ship_to_id", sa.String(length=64), nullable=False),
        sa.Column(
            "document", sa.JSON(), nullable=False, comment="The canonical PartsOrder as JSON."
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_parts_orders_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["ship_to_id"], ["parties.id"], name=op.f("fk_parts_orders_ship_to_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["parties.id"], name=op.f("fk_parts_orders_supplier_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parts_orders")),
    )
    op.create_index(op.f("ix_parts_orders_case_id"), "parts_orders", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_parts_orders_case_id"), table_name="parts_orders")

    op.drop_table("parts_orders")
    op.drop_index(op.f("ix_rejects_connector_created_at"), table_name="rejects")

    op.drop_table("rejects")
    op.drop_table("inbound_messages")
    op.drop_index(op.f("ix_connector_runs_connector_started_at"), table_name="connector_runs")

    op.drop_table("connector_runs")
    op.drop_table("connector_cursors")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_serial_number"))
        batch_op.drop_column("serial_number")
