"""Units of work that only read are ``Database.reading()``: on SQLite they read beside a
writer that holds the lock instead of waiting for it (``transaction()``'s ``BEGIN
IMMEDIATE`` waited the whole busy timeout). Each read below runs while another unit
holds a write on the case, on connections that never wait for a lock (tests.locks):
one that asked for the writer's lock would fail at once with "database is locked"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from commands.common import case_reference
from hub.api import commands as api_commands
from hub.api.erasure import read_erasure
from hub.api.webhook_endpoints import list_your_endpoints, read_endpoint
from hub.config.alerting import AlertingSpec
from hub.errors import NotFoundError
from hub.operators.webhook_endpoints import webhook_endpoint_overview
from hub.partners.alerts import after_run
from hub.partners.ingest.unprocessed import unprocessed_messages
from hub.partners.replay import message_source, messages_since
from hub.partners.runs import get_run, start_run
from hub.ports import MessageRef, RawMessage
from hub.retailers.erasure import anonymise_closed_cases, erasure_status, finish_unfinished
from hub.retailers.tenants import Retailer, add_retailer
from hub.retailers.webhook_endpoints import register_endpoint, secret_box, send_test_event
from hub.store.archive import archive_message
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.migrate import current_revision
from hub.store.retention import ConnectionRetentionReads
from hub.store.tables import cases
from hub.sync.outbox import dead_letters, get_message, held_back_by
from tests.factories import make_case, register_network
from tests.locks import assert_case_held, not_waiting

REFERENCE = "ME-000123"
CONNECTOR = "atelier-dupont-orders"


@dataclass(frozen=True)
class Stored:
    """What the reads are asked about, stored before the writer holds the lock."""

    retailer: Retailer
    endpoint_id: str
    run_id: int
    message_id: int


@pytest.fixture
def stored(database: Database, monkeypatch: pytest.MonkeyPatch) -> Stored:
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS_KEYS", Fernet.generate_key().decode())
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case(REFERENCE))
        retailer, _ = add_retailer(
            connection, name="Maison Électro", case_prefix="ME-", party_id="maison-electro"
        )
        endpoint, _ = register_endpoint(
            connection, retailer, url="https://93.184.216.34/hooks", box=secret_box()
        )
        archived = archive_message(
            connection, CONNECTOR, RawMessage(MessageRef("orders-1.csv"), b"a;b\n")
        )
    run_id = start_run(database, CONNECTOR)
    return Stored(retailer, endpoint.id, run_id, archived.id)


def _refused(error: type[Exception], read: Callable[[], object]) -> str:
    """A read whose answer is a refusal (nothing of that id): read all the same."""
    with pytest.raises(error):
        read()
    return "refused"


Read = Callable[[Database, Stored], object]
NOW = datetime.now(UTC)

READS: dict[str, Read] = {
    "webhook endpoints, listed (API)": lambda db, s: list_your_endpoints(s.retailer, db).items,
    "webhook endpoint, read (API)": lambda db, s: read_endpoint(s.endpoint_id, s.retailer, db),
    "webhook test event's endpoint": lambda db, s: _refused(
        NotFoundError, lambda: send_test_event(db, s.retailer, "we_none", box=secret_box())
    ),
    "webhook endpoints overview": lambda db, _s: webhook_endpoint_overview(db, now=NOW),
    "erasure status (API)": lambda db, s: _refused(
        NotFoundError, lambda: read_erasure(REFERENCE, s.retailer, db)
    ),
    "erasure status": lambda db, _s: erasure_status(db, REFERENCE),
    "unfinished erasures": lambda db, _s: finish_unfinished(db),
    "closed cases to anonymise": lambda db, _s: anonymise_closed_cases(
        db, closed_for=timedelta(days=1)
    ),
    "keys listed (command)": lambda db, _s: api_commands.keys_list("maison-electro", db.url),
    "endpoints listed (command)": lambda db, _s: api_commands.retailers_endpoints(
        "maison-electro", db.url
    ),
    "case reference as typed": lambda db, _s: case_reference(db, "me-000123"),
    "messages since": lambda db, _s: messages_since(db, CONNECTOR, NOW - timedelta(days=1)),
    "message source": lambda db, s: message_source(db, s.message_id),
    "unprocessed messages": lambda db, _s: unprocessed_messages(db, CONNECTOR),
    "run by id": lambda db, s: get_run(db, s.run_id).connector,
    "alerts after a run": lambda db, _s: after_run(db, CONNECTOR, AlertingSpec()),
    "outbox message": lambda db, _s: _refused(NotFoundError, lambda: get_message(db, 1)),
    "dead letters": lambda db, _s: dead_letters(db),
    "held back by dead letters": lambda db, _s: held_back_by(db, []),
    "retention figures": lambda db, _s: ConnectionRetentionReads(db).figures(
        "raw_archive", NOW - timedelta(days=30)
    ),
    "closed cases to anonymise, counted": lambda db, _s: ConnectionRetentionReads(
        db
    ).closed_cases_to_anonymise(NOW),
    "schema revision": lambda db, _s: current_revision(db),
}


@pytest.fixture
def impatient(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    with not_waiting(database, monkeypatch) as other:
        yield other


@pytest.mark.parametrize("name", list(READS))
def test_a_read_only_unit_reads_beside_a_held_writer(
    database: Database, stored: Stored, impatient: Database, name: str
) -> None:
    with database.transaction() as writing:
        writing.execute(
            update(cases)
            .where(cases.c.reference == REFERENCE)
            .values(updated_at=cases.c.updated_at)
        )
        assert_case_held(database, REFERENCE)
        READS[name](impatient, stored)
