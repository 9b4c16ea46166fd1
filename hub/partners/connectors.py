"""Turning connectors.yaml entries into working connectors, and checking them all.

The only place where configuration meets the registry of adapters; everything here is
built lazily, so checking a file never opens a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from hub.config.connector_spec import (
    CaseImportSpec,
    ConnectorSpec,
    HttpPullTransportSpec,
    HttpPushTransportSpec,
)
from hub.config.network import NetworkConfig, load_network
from hub.config.secrets import read_secrets
from hub.errors import ConfigurationError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import load_mapping
from hub.mapping.outbound import OutboundMapping
from hub.mapping.spec import InboundSpec, MappingSpec, OutboundSpec, XmlCodecSpec
from hub.partners.ingest import (
    InboundPipeline,
    RunReport,
    read_inbound,
    read_items,
    read_pages,
    read_unprocessed,
    recorded_run,
)
from hub.partners.registry import codec_factory, transport_factory
from hub.ports import Codec, PagedSource, Sender, Transport
from hub.store.case_links import trusted_partner_references
from hub.store.db import Database
from hub.store.events import StoredHook
from hub.store.shipments import open_tracking_numbers
from hub.sync.engine import sync_hook
from hub.sync.rules import Role


@dataclass(frozen=True)
class Connector:
    """A connector with its mapping loaded; transport and codec are built on demand."""

    spec: ConnectorSpec
    mapping: MappingSpec
    mapping_path: Path
    on_stored: StoredHook | None = None
    """The network's sync rules, run in the transaction that stores this connector's events."""

    @property
    def name(self) -> str:
        return self.spec.name

    def source_files(self) -> list[Path]:
        """The files this connector was built from: its mapping and the XSDs it names."""
        files = [self.mapping_path.resolve()]
        for message in self.mapping.messages.values():
            codec = message.codec
            if isinstance(codec, XmlCodecSpec) and codec.xsd is not None:
                files.append(Path(codec.xsd))
        return files

    @property
    def message(self) -> InboundSpec | OutboundSpec:
        return self.mapping.messages[self.spec.message]

    @property
    def inbound(self) -> bool:
        return isinstance(self.message, InboundSpec)

    def codec(self) -> Codec:
        message = self.message
        columns = message.header if isinstance(message, InboundSpec) else list(message.columns)
        return codec_factory(message.codec.type)(message.codec, columns)

    def pipeline(self) -> InboundPipeline:
        if not isinstance(self.message, InboundSpec):
            raise ConfigurationError(f"connector {self.name!r} carries an outbound message")
        return InboundPipeline(self.codec(), InboundMapping(self.mapping, self.spec.message))

    def resync_pipeline(self) -> InboundPipeline | None:
        name = self.spec.resync_message
        if name is None:
            return None
        message = self.mapping.inbound(name)
        codec = codec_factory(message.codec.type)(message.codec, message.header)
        return InboundPipeline(codec, InboundMapping(self.mapping, name))

    def run(self, database: Database) -> RunReport:
        """One recorded run now, without the lease (the hub's jobs take it: HubJobs)."""
        return recorded_run(database, self.name, partial(self.read, database))

    def read(self, database: Database, report: RunReport) -> None:
        """The work of one run, in the way this connector's transport works; whatever
        stops it (a secret not set included) is the run's error, recorded by its caller.

        For a push connector, a run stores the pushes that were archived but never
        processed (the process stopped between its answer and the store).
        """
        if isinstance(self.spec.transport, HttpPushTransportSpec):
            read_unprocessed(database, self.pipeline(), report, on_stored=self.on_stored)
            return
        transport = self.transport()
        pipeline = self.pipeline()
        if isinstance(transport, Sender):
            raise ConfigurationError(f"connector {self.name!r} only sends; it has nothing to run")
        if not isinstance(transport, PagedSource):
            read_inbound(database, transport, pipeline, report, on_stored=self.on_stored)
            return
        spec = self.spec.transport
        assert isinstance(spec, HttpPullTransportSpec)
        partner = self.spec.partner

        def open_references() -> list[str]:
            with database.transaction() as connection:
                return trusted_partner_references(connection, partner)

        if spec.page_path is None:
            with database.transaction() as connection:
                keys = open_tracking_numbers(connection, partner)
            read_items(database, transport, pipeline, keys, report, on_stored=self.on_stored)
            return
        resync_pipeline = self.resync_pipeline()
        read_pages(
            database,
            transport,
            pipeline,
            report,
            next_field=spec.next_field,
            more_field=spec.more_field,
            resync=None if resync_pipeline is None else (resync_pipeline, open_references),
            on_stored=self.on_stored,
        )

    def outbound_mapping(self) -> OutboundMapping:
        return OutboundMapping(self.mapping, self.spec.message)

    def transport(self) -> Transport | PagedSource | Sender:
        """Connects nothing yet; secrets are read from the environment now."""
        if isinstance(self.spec.transport, HttpPushTransportSpec):
            raise ConfigurationError(
                f"connector {self.name!r} is pushed to: the hub serves it at "
                f"/partners/{self.name}/events"
            )
        secrets = read_secrets(self.name, self.spec.secret_names())
        default_pattern = (
            self.message.file_pattern if isinstance(self.message, InboundSpec) else None
        )
        factory = transport_factory(self.spec.transport.type)
        return factory(self.spec.transport, secrets, default_pattern)


def build_connector(network_file: Path, spec: ConnectorSpec) -> Connector:
    """Load the connector's mapping and check that it fits the connector."""
    path = (network_file.parent / spec.mapping).resolve()
    mapping = load_mapping(path)
    where = f"{network_file}: connector {spec.name!r}"
    if mapping.partner != spec.partner:
        raise ConfigurationError(
            f"{where}: mapping {spec.mapping} is for {mapping.partner!r}, not {spec.partner!r}"
        )
    for name in (spec.message, spec.resync_message):
        if name is not None and name not in mapping.messages:
            known = ", ".join(mapping.messages)
            raise ConfigurationError(
                f"{where}: mapping {spec.mapping} has no message {name!r} (it has {known})"
            )
    if spec.resync_message is not None and not isinstance(
        mapping.messages[spec.resync_message], InboundSpec
    ):
        raise ConfigurationError(f"{where}: resync_message must name an inbound message")
    return Connector(spec, mapping, path)


@dataclass(frozen=True)
class Network:
    config: NetworkConfig
    path: Path
    _built: dict[str, tuple[tuple[tuple[int, int], ...], Connector]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def connector(self, name: str) -> Connector:
        """The connector, its mapping read again only when the mapping file (or a file it
        names, such as an XSD) changed.

        Reading and checking a mapping costs far more than sending one message, and the
        dispatcher asks for a connector per message; an edited mapping still applies
        from the next use, as an integrator expects.
        """
        spec = self.config.connector(name)
        with self._lock:
            cached = self._built.get(name)
        if cached is not None and cached[0] == _stamps(cached[1].source_files()):
            return cached[1]
        built = replace(build_connector(self.path, spec), on_stored=self.sync_hook())
        with self._lock:
            self._built[name] = (_stamps(built.source_files()), built)
        return built

    def sync_hook(self) -> StoredHook | None:
        """The sync rules as a hook for every write path, or None when there are none."""
        return sync_hook(self.config)


def _stamps(paths: Sequence[Path]) -> tuple[tuple[int, int], ...]:
    return tuple(_file_stamp(path) for path in paths)


def _file_stamp(path: Path) -> tuple[int, int]:
    """Modification time and size: what tells an edited file (or none, when missing)."""
    try:
        status = path.stat()
    except OSError:
        return (-1, -1)  # build_connector will say what is wrong with it
    return (status.st_mtime_ns, status.st_size)


def open_network(path: Path) -> Network:
    return Network(load_network(path), path)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the network, in a sentence that says where."""

    text: str
    warning: bool = False


def check_network(path: Path, environ: dict[str, str] | None = None) -> list[Problem]:
    """Every problem of connectors.yaml and of every mapping it names, not just the first."""
    try:
        network = load_network(path)
    except ConfigurationError as error:
        return [Problem(line) for line in error.message.splitlines()]
    problems: list[Problem] = []
    for spec in network.connectors:
        try:
            connector = build_connector(path, spec)
            connector.codec()
            if not isinstance(spec.transport, HttpPushTransportSpec):  # served by the hub
                transport_factory(spec.transport.type)
        except ConfigurationError as error:
            problems.extend(Problem(line) for line in error.message.splitlines())
            continue
        try:
            read_secrets(spec.name, spec.secret_names(), environ)
        except ConfigurationError as error:
            problems.append(Problem(f"{path}: {error.message}", warning=True))
    problems.extend(_unaddressable_rules(path, network))
    for drop in network.case_imports:
        try:
            transport_factory(drop.transport.type)
        except ConfigurationError as error:
            problems.append(Problem(f"{path}: case import {drop.name!r}: {error.message}"))
    return problems


def case_import_transport(spec: CaseImportSpec) -> Transport:
    """The transport of a retailer's drop folder; secrets read from the environment now."""
    secrets = read_secrets(spec.name, spec.secret_names())
    transport = transport_factory(spec.transport.type)(spec.transport, secrets, "*.csv")
    if not isinstance(transport, Transport):
        raise ConfigurationError(f"case import {spec.name!r} needs a file transport")
    return transport


def _unaddressable_rules(path: Path, network: NetworkConfig) -> list[Problem]:
    """Each message a rule sends must have an outbound connector at every routed partner."""
    outbound = {(spec.partner, spec.message) for spec in network.connectors if spec.enabled}
    problems = []
    for rule in network.sync.rules:
        for send in rule.send:
            if send.to is Role.RETAILER:
                continue
            for route in network.sync.routes:
                party = getattr(route, send.to.value)
                if party is not None and (party, send.message) not in outbound:
                    problems.append(
                        Problem(
                            f"{path}: rule {rule.name!r} sends {send.message!r} to {party} "
                            f"({send.to.value}), which has no connector for that message"
                        )
                    )
    return problems
