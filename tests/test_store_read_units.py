"""Units of work that only read are ``Database.reading()``: on SQLite they read beside a
writer that holds the lock instead of waiting for it (``transaction()``'s ``BEGIN
IMMEDIATE`` waited the whole busy timeout). Each read below runs while another unit
holds a write on the case, on connections that never wait for a lock (tests.locks):
one that asked for the writer's lock would fail at once with "database is locked".

A read a larger function makes past work of its own (a run refused, a unit lost to a
twin, a file fetched) has the writer begun there, just before the read; what such a
function does after its read (a partner asked, a write) is cut short (``PastTheRead``).
Each test here failed on SQLite with its read turned back into ``transaction()``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update
from typer.testing import CliRunner

import hub.api.erasure
import hub.bootstrap
import hub.partners.ingest.message
import hub.retailers.case_import_runs
from cli import app
from commands.common import case_reference
from demo.run import _counts, observe, relay_problems, summarise
from demo.session import Session
from demo.summary import figures_of
from hub.api import commands as api_commands
from hub.api.erasure import erase, read_erasure
from hub.api.webhook_endpoints import list_your_endpoints, read_endpoint
from hub.config.alerting import AlertingSpec
from hub.errors import ConflictError, NotFoundError
from hub.operators.webhook_endpoints import webhook_endpoint_overview
from hub.partners.alerts import after_run
from hub.partners.connectors import Network, open_network
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.paged import read_pages
from hub.partners.ingest.report import RunReport
from hub.partners.ingest.unprocessed import unprocessed_messages
from hub.partners.replay import message_source, messages_since
from hub.partners.runs import get_run, start_run
from hub.ports import MessageRef, PagedSource, RawMessage, Transport
from hub.retailers.case_import_runs import import_drop_folder
from hub.retailers.erasure import anonymise_closed_cases, erasure_status, finish_unfinished
from hub.retailers.tenants import Retailer, add_retailer
from hub.retailers.webhook_endpoints import register_endpoint, secret_box, send_test_event
from hub.store.archive import archive_message
from hub.store.cases import open_case
from hub.store.db import Database, StoreConflict
from hub.store.inbound import mark_read
from hub.store.leases import pause
from hub.store.migrate import current_revision
from hub.store.outbox_rows import OutboxRow, OutboxState
from hub.store.retention import ConnectionRetentionReads
from hub.store.tables import cases
from hub.sync.delivery import UndeliverableMessage, deliver_webhook, prepare_row, webhook_payloads
from hub.sync.failures import FAILED_KIND
from hub.sync.outbox import dead_letters, get_message, held_back_by
from tests.factories import make_case, register_network
from tests.locks import assert_case_held, not_waiting

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "ME-000123"
CONNECTOR = "atelier-dupont-orders"


@dataclass(frozen=True)
class Stored:
    """What the reads are asked about, stored before the writer holds the lock."""

    retailer: Retailer
    endpoint_id: str
    run_id: int
    message_id: int
    network: Network


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
    network = open_network(ROOT / "connectors.yaml")
    return Stored(retailer, endpoint.id, run_id, archived.id, network)


def _refused(error: type[Exception], read: Callable[[], object]) -> str:
    """A read whose answer is a refusal (nothing of that id): read all the same."""
    with pytest.raises(error):
        read()
    return "refused"


class PastTheRead(Exception):
    """Raised by what a function does after its read (a partner asked, a write): the
    read ran, and the test need not go further."""


class _Beyond:
    """A demo party, a transport or a paged source: any use of it is past the read."""

    def __getattr__(self, name: str) -> Any:
        raise PastTheRead(name)


def _past(read: Callable[[], object]) -> str:
    return _refused(PastTheRead, read)


def _row(target: str, *, kind: str = "case_event", payload: Any = None) -> OutboxRow:
    """An outbox message as a dispatcher claimed it, of the stored case."""
    return OutboxRow(
        id=1,
        target=target,
        kind=kind,
        case_ref=REFERENCE,
        ordering_key=REFERENCE,
        idempotency_key="msg_1",
        payload={"event_id": "ev-none"} if payload is None else payload,
        created_at=NOW,
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=NOW,
        lease_owner=None,
        lease_until=None,
        last_error=None,
        delivered_at=None,
        receipt_status=None,
    )


def _open_keys(db: Database, s: Stored, kind: str) -> list[str]:
    """The open items a per-item connector asks about, of either kind."""
    connector = s.network.connector("colis-express-parcels")
    asking = replace(connector, spec=connector.spec.model_copy(update={"open_items": kind}))
    return asking.open_keys(db, default="parcels")


def _owed_put(db: Database, s: Stored) -> int:
    """The acknowledgements owed to the carrier that asks for them: none, so no put (a
    put's record is a write)."""
    connector = s.network.connector("alpes-fret-status")
    acknowledger = connector.acknowledger(connector.pipeline().codec)
    assert acknowledger is not None
    return acknowledger.put_owed(db, cast(Transport, _Beyond()))


def _pages(db: Database, s: Stored) -> str:
    """A paged source's run: its stored cursor read, then the partner asked (past it)."""
    pipeline = s.network.connector("techniservice-changes").pipeline()
    report = RunReport(s.run_id, "techniservice-changes")
    return _past(lambda: read_pages(db, cast(PagedSource, _Beyond()), pipeline, report))


def _session(db: Database, s: Stored) -> Session:
    """The demo's session as its end-of-run reads use it: the database and network, no
    feed read, and parties whose use comes after the reads."""
    feed = SimpleNamespace(items=0)
    return cast(
        Session, SimpleNamespace(database=db, network=s.network, partners=_Beyond(), feed=feed)
    )


def _relay_problems(db: Database, _s: Stored) -> list[str]:
    """The relay carrier's parcels, none of which the hub lacks."""
    partners = SimpleNamespace(relay_carrier=SimpleNamespace(latest=dict))
    return relay_problems(cast(Session, SimpleNamespace(database=db, partners=partners)))


def _summarised(db: Database, s: Stored) -> str:
    return _past(
        lambda: summarise(
            _session(db, s), cast(Any, None), cast(Any, None), [], rounds=1, seconds=1.0, now=NOW
        )
    )


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
    "open parcels (open items)": lambda db, s: _open_keys(db, s, "parcels"),
    "open partner references (open items)": lambda db, s: _open_keys(db, s, "references"),
    "owed acknowledgements": _owed_put,
    "paged source's cursor": _pages,
    "webhook bodies read ahead (outbox)": lambda db, s: webhook_payloads(
        db, [_row("webhook:maison-electro")]
    ),
    "webhook body read when sent (outbox)": lambda db, s: _refused(
        UndeliverableMessage, lambda: deliver_webhook(db, s.network, _row("webhook:maison-electro"))
    ),
    "failure body read when sent (outbox)": lambda db, s: _refused(
        UndeliverableMessage,
        lambda: deliver_webhook(
            db,
            s.network,
            _row("webhook:maison-electro", kind=FAILED_KIND, payload={"failure_id": 1}),
        ),
    ),
    "registered endpoint read when sent (outbox)": lambda db, s: _refused(
        UndeliverableMessage,
        lambda: deliver_webhook(db, s.network, _row(f"webhook:{s.retailer.id}/{s.endpoint_id}")),
    ),
    "partner record's context (outbox)": lambda db, s: prepare_row(
        db, s.network, _row("atelier-dupont-orders", kind="repair_order", payload={})
    ),
    "demo's counts a round": lambda db, _s: _counts(db),
    "demo's figures": lambda db, s: figures_of(db, s.network, [], feed_items=0),
    "demo's relay parcels": _relay_problems,
    "demo's observed state": lambda db, s: _past(lambda: observe(_session(db, s))),
    "demo's summary": _summarised,
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


class Rival:
    """Another unit's write on the case, begun when ``hold`` is called (a point inside
    the function under test, just before its read) and ended with the test."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._units = ExitStack()
        self.held = False

    def hold(self) -> None:
        writing = self._units.enter_context(self._database.transaction())
        writing.execute(
            update(cases)
            .where(cases.c.reference == REFERENCE)
            .values(updated_at=cases.c.updated_at)
        )
        assert_case_held(self._database, REFERENCE)
        self.held = True

    def close(self) -> None:
        self._units.close()


@pytest.fixture
def rival(database: Database) -> Iterator[Rival]:
    writer = Rival(database)
    try:
        yield writer
    finally:
        writer.close()


Inner = Callable[[Database, Database, Stored, Rival, pytest.MonkeyPatch], None]


def _paused_check(
    database: Database, _impatient: Database, _s: Stored, rival: Rival, mp: pytest.MonkeyPatch
) -> None:
    """`hub run` of a paused connector: refused by the hub's jobs, then the pause read to
    say who paused it (the command's own ``Database``: impatient too, tests.locks; on
    PostgreSQL its connections' lock timeout short from the environment)."""
    status = "atelier-dupont-status"
    with database.transaction() as connection:
        pause(connection, status, reason="workshop moving servers", by="ana", at=NOW)
    refused = hub.bootstrap.Hub.run_now

    def run_now(self: hub.bootstrap.Hub, name: str) -> RunReport | None:
        report = refused(self, name)
        rival.hold()
        return report

    mp.setattr(hub.bootstrap.Hub, "run_now", run_now)
    mp.setenv("PGOPTIONS", "-c lock_timeout=200ms")
    env = {"HUB_CONNECTORS": str(ROOT / "connectors.yaml"), "HUB_DATABASE_URL": database.url}
    result = CliRunner().invoke(app, ["run", status], env=env)
    assert isinstance(result.exception, ConflictError), result.exception
    assert "is paused by ana" in result.exception.message


def _conflict_check(
    database: Database, impatient: Database, s: Stored, rival: Rival, mp: pytest.MonkeyPatch
) -> None:
    """A message whose storing unit lost to a concurrent twin (its read mark's unique
    key): whether the twin stored it, read on a connection of its own."""
    content = b"a;b\n"
    message = RawMessage(MessageRef("orders-1.csv", len(content)), content)
    with database.transaction() as connection:
        archived = archive_message(connection, CONNECTOR, message)
        mark_read(
            connection,
            CONNECTOR,
            name=message.ref.name,
            size=len(content),
            modified_at=None,
            sha256=archived.sha256,
            message_id=archived.id,
            run_id=None,
            read_at=NOW,
        )

    def lost_to_the_twin(*_args: Any, **_kwargs: Any) -> None:
        rival.hold()
        raise StoreConflict("INSERT INTO inbound_messages", None, Exception("unique"))

    mp.setattr(hub.partners.ingest.message, "_store_retried", lost_to_the_twin)
    pipeline = s.network.connector("atelier-dupont-status").pipeline()
    outcome = ingest_message(impatient, CONNECTOR, pipeline, message, archived=archived)
    assert outcome.skipped


def _import_lookup(
    _database: Database, impatient: Database, s: Stored, rival: Rival, mp: pytest.MonkeyPatch
) -> None:
    """A drop folder's file fetched, then its retailer read before the import (whose
    writes are past the read)."""
    message = RawMessage(MessageRef("cases.csv", 4), b"a;b\n")

    class Folder:
        def list(self) -> list[MessageRef]:
            return [message.ref]

        def fetch(self, _ref: MessageRef) -> RawMessage:
            rival.hold()
            return message

    imported: list[str] = []

    def importing(_db: Database, retailer: Retailer, *_args: Any, **_kwargs: Any) -> None:
        imported.append(retailer.id)
        raise PastTheRead("import_cases_csv")

    mp.setattr(hub.retailers.case_import_runs, "import_cases_csv", importing)
    report = RunReport(s.run_id, "maison-electro-drop")
    _past(lambda: import_drop_folder(impatient, cast(Transport, Folder()), s.retailer.id, report))
    assert imported == [s.retailer.id]


def _erasure_lookup(
    _database: Database, impatient: Database, s: Stored, rival: Rival, mp: pytest.MonkeyPatch
) -> None:
    """The API's erasure request: the caller's case read, then erased (a write, past the
    read)."""
    erased: list[str] = []

    def erasing(_db: Database, reference: str, **_kwargs: Any) -> None:
        erased.append(reference)
        raise PastTheRead("erase_case")

    mp.setattr(hub.api.erasure, "erase_case", erasing)
    rival.hold()
    _past(lambda: erase(REFERENCE, s.retailer, impatient))
    assert erased == [REFERENCE]


INNER: dict[str, Inner] = {
    "hub run's paused check": _paused_check,
    "ingestion conflict's check": _conflict_check,
    "case import's retailer": _import_lookup,
    "erasure request's case (API)": _erasure_lookup,
}


@pytest.mark.parametrize("name", list(INNER))
def test_a_read_only_unit_past_other_work_reads_beside_a_held_writer(
    database: Database,
    stored: Stored,
    impatient: Database,
    rival: Rival,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    """Reads a larger function makes past work of its own (a run refused, a unit lost
    to a twin, a file fetched): the writer is begun there, just before the read."""
    INNER[name](database, impatient, stored, rival, monkeypatch)
    assert rival.held
