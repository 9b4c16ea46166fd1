"""The hub's tables. Derived columns (a case's status) are caches of the events."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TextClause,
    UniqueConstraint,
    text,
)

from hub.store.types import BigIntId, UtcDateTime

_WHERE = "where"
"""The key of a partial index's predicate in its ``info``, read for PostgreSQL."""


def _partial_index(
    name: str, *columns: str | Column[object], where: ColumnElement[bool] | TextClause
) -> Index:
    """An index of the rows where ``where`` holds, on both databases.

    SQLite's predicate is given here; PostgreSQL's (the same, kept in the index's
    ``info``) is added by :func:`add_postgresql_predicates` when a PostgreSQL database is
    migrated. A ``postgresql_where`` given here would make SQLAlchemy import its
    PostgreSQL dialect with this module, which every command of a SQLite hub would pay
    at its start (issue 17); a PostgreSQL hub's engine imports that dialect anyway.
    """
    return Index(name, *columns, sqlite_where=where, info={_WHERE: where})


def partial_indexes() -> tuple[Index, ...]:
    """Every partial index of the tables."""
    return tuple(
        index
        for table in metadata.tables.values()
        for index in sorted(table.indexes, key=lambda found: str(found.name))
        if _WHERE in index.info
    )


def add_postgresql_predicates() -> None:
    """Give each partial index its PostgreSQL predicate too (idempotent): before DDL or
    a comparison of the metadata with a PostgreSQL database."""
    for index in partial_indexes():
        index.dialect_options["postgresql"]["where"] = index.info[_WHERE]


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
    Column(
        "recorded_by",
        String(16),
        nullable=False,
        comment="partner: the partner reported it with the case's own reference; "
        "retailer: the retailer (or an operator) wrote it on the case, unproven.",
    ),
    UniqueConstraint("case_id", "party_id"),
    # Not unique: a reference a retailer records proves nothing, so two cases may claim it.
    Index(None, "party_id", "reference"),
)

case_parties = Table(
    "case_parties",
    metadata,
    Column(
        "case_id",
        BigIntId,
        ForeignKey("cases.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("party_id", String(64), ForeignKey("parties.id"), primary_key=True),
    Column(
        "how",
        String(16),
        nullable=False,
        comment="message: the hub sent it one; report: "
        "the party reported an event naming the case.",
    ),
    Column("since", UtcDateTime, nullable=False),
    comment="Which partners were given a case: only they may be linked to it by a serial "
    "or by a reference a retailer recorded (hub.partners.resolve).",
)

unlinked_reasons = Table(
    "unlinked_reasons",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("noted_at", UtcDateTime, nullable=False),
    comment="Why an event without a case was not linked (several candidates, a case the "
    "partner was never given), for the operator.",
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
    Column(
        "compression",
        String(10),
        nullable=False,
        comment="How content is stored: none or zlib; sha256 and size are of the raw bytes.",
    ),
    Column("received_at", UtcDateTime, nullable=False),
    Column("meta", JSON, nullable=False),
    UniqueConstraint("source", "sha256"),
    Index(None, "source", "received_at"),  # a source's last arrival, one step (`hub status`)
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
    _partial_index(
        "ix_events_orphan_case_ref",
        "case_ref",
        where=text("case_id IS NULL"),
    ),
    _partial_index(
        "ix_events_orphan_subject",
        "subject",
        where=text("case_id IS NULL"),
    ),
    _partial_index(
        "ix_events_unmapped_reported_by",
        "reported_by",
        where=text("unmapped"),
    ),
    # The charts count breaches by deadline: a few rows among millions of events.
    _partial_index(
        "ix_events_service_level_occurred_at",
        "occurred_at",
        where=text("type = 'service_level'"),
    ),
)

parcels = Table(
    "parcels",
    metadata,
    Column("tracking_number", String(64), primary_key=True),
    Column("case_id", BigIntId, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "carrier",
        String(64),
        nullable=True,
        comment="The carrier's party id, when the message that taught the number named it.",
    ),
    Column("leg", String(32), nullable=True),
    Column(
        "learned_from",
        String(200),
        nullable=False,
        comment="The event that taught the hub this parcel's number for the case.",
    ),
    Column("recorded_at", UtcDateTime, nullable=False),
    comment="Parcels the hub knows the tracking numbers of, by case: a carrier's event "
    "with only a tracking number links through them.",
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
    Column(
        "push_window",
        UtcDateTime,
        nullable=True,
        comment="The start of the hour of pushes this record adds up; NULL for every other run.",
    ),
    Index(None, "connector", "started_at"),
    # Two pushes of one hour processed at once find the same record (hub.store.runs).
    Index(None, "connector", "push_window", unique=True),
    Index(None, "started_at"),  # the charts: every connector's runs of a period
    # The runs in progress, or left open by a stopped process until the next claim of
    # their connector closes them (hub.partners.leases): found without the history.
    _partial_index(
        "ix_connector_runs_running",
        "connector",
        "started_at",
        where=text("outcome = 'running'"),
    ),
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
    Column(
        "fixed_at",
        UtcDateTime,
        nullable=True,
        comment="When a later re-send or replay read this record without refusing it.",
    ),
    Column(
        "fixed_by_run",
        BigIntId,
        ForeignKey("connector_runs.id"),
        nullable=True,
        comment="The run (a re-send's or a replay's) that read the record again.",
    ),
    Index(None, "connector", "created_at"),
    Index(None, "connector", "source"),
)

file_warnings = Table(
    "file_warnings",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("connector", String(100), nullable=False),
    Column("run_id", BigIntId, ForeignKey("connector_runs.id"), nullable=True),
    Column("message_id", BigIntId, ForeignKey("raw_messages.id"), nullable=True),
    Column("source", String(500), nullable=False, comment="File or message name."),
    Column(
        "kind",
        String(40),
        nullable=False,
        comment="sequence_gap, sequence_repeated, sequence_older.",
    ),
    Column("reason", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column(
        "acknowledged_at",
        UtcDateTime,
        nullable=True,
        comment="When an operator saw it; until then the connector is flagged.",
    ),
    Index(None, "connector", "created_at"),
    comment="What is wrong around a file that still went in (a sequence gap between files).",
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

# --- Retailer API: tenants, their keys, and the feed (issue 6) ----------------------

retailers = Table(
    "retailers",
    metadata,
    Column("party_id", String(64), ForeignKey("parties.id"), primary_key=True),
    Column("case_prefix", String(16), nullable=False, unique=True),
    Column("cursor_key", String(64), nullable=False, comment="Signs this tenant's cursors."),
    Column("created_at", UtcDateTime, nullable=False),
    comment="Retailers that are tenants of the API; their case references carry the prefix.",
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True, comment="Public key id, shown in listings."),
    Column("retailer_id", String(64), ForeignKey("retailers.party_id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, comment="SHA-256 of the token, never it."),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("last_used_at", UtcDateTime, nullable=True),
)

feed_entries = Table(
    "feed_entries",
    metadata,
    Column("position", BigIntId, primary_key=True, autoincrement=True),
    Column("retailer_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column(
        "txid",
        BigIntId,
        nullable=False,
        comment="PostgreSQL: the writing transaction's xid8; SQLite: 0 (writes are serial).",
    ),
    Column("event_seq", BigIntId, ForeignKey("events.seq"), nullable=False, unique=True),
    # Copies of the (immutable) event, so a case's status history is read from here alone.
    Column("case_id", BigIntId, ForeignKey("cases.id"), nullable=False),
    Column("case_status", String(32), nullable=True, comment="Set for mapped case statuses."),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column(
        "status_after",
        String(32),
        nullable=True,
        comment="The case's status once this entry is applied ('' for none yet); "
        "NULL until filled below the feed's horizon (hub.store.feed_status).",
    ),
    Column(
        "item_json",
        LargeBinary,
        nullable=True,
        comment="The item's JSON as a feed page writes it, less its cursor and status "
        "after; NULL until written by the fill, or cleared by an erasure "
        "(hub.store.feed_status).",
    ),
    Index(None, "retailer_id", "txid", "position"),
    comment="Each event of a retailer's case, in the order the feed serves it. "
    "Filled by database triggers on events (migration 0003).",
)

_partial_index(
    "ix_feed_entries_case_id_txid_position_occurred_at",
    feed_entries.c.case_id,
    feed_entries.c.txid,
    feed_entries.c.position,
    feed_entries.c.occurred_at,
    where=feed_entries.c.case_status.is_not(None),
)
"""A case's status history in feed order, read without touching the rows (hub.store.feed)."""

_partial_index(
    "ix_feed_entries_unwritten",
    feed_entries.c.txid,
    feed_entries.c.position,
    where=feed_entries.c.item_json.is_(None),
)
"""The entries whose item (and with it, at first, their status-after) is still to be
stored, in feed order (hub.store.feed_status)."""

# --- Transactional outbox (issue 5) ---------------------------------------------------

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True, comment="Also the send order."),
    Column(
        "target",
        String(100),
        nullable=False,
        comment="Who receives it: a connector name or webhook:<retailer id>.",
    ),
    Column("kind", String(100), nullable=False, comment="The message's name."),
    Column("case_ref", String(128), nullable=True),
    Column(
        "ordering_key",
        String(200),
        nullable=False,
        comment="Messages with the same target and key go out in id order.",
    ),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False, comment="pending, delivered, dead, discarded"),
    Column("attempts", Integer, nullable=False, comment="Claims so far, the current one included."),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("receipt_status", Integer, nullable=True),
    Column(
        "after_id",
        BigIntId,
        nullable=True,
        comment="The message this one waits for: claimed only once that one is "
        "delivered or discarded.",
    ),
    # Claiming reads due pending messages in claim order, (next_attempt_at, id), and
    # stops at its batch; then checks that nothing earlier blocks their queue. Both
    # indexes leave out delivered messages, which are the bulk of the table.
    _partial_index(
        "ix_outbox_due",
        "next_attempt_at",
        "id",
        where=text("state = 'pending'"),
    ),
    Index(None, "case_ref"),
    _partial_index(
        "ix_outbox_queue",
        "target",
        "ordering_key",
        "id",
        where=text("state IN ('pending', 'dead')"),
    ),
    # The charts' outbox depth: messages written, and delivered, within a period.
    Index(None, "created_at"),
    Index(None, "delivered_at"),
    comment="Messages to send, written in the transaction of the events that cause them.",
)

outbox_failures = Table(
    "outbox_failures",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("message_id", BigIntId, ForeignKey("outbox.id"), nullable=False),
    Column("case_ref", String(128), nullable=True),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False, comment="Attempts made before it gave up."),
    Column("failed_at", UtcDateTime, nullable=False),
    Column(
        "resent_at",
        UtcDateTime,
        nullable=True,
        comment="When it was queued again; the message's own state says how that went.",
    ),
    Column("resent_by", String(16), nullable=True, comment="correction or replay."),
    Index(None, "case_ref"),
    Index(None, "message_id"),
    comment="Each time an outbox message became a dead letter: kept after it is re-sent.",
)

connector_leases = Table(
    "connector_leases",
    metadata,
    Column("connector", String(100), primary_key=True),
    Column("owner", String(200), nullable=True, comment="The process running it now."),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("failures", Integer, nullable=False, comment="Failed runs in a row."),
    Column("not_before", UtcDateTime, nullable=True, comment="Backing off until then."),
    # Operator controls (issue 7): a paused connector is never leased, so never run.
    Column("paused_at", UtcDateTime, nullable=True, comment="Set while the connector is paused."),
    Column("paused_reason", Text, nullable=True, comment="Why, in a sentence."),
    Column("paused_by", String(200), nullable=True, comment="Who: an operator or alerting."),
    Column(
        "failures_reset_at",
        UtcDateTime,
        nullable=True,
        comment="Failed runs before this (the last resume) no longer count as in a row.",
    ),
    comment="One run of a connector at a time across every hub process; backoff state.",
)

replays = Table(
    "replays",
    metadata,
    Column("run_id", BigIntId, ForeignKey("connector_runs.id"), primary_key=True),
    Column("message_id", BigIntId, ForeignKey("raw_messages.id"), nullable=True),
    Column("since", UtcDateTime, nullable=True),
    Column("requested_by", String(200), nullable=False),
    comment="Runs that re-processed archived messages through today's mapping (hub replay); "
    "they are not the connector's own runs for its state and alerting.",
)

# --- Operator console sessions (issue 11) ----------------------------------------------

console_sessions = Table(
    "console_sessions",
    metadata,
    Column(
        "id_hash",
        String(64),
        primary_key=True,
        comment="SHA-256 of the session id; the id itself is only in the operator's cookie.",
    ),
    Column(
        "credential",
        String(64),
        nullable=False,
        comment="Fingerprint of the operator credential it was opened with: a new one ends it.",
    ),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False, comment="For the idle expiry."),
    Column("expires_at", UtcDateTime, nullable=False, index=True, comment="Absolute expiry."),
    comment="Operator console sessions, shared by every hub process on the database; "
    "logging out deletes the row.",
)

# --- Acknowledgements the hub owes partners (issue 14) ---------------------------------

acknowledgements = Table(
    "acknowledgements",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("connector", String(100), nullable=False),
    Column(
        "control_reference",
        BigIntId,
        nullable=False,
        comment="The hub's counter per connector: each acknowledgement sent has its own.",
    ),
    Column(
        "message_id",
        BigIntId,
        ForeignKey("raw_messages.id"),
        nullable=False,
        index=True,
        comment="The archived message it acknowledges.",
    ),
    Column("name", String(500), nullable=False, comment="File name it is put under."),
    Column("content", LargeBinary, nullable=False, comment="Exactly the bytes put."),
    Column("accepted", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True, comment="None: still owed to the partner."),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("connector", "control_reference"),
    comment="Acknowledgements owed to partners (a CONTRL per interchange), kept until put.",
)

# --- Erasure of a customer's personal data (issue 18) ----------------------------------

erasures = Table(
    "erasures",
    metadata,
    Column("case_id", BigIntId, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("requested_at", UtcDateTime, nullable=False),
    Column(
        "requested_by",
        String(200),
        nullable=False,
        comment="Who asked: a retailer's API key id, an operator, or retention.",
    ),
    Column(
        "completed_at",
        UtcDateTime,
        nullable=True,
        comment="None while the archive and the other tables are still being masked.",
    ),
    comment="Cases whose customer's personal data was erased (GDPR), and by whom; the "
    "values themselves are kept nowhere.",
)

# Retention asks, per archived message, whether anything still refers to it.
Index("ix_events_message_id", events.c.message_id)
Index("ix_rejects_message_id", rejects.c.message_id)
Index("ix_inbound_messages_message_id", inbound_messages.c.message_id)

# --- Retailer API: webhook endpoints and idempotency keys (issue 16) -------------------

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True, comment="Public id, we_…, shown to the retailer."),
    Column("retailer_id", String(64), ForeignKey("retailers.party_id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("description", String(200), nullable=True),
    Column("event_types", JSON, nullable=False, comment="The webhook event types it receives."),
    Column("enabled", Boolean, nullable=False),
    Column(
        "secret",
        Text,
        nullable=False,
        comment="The signing secret, encrypted with a key from the environment (Fernet).",
    ),
    Column(
        "previous_secret",
        Text,
        nullable=True,
        comment="The secret before the last rotation, encrypted; signs too until its end.",
    ),
    Column("previous_secret_until", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    comment="Webhook endpoints a retailer manages through the API (beside connectors.yaml's).",
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("retailer_id", String(64), ForeignKey("retailers.party_id"), primary_key=True),
    Column("key", String(255), primary_key=True, comment="The Idempotency-Key header."),
    Column("operation", String(300), nullable=False, comment="Method and path it was sent to."),
    Column("request_hash", String(64), nullable=False, comment="SHA-256 of the request body."),
    Column("status", Integer, nullable=True, comment="Null while the first request runs."),
    Column("response_headers", JSON, nullable=True),
    Column(
        "response_body",
        LargeBinary,
        nullable=True,
        comment="The first answer's body (encrypted when it shows a secret).",
    ),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    comment="The first answer to each POST sent with an Idempotency-Key, replayed on a retry.",
)
