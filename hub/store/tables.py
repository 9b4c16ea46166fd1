"""The hub's tables. Derived columns (a case's status) are caches of the events."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from hub.store.types import BigIntId, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

parties = Table(
    "parties",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("name", String(200), nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("reference", String(128), nullable=False, unique=True),
    Column("retailer_id", String(64), ForeignKey("parties.id"), nullable=False, index=True),
    Column("document", JSON, nullable=False, comment="The canonical Case as JSON."),
    Column("content_hash", String(64), nullable=False),
    Column("serial_number", String(64), nullable=True, index=True, comment="Upper case."),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False, index=True),
    # Cache of the latest case-status event (the maximum of the event order).
    Column("status", String(32), nullable=True, index=True),
    Column("status_at", UtcDateTime, nullable=True),
    Column("status_event_id", String(200), nullable=True),
)

case_references = Table(
    "case_references",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("case_id", BigIntId, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("party_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("reference", String(128), nullable=False),
    UniqueConstraint("party_id", "reference"),
    UniqueConstraint("case_id", "party_id"),
)

raw_messages = Table(
    "raw_messages",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False, comment="Connector or endpoint it came from."),
    Column("name", String(500), nullable=False, comment="File name, URL or push id."),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("meta", JSON, nullable=False),
    UniqueConstraint("source", "sha256"),
)

events = Table(
    "events",
    metadata,
    Column("seq", BigIntId, primary_key=True, autoincrement=True, comment="Recording order."),
    Column("event_id", String(200), nullable=False, unique=True),
    Column("case_id", BigIntId, ForeignKey("cases.id"), nullable=True),
    Column("case_ref", String(128), nullable=True),
    Column("partner_ref", String(128), nullable=True),
    Column("type", String(32), nullable=False),
    Column("status", String(32), nullable=True),
    Column("unmapped", Boolean, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("occurred_offset_minutes", Integer, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("reported_by", String(64), nullable=False),
    Column("raw_code", Text, nullable=True),
    Column("raw_label", Text, nullable=True),
    Column("subject", String(128), nullable=True),
    Column("details", JSON(none_as_null=True), nullable=True),
    Column("message_id", BigIntId, ForeignKey("raw_messages.id"), nullable=True),
    Index(None, "case_id", "occurred_at"),
    # Partial indexes: only orphans need finding by reference, and only unmapped events
    # by reporter, so the common event pays for neither on the hot insert path.
    Index(
        "ix_events_orphan_case_ref",
        "case_ref",
        sqlite_where=text("case_id IS NULL"),
        postgresql_where=text("case_id IS NULL"),
    ),
    Index(
        "ix_events_unmapped_reported_by",
        "reported_by",
        sqlite_where=text("unmapped"),
        postgresql_where=text("unmapped"),
    ),
)

connector_runs = Table(
    "connector_runs",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("connector", String(100), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("outcome", String(20), nullable=False, comment="running, succeeded, failed"),
    Column("messages_seen", Integer, nullable=False, default=0),
    Column("messages_read", Integer, nullable=False, default=0),
    Column("records_read", Integer, nullable=False, default=0),
    Column("events_stored", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("unmapped", Integer, nullable=False, default=0),
    Column("orphans", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("error_action", String(32), nullable=True, comment="What to do next (NextAction)."),
    Column("error_message", Text, nullable=True),
    Index(None, "connector", "started_at"),
)

rejects = Table(
    "rejects",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("run_id", BigIntId, ForeignKey("connector_runs.id"), nullable=True),
    Column("connector", String(100), nullable=False),
    Column("message_id", BigIntId, ForeignKey("raw_messages.id"), nullable=True),
    Column("source", String(500), nullable=False, comment="File or message name."),
    Column("line", Integer, nullable=True),
    Column("field", String(200), nullable=True),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "connector", "created_at"),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("connector", String(100), nullable=False),
    Column("name", String(500), nullable=False),
    Column("size", BigIntId, nullable=True),
    Column("modified_at", UtcDateTime, nullable=True),
    Column("sha256", String(64), nullable=False),
    Column("message_id", BigIntId, ForeignKey("raw_messages.id"), nullable=False),
    Column("run_id", BigIntId, ForeignKey("connector_runs.id"), nullable=True),
    Column("read_at", UtcDateTime, nullable=False),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    UniqueConstraint("connector", "name", "sha256"),
    comment="What each connector has read: files by name, size, time and hash.",
)

connector_cursors = Table(
    "connector_cursors",
    metadata,
    Column("connector", String(100), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

parts_orders = Table(
    "parts_orders",
    metadata,
    Column("id", String(128), primary_key=True, comment="The hub's order id; never reused."),
    Column("case_id", BigIntId, ForeignKey("cases.id"), nullable=False, index=True),
    Column("supplier_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("ship_to_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("document", JSON, nullable=False, comment="The canonical PartsOrder as JSON."),
    Column("created_at", UtcDateTime, nullable=False),
)
