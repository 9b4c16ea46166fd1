"""Tenant-safe case links: who was given a case, who recorded a reference, why an event
waits unlinked.

A partner's reference written on a case by a retailer proved nothing, yet it was unique
and linked the partner's events; so was a serial. From here on such a link needs the
partner to have been given the case (``case_parties``), and a retailer's reference is
one claim among possibly several (``recorded_by``; no longer unique per partner).

Existing rows are sorted out from the events already stored: a reference the partner
itself reported together with the case is the partner's; every other one is taken as
the retailer's. A partner that reported events on a case was given it. Messages sent
before this revision are not known per partner here (the outbox names connectors, not
parties), so a partner that was sent a case but never reported on it is counted as
given at its next message.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("case_references") as batch:
        batch.add_column(
            sa.Column(
                "recorded_by",
                sa.String(length=16),
                nullable=False,
                server_default="retailer",
                comment="partner: the partner reported it with the case's own reference; "
                "retailer: the retailer (or an operator) wrote it on the case, unproven.",
            )
        )
        batch.drop_constraint("uq_case_references_party_id_reference", type_="unique")
        batch.create_index(
            "ix_case_references_party_id_reference", ["party_id", "reference"], unique=False
        )
    op.execute(
        """
        UPDATE case_references SET recorded_by = 'partner'
        WHERE EXISTS (
            SELECT 1 FROM events
            WHERE events.case_id = case_references.case_id
              AND events.reported_by = case_references.party_id
              AND events.partner_ref = case_references.reference
        )
        """
    )
    with op.batch_alter_table("case_references") as batch:
        batch.alter_column("recorded_by", server_default=None)
    op.create_table(
        "case_parties",
        sa.Column("case_id", BIGINT_ID, nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column(
            "how",
            sa.String(length=16),
            nullable=False,
            comment="message: the hub sent it one; report: the party reported an event "
            "naming the case.",
        ),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_parties_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_case_parties_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("case_id", "party_id", name=op.f("pk_case_parties")),
        comment="Which partners were given a case: only they may be linked to it by a "
        "serial or by a reference a retailer recorded (hub.partners.resolve).",
    )
    op.execute(
        """
        INSERT INTO case_parties (case_id, party_id, how, since)
        SELECT events.case_id, events.reported_by, 'report', MIN(events.recorded_at)
        FROM events JOIN parties ON parties.id = events.reported_by
        WHERE events.case_id IS NOT NULL AND parties.role NOT IN ('retailer', 'hub')
          AND events.case_ref IS NOT NULL
        GROUP BY events.case_id, events.reported_by
        """
    )
    op.create_table(
        "unlinked_reasons",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_unlinked_reasons")),
        comment="Why an event without a case was not linked (several candidates, a case "
        "the partner was never given), for the operator.",
    )


def downgrade() -> None:
    op.drop_table("unlinked_reasons")
    op.drop_table("case_parties")
    with op.batch_alter_table("case_references") as batch:
        batch.drop_index("ix_case_references_party_id_reference")
        batch.create_unique_constraint(
            "uq_case_references_party_id_reference", ["party_id", "reference"]
        )
        batch.drop_column("recorded_by")
