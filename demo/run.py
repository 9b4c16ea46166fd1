"""Starting the demo network and driving its story, at full speed (`--once`) or live.

A session starts every party on loopback: the partners' SFTP servers (asyncssh) and
HTTP simulators, Maison Électro's webhook endpoint, and the hub itself (its API, partner
pushes and console, served by uvicorn) over a fresh SQLite database in the working
folder. The story then runs in rounds: the retailers open their cases, the partners
report what happened since the last round, the hub reads, stores and sends.

At full speed the hub's work is called directly each round (every reading connector,
the drop folder, service levels, the dispatcher until idle) until a round changes
nothing anywhere; live, the hub's own scheduler runs it, as `hub serve` does.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from rich.console import Console
from sqlalchemy import func, select
from starlette.types import ASGIApp

from demo.network import (
    DemoSecrets,
    Endpoints,
    SftpEndpoint,
    demo_network,
    export_secrets,
    write_network,
)
from demo.partners import Carrier, Partners, PartsSupplier, RepairNetwork, Workshop
from demo.retailers import FeedReader, WebhookReceiver
from demo.story import IMPORT_COLUMNS, ROUND, START, DemoCase, import_row, story
from demo.story import Path as StoryPath
from demo.summary import (
    Figures,
    Observed,
    check,
    dead_letters_of,
    delivered_by_connector,
    figures_of,
    hub_statuses,
    outbox_rows,
    print_summary,
    stored_rejects,
)
from hub.api.app import create_app
from hub.config.connector_spec import HttpPushTransportSpec
from hub.errors import ConfigurationError
from hub.mapping.spec import InboundSpec
from hub.model.parties import PartyRole
from hub.partners.connectors import Network, case_import_transport, open_network
from hub.retailers.case_import_runs import run_case_import
from hub.retailers.tenants import add_retailer
from hub.sla.publish import publish_breaches
from hub.sla.store import breaches
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.parties import save_party
from hub.store.tables import events, outbox
from hub.sync.delivery import ConnectorBatches, Senders, deliver_any
from hub.sync.outbox import Dispatcher, OutboxState
from simulators.colis_express import ColisExpressSimulator
from simulators.server import Simulator
from simulators.sftp import SftpServer
from simulators.techniservice import TechniServiceSimulator

MARKER = ".hub-demo"
"""Marks a folder as the demo's, so starting again may empty it (and nothing else)."""
MAX_ROUNDS = 80
QUIET_ROUNDS = 2
"""Rounds in a row without any change anywhere before the story counts as finished."""
PULL_EVERY = 4
"""Rounds between two pulls of the carrier's parcels, the safety net under its pushes
(its sheet allows 10 requests a second; every parcel on its way is one request)."""
BAD_ADDRESS_TARGET = "colis-express-pickups"


class HubServer(Simulator):
    """The hub's application on a loopback port, in a background thread."""

    def __init__(self, app: FastAPI, port: int) -> None:
        super().__init__(port=port)
        self._app = app

    def build_app(self) -> ASGIApp:
        return self._app


@dataclass
class Session:
    """Every party of a running demo."""

    folder: Path
    database: Database
    network: Network
    secrets: DemoSecrets
    hub: HubServer
    partners: Partners
    webhooks: WebhookReceiver
    feed: FeedReader
    me_key: str
    bm_key: str
    cases: list[DemoCase]
    drop: Path
    errors: ErrorCount

    @property
    def console_url(self) -> str:
        return f"{self.hub.base_url}/console"


def fresh_folder(folder: Path) -> None:
    """Empty the demo's working folder for a new session; refuse any other folder."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise ConfigurationError(
            f"{folder} is not empty and was not made by `hub demo`: give another --dir"
        )
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("Working folder of `hub demo`; emptied at each start.\n")


class ErrorCount(logging.Handler):
    """Counts the errors logged during the session, for the summary to mention."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


QUIET_LOGGERS = {"asyncssh": logging.WARNING, "paramiko": logging.WARNING}
"""Each SSH session's every step is logged at INFO by both libraries."""
SILENCED_LOGGERS = ("paramiko.transport",)
"""Paramiko reports a session the loopback server closed first as an error ("Connection
reset by peer") although nothing failed: the next session opens as usual."""


def _log_to(path: Path) -> ErrorCount:
    """The hub's and the partners' logs go to a file (uvicorn's too): the terminal shows
    the story. Returns the counter of errors logged from now on."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    errors = ErrorCount()
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, logging.FileHandler | ErrorCount)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.addHandler(errors)
    root.setLevel(logging.INFO)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    for name in SILENCED_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return errors


def _uvicorn_logs_to_root() -> None:
    """uvicorn gives its loggers their own terminal handlers; send them to the file."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def _sftp_root(folder: Path, *dirs: str) -> Path:
    for name in dirs:
        (folder / name).mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def demo_session(folder: Path, *, port: int = 0) -> Iterator[Session]:
    """Start every party; stop them all on the way out."""
    fresh_folder(folder)
    errors = _log_to(folder / "hub.log")
    secrets = DemoSecrets.generate()
    client_keys = [secrets.sftp_key.public_openssh]
    cases = story()
    by_reference = {case.reference: case for case in cases}
    with ExitStack() as stack:
        workshop_server = stack.enter_context(
            SftpServer(
                _sftp_root(folder / "atelier-dupont", "in", "out/archive"),
                username="hub-me",
                client_keys=client_keys,
            )
        )
        supplier_server = stack.enter_context(
            SftpServer(
                _sftp_root(folder / "pieces-plus", "orders/in", "orders/out"),
                username="hub",
                client_keys=client_keys,
            )
        )
        techniservice = stack.enter_context(
            TechniServiceSimulator(api_key=secrets.techniservice_key)
        )
        colis_express = stack.enter_context(
            ColisExpressSimulator(
                token=secrets.colis_express_token,
                push_secret=secrets.colis_express_push_secret,
                enr_on_pickup=False,  # the carrier scans on the story's clock (Carrier.act)
            )
        )
        webhooks = stack.enter_context(WebhookReceiver(secrets.maison_electro_webhook_secret))
        drop = folder / "drop" / "bricomarket"
        (drop / "done").mkdir(parents=True)
        endpoints = Endpoints(
            atelier_dupont=SftpEndpoint(workshop_server.port, workshop_server.host_key_fingerprint),
            pieces_plus=SftpEndpoint(supplier_server.port, supplier_server.host_key_fingerprint),
            techniservice_url=techniservice.base_url,
            colis_express_url=colis_express.base_url,
            maison_electro_webhook_url=webhooks.url,
            bricomarket_drop=drop.resolve(),
        )
        document = demo_network(endpoints)
        path = write_network(folder, document)
        export_secrets(secrets.environment(document))
        database = Database(f"sqlite:///{(folder / 'hub.db').resolve()}")
        stack.callback(database.dispose)
        upgrade(database)
        network = open_network(path)
        with database.transaction() as connection:
            for party in network.config.parties:
                save_party(connection, party)
            _, me_key = add_retailer(
                connection, name="Maison Électro", case_prefix="ME-", party_id="maison-electro"
            )
            _, bm_key = add_retailer(
                connection, name="BricoMarket", case_prefix="BM-", party_id="bricomarket"
            )
        hub = stack.enter_context(HubServer(create_app(database, network), port))
        _uvicorn_logs_to_root()
        colis_express.push_url = f"{hub.base_url}/partners/{_push_connector(network)}/events"
        feed = FeedReader(hub.base_url, bm_key.token)
        stack.callback(feed.close)
        carrier = Carrier(colis_express, by_reference)
        supplier = PartsSupplier(supplier_server, by_reference)
        partners = Partners(
            carrier=carrier,
            supplier=supplier,
            workshop=Workshop(workshop_server, by_reference, carrier, supplier),
            repair_network=RepairNetwork(techniservice, by_reference, carrier, supplier),
        )
        yield Session(
            folder=folder,
            database=database,
            network=network,
            secrets=secrets,
            hub=hub,
            partners=partners,
            webhooks=webhooks,
            feed=feed,
            me_key=me_key.token,
            bm_key=bm_key.token,
            cases=cases,
            drop=drop,
            errors=errors,
        )


def _push_connector(network: Network) -> str:
    for spec in network.config.connectors:
        if isinstance(spec.transport, HttpPushTransportSpec) and spec.partner == "colis-express":
            return spec.name
    raise ConfigurationError("the network has no push connector for colis-express")


# -- the retailers open their cases ---------------------------------------------------------


def open_cases(session: Session, batch: int) -> int:
    """The retailers' cases of one batch: Maison Électro's posted one by one to the API,
    BricoMarket's in its nightly CSV, dropped in the folder (first night) or uploaded to
    ``POST /v1/cases/import`` (second night)."""
    mine = [c for c in session.cases if c.retailer == "maison-electro"]
    theirs = [c for c in session.cases if c.retailer == "bricomarket"]
    me_half, bm_half = (len(mine) + 1) // 2, (len(theirs) + 1) // 2
    me_batch = mine[:me_half] if batch == 0 else mine[me_half:]
    bm_batch = theirs[:bm_half] if batch == 0 else theirs[bm_half:]
    with httpx.Client(base_url=session.hub.base_url, timeout=30) as client:
        for case in me_batch:
            answer = client.post(
                "/v1/cases",
                json=case.document(),
                headers={"Authorization": f"Bearer {session.me_key}"},
            )
            answer.raise_for_status()
        content = _import_file(bm_batch)
        night = (START + timedelta(days=batch - 1)).strftime("%Y%m%d")
        if batch == 0:
            partial = session.drop / f"export-{night}.tmp"
            partial.write_bytes(content)
            partial.rename(session.drop / f"CASES_{night}.csv")
        else:
            answer = client.post(
                "/v1/cases/import",
                files={"file": (f"CASES_{night}.csv", content, "text/csv")},
                headers={"Authorization": f"Bearer {session.bm_key}"},
            )
            answer.raise_for_status()
    return len(me_batch) + len(bm_batch)


def _import_file(batch: list[DemoCase]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(IMPORT_COLUMNS)
    writer.writerows(import_row(case) for case in batch)
    return buffer.getvalue().encode("utf-8")


# -- the hub's work, called directly ------------------------------------------------------------

_ROLE_ORDER = {PartyRole.CARRIER: 0, PartyRole.PARTS_SUPPLIER: 1, PartyRole.REPAIRER: 2}


def reading_connectors(network: Network) -> list[str]:
    """The connectors that read from partners, carrier first, then supplier, then repairers:
    the order things happen in within a round, so events are stored in that order.

    Push connectors are left out: the hub stores a push as it arrives (`hub serve` runs
    one only when it starts, for pushes archived before a stop).
    """
    roles = {party.id: party.role for party in network.config.parties}
    names = [
        spec.name
        for spec in network.config.connectors
        if spec.enabled
        and not isinstance(spec.transport, HttpPushTransportSpec)
        and isinstance(network.connector(spec.name).message, InboundSpec)
    ]
    return sorted(
        names,
        key=lambda name: _ROLE_ORDER.get(roles[network.config.connector(name).partner], 9),
    )


@dataclass
class HubWork:
    """The hub's work of one round, called directly instead of on its schedules."""

    session: Session
    dispatcher: Dispatcher
    errors: list[str]

    def run(self, round_number: int, now: datetime, *, pull_parcels: bool) -> int:
        """Read everything, publish breaches, send until idle; how many messages went out.

        The carrier's parcels are pulled only when ``pull_parcels``: they come pushed.
        """
        session = self.session
        network, database = session.network, session.database
        for name in reading_connectors(network):
            if _pulls_parcels(network, name) and not pull_parcels:
                continue
            report = network.connector(name).run(database)
            if report.error is not None:
                self.errors.append(f"round {round_number}: {name}: {report.error}")
        for drop in network.config.case_imports:
            report = run_case_import(
                database,
                drop.name,
                case_import_transport(drop),
                drop.retailer,
                on_stored=network.sync_hook(),
            )
            if report.error is not None:
                self.errors.append(f"round {round_number}: {drop.name}: {report.error}")
        publish_breaches(database, network, now=now)
        return self.dispatcher.run_until_idle().delivered


def _dispatcher(session: Session, senders: Senders) -> Dispatcher:
    database, network = session.database, session.network
    return Dispatcher(
        database,
        lambda row: deliver_any(database, network, row, senders),
        owner=f"hub-demo:{os.getpid()}",
        max_attempts=4,
        base_delay=0.2,
        max_delay=2.0,
        together=ConnectorBatches(database, network),
    )


def _counts(database: Database) -> tuple[int, int]:
    """Events stored and outbox messages pending, now."""
    with database.transaction() as connection:
        stored = connection.execute(select(func.count()).select_from(events)).scalar_one()
        pending = connection.execute(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.state == OutboxState.PENDING.value)
        ).scalar_one()
    return int(stored), int(pending)


@dataclass
class Outcome:
    """How a full-speed run ended."""

    rounds: int
    seconds: float
    problems: list[str]
    finished: bool
    end: datetime


def run_once(session: Session, console: Console) -> Outcome:
    """The whole story at full speed; then the summary and the consistency check."""
    started = time.monotonic()
    senders = Senders()
    work = HubWork(session, _dispatcher(session, senders), [])
    quiet, round_number, finished = 0, 0, False
    now = START
    try:
        with console.status("the story unfolds…") as status:
            next_time = START
            for round_number in range(MAX_ROUNDS):
                now, next_time = next_time, next_time + ROUND
                opened = open_cases(session, round_number) if round_number < 2 else 0
                before, _ = _counts(session.database)
                reported = session.partners.act(now)
                # A quiet round pulls too, so the story never ends on a missed push.
                pull = round_number % PULL_EVERY == 0 or quiet > 0
                sent = work.run(round_number, now, pull_parcels=pull)
                read = session.feed.poll()
                after, pending = _counts(session.database)
                changed = opened + reported + sent + read + (after - before) + pending
                quiet = quiet + 1 if changed == 0 else 0
                waiting = session.partners.waiting_until()
                if changed == 0 and waiting is not None and waiting > next_time:
                    next_time, quiet = waiting, 0  # days pass with nothing to report
                status.update(
                    f"round {round_number}: {reported} partner reports, {after - before} "
                    f"events stored, {sent} messages sent, {read} feed items read"
                )
                if quiet >= QUIET_ROUNDS:
                    finished = True
                    break
    finally:
        senders.close()
    seconds = time.monotonic() - started
    observed = observe(session)
    problems = check(observed) + work.errors
    if not finished:
        problems.append(f"the story did not settle within {MAX_ROUNDS} rounds")
    summarise(
        session, console, observed, problems, rounds=round_number + 1, seconds=seconds, now=now
    )
    return Outcome(round_number + 1, seconds, problems, finished, now)


def _pulls_parcels(network: Network, name: str) -> bool:
    """The carrier's pull connector: each parcel on its way, one request each."""
    spec = network.config.connector(name)
    return spec.partner == "colis-express" and spec.transport.type == "http-pull"


def expected_dead(session: Session) -> set[tuple[str, str]]:
    """The story's one expected dead letter: the pickup at an address the carrier refuses."""
    return {
        (BAD_ADDRESS_TARGET, case.reference)
        for case in session.cases
        if case.path is StoryPath.BAD_ADDRESS
    }


def observe(session: Session) -> Observed:
    """Every party's state, read from each party itself."""
    partners = session.partners
    with session.database.transaction() as connection:
        statuses = hub_statuses(connection)
        rows = outbox_rows(connection)
        rejected = stored_rejects(connection)
    held = {
        "atelier-dupont-orders": partners.workshop.held(),
        "techniservice-orders": partners.repair_network.held(),
        "pieces-plus-orders": partners.supplier.held(),
        "colis-express-pickups": _pickups(partners.carrier),
    }
    return Observed(
        hub_statuses=statuses,
        delivered=delivered_by_connector(rows),
        held=held,
        webhook_statuses=session.webhooks.statuses(),
        webhook_cases={c.reference for c in session.cases if c.retailer == "maison-electro"},
        feed_statuses=dict(session.feed.cases),
        feed_cases={c.reference for c in session.cases if c.retailer == "bricomarket"},
        pending=sum(1 for row in rows if row.state is OutboxState.PENDING),
        dead=dead_letters_of(rows),
        expected_dead=expected_dead(session),
        rejects=rejected,
        expected_rejects={(bad.file, bad.line) for bad in partners.workshop.bad_rows},
        reject_connector="atelier-dupont-status",
    )


def _pickups(carrier: Carrier) -> Counter[str]:
    return Counter(pickup.reference for pickup in carrier.simulator.received_pickups)


def summarise(
    session: Session,
    console: Console,
    observed: Observed,
    problems: list[str],
    *,
    rounds: int,
    seconds: float,
    now: datetime,
) -> None:
    with session.database.transaction() as connection:
        rows = outbox_rows(connection)
        open_breaches = breaches(connection, session.network, now=now)
    statuses, reporters, delivered = figures_of(
        session.database, session.network, rows, feed_items=session.feed.items
    )
    carrier = session.partners.carrier.simulator
    inbox = session.webhooks.inbox
    figures = Figures(
        statuses=statuses,
        events_by_reporter=reporters,
        delivered_by_party=delivered,
        feed_items=session.feed.items,
        breaches=[(b.case_ref, b.step.value, b.basis, _duration(b.late_by)) for b in open_breaches],
        rounds=rounds,
        seconds=seconds,
        extra={
            "Carrier pushes": f"{len(carrier.delivered_pushes)} delivered, "
            f"{len(carrier.skipped_pushes)} never sent (found by pulling)",
            "Maison Électro webhooks": f"{inbox.received} accepted, {inbox.repeats} repeats "
            f"dropped, {inbox.refused} refused",
            "Errors logged": f"{session.errors.count} (see {session.folder / 'hub.log'})",
        },
    )
    print_summary(console, figures, observed, problems, now=now)


def _duration(late: timedelta) -> str:
    hours = int(late.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"
