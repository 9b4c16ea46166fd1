"""Starting the demo network: every party on loopback, and the hub over a fresh database.

A session starts the partners' SFTP servers (asyncssh) and HTTP simulators, Maison
Électro's webhook endpoint, and the hub itself, built by the composition root
(hub.bootstrap) as `hub serve` builds it: its API, partner pushes and console served by
uvicorn, its jobs ready to be driven, over a fresh SQLite database in the working folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fastapi import FastAPI
from starlette.types import ASGIApp

from demo.network import (
    PRODUCTION_NETWORK,
    DemoSecrets,
    Endpoints,
    SftpEndpoint,
    demo_network,
    export_secrets,
    plugin_installed,
    write_network,
)
from demo.partners import Carrier, Partners, PartsSupplier, RepairNetwork, Workshop
from demo.partners.alpes_fret import AlpesFret
from demo.partners.elec_distrib import ElecDistrib
from demo.partners.plugin_workshop import spool_acknowledgement
from demo.partners.relais_direct import RelaisDirect, counter_drop_off
from demo.partners.repar_ouest import ReparOuest
from demo.partners.world import World
from demo.retailers import FeedReader, WebhookReceiver
from demo.story import START, DemoCase, story
from hub.bootstrap import Hub, Retries
from hub.clock import SharedClock
from hub.config.home_file import HomeSettings, write_home
from hub.config.sync import Role
from hub.errors import ConfigurationError, ConflictError
from hub.model.case import Case
from hub.partners.connectors import Network, open_network
from hub.retailers.tenants import add_retailer
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.parties import save_party
from hub.sync.rules import route_for
from simulators.alpes_fret import AlpesFretSimulator
from simulators.colis_express import ColisExpressSimulator
from simulators.elec_distrib import ElecDistribSimulator
from simulators.relais_direct import RelaisDirectSimulator
from simulators.server import Simulator
from simulators.sftp import SftpServer
from simulators.techniservice.app import TechniServiceSimulator

MARKER = ".hub-demo"
"""Marks a folder as the demo's, so starting again may empty it (and nothing else)."""
ED_TOKEN_LIFETIME = 30
"""Élec Distrib's tokens last 15 minutes; the demo's a few seconds' worth of rounds, so
that the hub renews them during the story."""
LOCK = ".hub-demo.lock"
"""Held by the running demo (FolderLock): names its process; emptying the folder keeps it."""
CLOCK_FILE = "clock"
"""The story's current instant, for the CLI run against this folder (hub.yaml names it)."""
RETRIES = Retries(max_attempts=4, base_delay=0.2, max_delay=2.0)
"""The story runs in minutes: a message that cannot go through is dead within seconds."""


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
    core: Hub
    """The hub as the composition root built it: its jobs, supervisor and senders."""
    clock: SharedClock
    """The story's time: moved each round, the hub's one clock (and its home's)."""
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


class FolderLock:
    """The demo's hold on its working folder, for as long as its session runs.

    A lock file in the folder names the process (pid, when it started) and is held with
    an exclusive ``flock``: a second `hub demo` on the same folder is refused, naming
    that process, before it empties anything. The kernel lets go of the ``flock`` when
    its process dies however it dies, so a lock file left by a killed demo is stale and
    the next demo takes it over.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Hold the folder, or raise ConflictError naming the process that holds it."""
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConflictError(
                f"{self.path.parent} is in use by the demo of {holder}: stop that one "
                "(Ctrl-C in its terminal), or give this one another --dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} (started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Let go of the folder: the next demo may empty it."""
        if self._file is not None:
            self._file.truncate(0)
            self._file.close()  # closing releases the flock
            self._file = None


def fresh_folder(folder: Path) -> FolderLock:
    """Hold the demo's working folder and empty it for a new session (its lock file
    kept); refuse any other folder, and one another demo holds (ConflictError)."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise ConfigurationError(
            f"{folder} is not empty and was not made by `hub demo`: give another --dir"
        )
    folder.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(folder)
    lock.acquire()
    for entry in folder.iterdir():
        if entry.name == LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (folder / MARKER).write_text("Working folder of `hub demo`; emptied at each start.\n")
    return lock


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
def demo_session(
    folder: Path, *, port: int = 0, production: Path | None = None
) -> Iterator[Session]:
    """Start every party; stop them all on the way out. ``production``: the network file
    whose simulated parties the demo plays (default: the repository's)."""
    lock = fresh_folder(folder)
    try:
        with _session(folder, port=port, production=production) as session:
            yield session
    finally:
        lock.release()


@contextmanager
def _session(folder: Path, *, port: int, production: Path | None) -> Iterator[Session]:
    """Every party started in the (held, emptied) folder; stopped on the way out."""
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
        repar_ouest_server = stack.enter_context(
            SftpServer(
                _sftp_root(folder / "repar-ouest", "sortie/lu", "entree"),
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
        client_id, client_secret = secrets.elec_distrib_client
        elec_distrib = stack.enter_context(
            ElecDistribSimulator(
                client_id=client_id, client_secret=client_secret, token_lifetime=ED_TOKEN_LIFETIME
            )
        )
        relais_direct = stack.enter_context(
            RelaisDirectSimulator(
                key=secrets.relais_direct_soap_key, push_key=secrets.relais_direct_push_key
            )
        )
        alpes_fret_server = stack.enter_context(
            SftpServer(
                _sftp_root(folder / "alpes-fret", "in", "out/archive"),
                username="hubsav",
                client_keys=client_keys,
            )
        )
        phone_bookings = (folder / "phone-bookings" / "alpes-fret").resolve()
        phone_bookings.mkdir(parents=True)
        webhooks = stack.enter_context(WebhookReceiver(secrets.maison_electro_webhook_secret))
        drop = folder / "drop" / "bricomarket"
        (drop / "done").mkdir(parents=True)
        plugin_spool = None
        if plugin_installed():
            plugin_spool = (folder / "spool" / "plugin-workshop").resolve()
            spool_acknowledgement(plugin_spool, cases[0])
        endpoints = Endpoints(
            atelier_dupont=SftpEndpoint(workshop_server.port, workshop_server.host_key_fingerprint),
            pieces_plus=SftpEndpoint(supplier_server.port, supplier_server.host_key_fingerprint),
            techniservice_url=techniservice.base_url,
            colis_express_url=colis_express.base_url,
            maison_electro_webhook_url=webhooks.url,
            bricomarket_drop=drop.resolve(),
            plugin_spool=plugin_spool,
            elec_distrib_url=elec_distrib.base_url,
            relais_direct_url=relais_direct.base_url,
            alpes_fret=SftpEndpoint(alpes_fret_server.port, alpes_fret_server.host_key_fingerprint),
            alpes_fret_bookings=phone_bookings,
            repar_ouest=SftpEndpoint(
                repar_ouest_server.port, repar_ouest_server.host_key_fingerprint
            ),
        )
        document = demo_network(endpoints, production or PRODUCTION_NETWORK)
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
        # The story's clock, shared: the hub measures service levels by it, and the CLI
        # pointed at this folder (its hub.yaml) reads the same instant from its file.
        clock = SharedClock(folder / CLOCK_FILE, START)
        write_home(
            folder,
            HomeSettings(
                database_url="sqlite:///hub.db",
                connectors=Path(path.name),
                clock_file=Path(CLOCK_FILE),
            ),
        )
        core = stack.enter_context(
            Hub(database, network, owner=f"hub-demo:{os.getpid()}", retries=RETRIES, clock=clock)
        )
        hub = stack.enter_context(HubServer(core.app(), port))
        _uvicorn_logs_to_root()
        colis_express.push_url = f"{hub.base_url}/partners/{_push_connector(network)}/events"
        relais_direct.push_url = (
            f"{hub.base_url}/partners/{_push_connector(network, 'relais-direct')}/events"
        )
        feed = FeedReader(hub.base_url, bm_key.token)
        stack.callback(feed.close)
        relay = _relay_carrier(relais_direct, network, cases, by_reference)
        carrier = Carrier(colis_express, by_reference)
        supplier = PartsSupplier(supplier_server, by_reference)
        distributor = ElecDistrib(elec_distrib, colis_express, by_reference)
        alpes_fret = AlpesFret(
            AlpesFretSimulator(alpes_fret_server.root / "out", alpes_fret_server.root / "in"),
            phone_bookings,
            by_reference,
        )
        world = World(carriers=[carrier, alpes_fret, relay], suppliers=[supplier, distributor])
        workshop = Workshop(workshop_server, by_reference, world)
        repair_network = RepairNetwork(techniservice, by_reference, world)
        repar_ouest = ReparOuest(repar_ouest_server, by_reference, world)
        relay.repairers = [workshop, repair_network, repar_ouest]
        partners = Partners(
            carrier=carrier,
            supplier=supplier,
            workshop=workshop,
            repair_network=repair_network,
            world=world,
            repairers=[workshop, repair_network, repar_ouest],
            elec_distrib=distributor,
            relay_carrier=relay,
            alpes_fret=alpes_fret,
            repar_ouest=repar_ouest,
        )
        yield Session(
            folder=folder,
            database=database,
            network=network,
            core=core,
            clock=clock,
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


def _push_connector(network: Network, partner: str = "colis-express") -> str:
    for spec in network.config.connectors:
        if spec.pushed and spec.partner == partner:
            return spec.name
    raise ConfigurationError(f"the network has no push connector for {partner}")


def _relay_carrier(
    simulator: RelaisDirectSimulator,
    network: Network,
    cases: list[DemoCase],
    by_reference: dict[str, DemoCase],
) -> RelaisDirect:
    """Relais Direct's party, carrying the workshop cases the routing gives it; the
    counter drop-off's receipt number recorded on its case, as the retailer does."""
    routes = network.config.sync.routes

    def carried(case: DemoCase) -> bool:
        canonical = Case.model_validate(case.document())
        return (
            case.service == "workshop_repair"
            and route_for(routes, canonical, Role.CARRIER) == simulator_party
        )

    simulator_party = "relais-direct"
    counter = counter_drop_off(cases, carried)
    relay = RelaisDirect(simulator, cases, carried, counter=counter)
    number = relay.counter_number()
    for position, case in enumerate(cases):
        if case.reference == counter and number is not None:
            recorded = replace(case, references=((simulator_party, number),))
            cases[position] = by_reference[case.reference] = recorded
    return relay
