"""The run records still marked running, by connector: the claim that takes a
connector's lease closes those a stopped process left open (hub.partners.leases), and
finds them here whatever the length of the connector's history.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 14:20:00.000000

A partial index: only the few records of runs in progress (or abandoned, until the next
claim closes them) are in it, so the hot path of a run's record (opened, then closed)
moves one small entry in and out. Existing records are left as they are: the first claim
of each connector after the upgrade closes what is stuck.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_connector_runs_running",
        "connector_runs",
        ["connector", "started_at"],
        sqlite_where=sa.text("outcome = 'running'"),
        postgresql_where=sa.text("outcome = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("ix_connector_runs_running", table_name="connector_runs")
