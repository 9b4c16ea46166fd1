"""Retailer API: tenants, API keys, and the feed's commit-ordered entries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:30:00.000000

``feed_entries`` is filled by triggers on ``events`` so that every writer (ingestion,
API, CLI, later the sync engine) feeds the retailers without knowing it: an event
enters its retailer's feed when it is stored with a case, or when an orphan event is
attached to its case later. On PostgreSQL each entry records the writing transaction's
id (xid8) so the feed can be read in an order that no later commit can slip into (see
hub/retailers/feed.py). A later migration that rebuilds ``events`` on SQLite (batch mode copies
and drops the table) drops these triggers with it and must create them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POSTGRES_TRIGGERS = (
    """
    CREATE FUNCTION hub_feed_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO feed_entries
            (retailer_id, txid, event_seq, case_id, case_status, occurred_at)
        SELECT c.retailer_id, pg_current_xact_id()::text::bigint, n.seq, n.case_id,
            CASE WHEN n.type = 'case_status' THEN n.status END, n.occurred_at
        FROM new_events n JOIN cases c ON c.id = n.case_id
        ORDER BY n.seq
        ON CONFLICT (event_seq) DO NOTHING;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION hub_feed_on_attach() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO feed_entries
            (retailer_id, txid, event_seq, case_id, case_status, occurred_at)
        SELECT c.retailer_id, pg_current_xact_id()::text::bigint, n.seq, n.case_id,
            CASE WHEN n.type = 'case_status' THEN n.status END, n.occurred_at
        FROM new_events n
        JOIN old_events o ON o.seq = n.seq
        JOIN cases c ON c.id = n.case_id
        WHERE o.case_id IS NULL
        ORDER BY n.seq
        ON CONFLICT (event_seq) DO NOTHING;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER events_enter_feed AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION hub_feed_on_insert()
    """,
    """
    CREATE TRIGGER events_attach_to_feed AFTER UPDATE ON events
    REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION hub_feed_on_attach()
    """,
)

SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER events_enter_feed AFTER INSERT ON events
    WHEN NEW.case_id IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO feed_entries
            (retailer_id, txid, event_seq, case_id, case_status, occurred_at)
        SELECT retailer_id, 0, NEW.seq, NEW.case_id,
            CASE WHEN NEW.type = 'case_status' THEN NEW.status END, NEW.occurred_at
        FROM cases WHERE id = NEW.case_id;
    END
    """,
    """
    CREATE TRIGGER events_attach_to_feed AFTER UPDATE OF case_id ON events
    WHEN OLD.case_id IS NULL AND NEW.case_id IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO feed_entries
            (retailer_id, txid, event_seq, case_id, case_status, occurred_at)
        SELECT retailer_id, 0, NEW.seq, NEW.case_id,
            CASE WHEN NEW.type = 'case_status' THEN NEW.status END, NEW.occurred_at
        FROM cases WHERE id = NEW.case_id;
    END
    """,
)

BACKFILL = """
    INSERT INTO feed_entries (retailer_id, txid, event_seq, case_id, case_status, occurred_at)
    SELECT c.retailer_id, 0, e.seq, e.case_id,
        CASE WHEN e.type = 'case_status' THEN e.status END, e.occurred_at
    FROM events e JOIN cases c ON c.id = e.case_id
    ORDER BY e.seq
"""
"""Events stored before this revision enter the feed first, in recording order."""


def upgrade() -> None:
    op.create_table(
        "retailers",
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("case_prefix", sa.String(length=16), nullable=False),
        sa.Column(
            "cursor_key",
            sa.String(length=64),
            nullable=False,
            comment="Signs this tenant's cursors.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_retailers_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("party_id", name=op.f("pk_retailers")),
        sa.UniqueConstraint("case_prefix", name=op.f("uq_retailers_case_prefix")),
        comment="Retailers that are tenants of the API; their case references carry the prefix.",
    )
    op.create_table(
        "api_keys",
        sa.Column(
            "id",
            sa.String(length=32),
            nullable=False,
            comment="Public key id, shown in listings.",
        ),
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column(
            "token_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the token, never it.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["retailer_id"],
            ["retailers.party_id"],
            name=op.f("fk_api_keys_retailer_id_retailers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_retailer_id"), "api_keys", ["retailer_id"])

    op.create_table(
        "feed_entries",
        sa.Column("position", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("retailer_id", sa.String(length=64), nullable=False),
        sa.Column(
            "txid",
            BIGINT_ID,
            nullable=False,
            comment="PostgreSQL: the writing transaction's xid8; SQLite: 0 (writes are serial).",
        ),
        sa.Column("event_seq", BIGINT_ID, nullable=False),
        sa.Column("case_id", BIGINT_ID, nullable=False),
        sa.Column(
            "case_status",
            sa.String(length=32),
            nullable=True,
            comment="Set for mapped case statuses.",
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_feed_entries_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name=op.f("fk_feed_entries_event_seq_events")
        ),
        sa.ForeignKeyConstraint(
            ["retailer_id"], ["parties.id"], name=op.f("fk_feed_entries_retailer_id_parties")
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_feed_entries")),
        sa.UniqueConstraint("event_seq", name=op.f("uq_feed_entries_event_seq")),
        comment="Each event of a retailer's case, in the order the feed serves it. "
        "Filled by database triggers on events (migration 0003).",
    )
    op.create_index(
        op.f("ix_feed_entries_retailer_id_txid_position"),
        "feed_entries",
        ["retailer_id", "txid", "position"],
    )
    op.create_index(
        op.f("ix_feed_entries_case_id_txid_position_occurred_at"),
        "feed_entries",
        ["case_id", "txid", "position", "occurred_at"],
        sqlite_where=sa.text("case_status IS NOT NULL"),
        postgresql_where=sa.text("case_status IS NOT NULL"),
    )
    op.execute(BACKFILL)
    triggers = POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS events_attach_to_feed" + _on_events())
    op.execute("DROP TRIGGER IF EXISTS events_enter_feed" + _on_events())
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS hub_feed_on_attach()")
        op.execute("DROP FUNCTION IF EXISTS hub_feed_on_insert()")
    op.drop_index(
        op.f("ix_feed_entries_case_id_txid_position_occurred_at"), table_name="feed_entries"
    )
    op.drop_index(op.f("ix_feed_entries_retailer_id_txid_position"), table_name="feed_entries")

    op.drop_table("feed_entries")
    op.drop_index(op.f("ix_api_keys_retailer_id"), table_name="api_keys")

    op.drop_table("api_keys")
    op.drop_table("retailers")


def _on_events() -> str:
    """PostgreSQL names a trigger's table when dropping it; SQLite refuses that syntax."""
    return " ON events" if op.get_bind().dialect.name == "postgresql" else ""
