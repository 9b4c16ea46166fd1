"""Turning connectors.yaml entries into working connectors, and checking them all.

The only place where configuration meets the registry of adapters; everything here is
built lazily, so checking a file never opens a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hub.config.connector_spec import (
    CaseImportSpec,
    ConnectorSpec,
    OpenItems,
    TransportRef,
    parse_duration,
)
from hub.config.network import NetworkConfig, load_network
from hub.config.registry import AdapterNotInstalled, attached_files
from hub.config.secrets import read_secrets
from hub.config.sync import Role
from hub.config.yamlfile import YamlDocument, read_yaml
from hub.errors import ConfigurationError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.mapping.outbound import OutboundMapping
from hub.mapping.spec import InboundSpec, MappingSpec, OutboundSpec
from hub.partners.ingest.pipeline import InboundPipeline
from hub.partners.network import Network as Network  # the network's home: network.py
from hub.partners.network import mapping_path
from hub.partners.network import open_network as open_network
from hub.partners.network_check import Finding, NetworkCheck, SecretsToRead
from hub.partners.network_check import Problem as Problem  # said by check_network
from hub.ports import (
    AcknowledgingCodec,
    Capability,
    Codec,
    CursorSettings,
    PagedSource,
    Sender,
    Transport,
)

if TYPE_CHECKING:
    from hub.partners.ingest.acknowledge import Acknowledger
    from hub.partners.ingest.report import RunReport
    from hub.store.db import Database
    from hub.store.events import StoredHook

# The ways of running a connector (and the store they write to) are imported where a
# connector runs: `hub connectors check` builds and checks every connector without
# SQLAlchemy (issue 17).


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
        """The files this connector was built from: its mapping and the files its codecs'
        settings name (an XSD)."""
        files = [self.mapping_path.resolve()]
        for message in self.mapping.messages.values():
            try:
                settings = message.codec.settings
            except ConfigurationError:
                continue  # not installed: nothing read
            for name in attached_files(settings):
                value = getattr(settings, name)
                if value is not None:
                    files.append(Path(str(value)))
        return files

    @property
    def message(self) -> InboundSpec | OutboundSpec:
        return self.mapping.messages[self.spec.message]

    @property
    def inbound(self) -> bool:
        return isinstance(self.message, InboundSpec)

    def codec(self) -> Codec:
        return build_codec(self.message)

    def pipeline(self) -> InboundPipeline:
        if not isinstance(self.message, InboundSpec):
            raise ConfigurationError(f"connector {self.name!r} carries an outbound message")
        return InboundPipeline(self.codec(), InboundMapping(self.mapping, self.spec.message))

    def resync_pipeline(self) -> InboundPipeline | None:
        name = self.spec.resync_message
        if name is None:
            return None
        message = self.mapping.inbound(name)
        return InboundPipeline(build_codec(message), InboundMapping(self.mapping, name))

    def run(self, database: Database) -> RunReport:
        """One recorded run now, without the lease (the hub's jobs take it: HubJobs)."""
        from hub.partners.ingest.report import recorded_run

        return recorded_run(database, self.name, partial(self.read, database))

    def read(self, database: Database, report: RunReport) -> None:
        """The work of one run, in the way this connector's transport works; whatever
        stops it (a secret not set included) is the run's error, recorded by its caller.

        For a push connector, a run stores the pushes that were archived but never
        processed (the process stopped between its answer and the store).
        """
        from hub.partners.ingest.items import read_items
        from hub.partners.ingest.listed import read_inbound
        from hub.partners.ingest.paged import read_pages
        from hub.partners.ingest.unprocessed import read_unprocessed

        if self.spec.pushed:
            read_unprocessed(database, self.pipeline(), report, on_stored=self.on_stored)
            return
        transport_ref = self.adapter_transport()
        modes = transport_ref.adapter().info.enabled(transport_ref.settings)
        pipeline = self.pipeline()
        transport = self.transport()
        if Capability.PAGED in modes or Capability.PER_ITEM in modes:
            source = _paged_source(self.name, transport)
        if Capability.PAGED in modes:
            cursor = transport_ref.settings
            if not isinstance(cursor, CursorSettings):
                cursor = CursorSettings()

            def open_references() -> list[str]:
                return self.open_keys(database, default="references")

            resync_pipeline = self.resync_pipeline()
            read_pages(
                database,
                source,
                pipeline,
                report,
                next_field=cursor.next_field,
                more_field=cursor.more_field,
                resync=None if resync_pipeline is None else (resync_pipeline, open_references),
                on_stored=self.on_stored,
                since=Capability.SINCE in modes,
            )
            return
        if Capability.PER_ITEM in modes:
            keys = self.open_keys(database, default="parcels")
            interval = self.spec.min_interval_per_item
            read_items(
                database,
                source,
                pipeline,
                keys,
                report,
                on_stored=self.on_stored,
                min_interval=None if interval is None else parse_duration(interval),
            )
            return
        if Capability.LIST in modes and isinstance(transport, Transport):
            read_inbound(
                database,
                transport,
                pipeline,
                report,
                on_stored=self.on_stored,
                acknowledger=self.acknowledger(pipeline.codec),
            )
            return
        raise ConfigurationError(
            f"connector {self.name!r}: its {transport_ref.type} transport cannot read "
            "(it can: " + ", ".join(sorted(modes)) + "); it has nothing to run"
        )

    def acknowledger(self, codec: Codec) -> Acknowledger | None:
        """What answers each message read, when the connector asks for acknowledgements."""
        from hub.partners.ingest.acknowledge import Acknowledger

        spec = self.spec.acknowledgement
        if spec is None:
            return None
        if not isinstance(codec, AcknowledgingCodec):
            raise ConfigurationError(
                f"connector {self.name!r}: its {self.message.codec.type} codec builds no "
                "acknowledgement"
            )
        return Acknowledger(self.name, codec, spec, ZoneInfo(self.mapping.timezone))

    def open_keys(self, database: Database, *, default: OpenItems) -> list[str]:
        """The keys of what is still open at the partner, to ask about one by one: the
        connector's ``open_items`` says which, else ``default``."""
        from hub.store.case_links import trusted_partner_references
        from hub.store.shipments import open_tracking_numbers

        kind = self.spec.open_items or default
        with database.reading() as connection:
            if kind == "parcels":
                return open_tracking_numbers(connection, self.spec.partner)
            return trusted_partner_references(connection, self.spec.partner)

    def outbound_mapping(self) -> OutboundMapping:
        return OutboundMapping(self.mapping, self.spec.message)

    def adapter_transport(self) -> TransportRef:
        """The transport adapter's reference (a pushed connector has none)."""
        if self.spec.transport is None:
            raise ConfigurationError(
                f"connector {self.name!r} is pushed to: the hub serves it at "
                f"/partners/{self.name}/events"
            )
        return self.spec.transport

    def transport(self) -> Transport | PagedSource | Sender:
        """Connects nothing yet; secrets are read from the environment now."""
        ref = self.adapter_transport()
        secrets = read_secrets(self.name, self.spec.secret_names())
        default_pattern = (
            self.message.file_pattern if isinstance(self.message, InboundSpec) else None
        )
        return build_transport(self.name, ref, secrets, default_pattern)


def build_transport(
    owner: str, ref: TransportRef, secrets: dict[str, str], default_pattern: str | None
) -> Transport | PagedSource | Sender:
    """A transport built by its adapter; one that builds none of the ports is refused."""
    built = ref.adapter().info.factory(ref.settings, secrets, default_pattern)
    if not isinstance(built, Transport | PagedSource | Sender):
        raise ConfigurationError(
            f"{owner!r}: the {ref.type} transport's factory built a {type(built).__name__}, "
            "which is no transport"
        )
    return built


def _paged_source(owner: str, transport: object) -> PagedSource:
    if not isinstance(transport, PagedSource):
        raise ConfigurationError(
            f"connector {owner!r}: its transport says it pages or fetches by key but "
            "builds no paged source"
        )
    return transport


def build_connector(
    network_file: Path, spec: ConnectorSpec, mapping: MappingSpec | None = None
) -> Connector:
    """Load the connector's mapping (unless given, read already) and check that it fits
    the connector."""
    path = mapping_path(network_file, spec)
    if mapping is None:
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
    if spec.acknowledgement is not None:
        _check_acknowledgement(where, spec, mapping.messages[spec.message])
    return Connector(spec, mapping, path)


def _check_acknowledgement(
    where: str, spec: ConnectorSpec, message: InboundSpec | OutboundSpec
) -> None:
    """An acknowledgement needs a message read from a file transport that can put, and a
    codec that builds one: said when the file is read, not at the first message."""
    if not isinstance(message, InboundSpec) or spec.transport is None:
        raise ConfigurationError(
            f"{where}: acknowledgement answers messages read by a transport; "
            f"{spec.message!r} is not one"
        )
    try:
        codec = message.codec.adapter().info
        transport = spec.transport.adapter().info
    except ConfigurationError:
        return  # not installed: said where the adapter is named
    if not codec.can(Capability.ACKNOWLEDGE):
        raise ConfigurationError(
            f"{where}: acknowledgement: the {codec.name} codec builds no acknowledgement"
        )
    if Capability.PUT not in transport.enabled(spec.transport.settings):
        raise ConfigurationError(
            f"{where}: acknowledgement: the {transport.name} transport cannot put files "
            "(give it an outbound folder)"
        )


def check_network(path: Path, environ: dict[str, str] | None = None) -> list[Problem]:
    """Every problem of connectors.yaml and of every mapping it names, not just the first
    (the parties' profiles aside: :func:`network_check`)."""
    return NetworkCheck(tuple(_findings(path)[1])).problems(environ)


def network_check(path: Path) -> NetworkCheck:
    """What `hub connectors check` says of the network: every finding of
    :func:`check_network` then, when none is an error, what the declared parties'
    profiles lack for the messages routed to others, which only the operator can add.
    Whether secrets are set is asked where the result is shown (NetworkCheck.problems)."""
    config, findings = _findings(path)
    check = NetworkCheck(tuple(findings))
    if config is None or check.has_errors:
        return check
    from hub.sync.profiles import profile_needs

    needs = profile_needs(Network(config, path))
    return NetworkCheck((*findings, *(Problem(f"{path}: {text}") for text in needs)))


def _findings(path: Path) -> tuple[NetworkConfig | None, list[Finding]]:
    """The network as validated (None when it is not) and every finding, in order."""
    try:
        network = load_network(path)
    except ConfigurationError as error:
        return None, [Problem(line) for line in error.message.splitlines()]
    document = read_yaml(path)
    problems: list[Finding] = []
    loaded: dict[Path, MappingSpec | ConfigurationError] = {}
    for index, spec in enumerate(network.connectors):
        way_in = "receiver" if spec.receiver is not None else "transport"
        where = f"{path}:{document.line_of(('connectors', index, way_in, 'type'))}"
        try:
            _ = spec.adapter.settings
        except ConfigurationError as error:
            problems.append(Problem(f"{where}: connector {spec.name!r}: {error.message}"))
            continue
        try:
            mapping_spec = _read_once(loaded, mapping_path(path, spec))
            connector = build_connector(path, spec, mapping_spec)
        except ConfigurationError as error:
            problems.extend(Problem(line) for line in error.message.splitlines())
            continue
        try:
            connector.codec()
            connector.resync_pipeline()
        except AdapterNotInstalled as error:
            mapping = read_yaml(connector.mapping_path)
            name = spec.message if error.name == connector.message.codec.type else None
            line = mapping.line_of(("messages", name or spec.resync_message or "", "codec", "type"))
            where = f"{connector.mapping_path}:{line}: connector {spec.name!r}"
            problems.append(Problem(f"{where}: {error.message}"))
            continue
        except ConfigurationError as error:
            problems.extend(Problem(line) for line in error.message.splitlines())
            continue
        problems.append(SecretsToRead(str(path), spec.name, tuple(spec.secret_names().items())))
    problems.extend(_unaddressable_rules(path, network))
    problems.extend(_shared_addresses(path, document, network))
    for index, drop in enumerate(network.case_imports):
        try:
            _ = drop.transport.settings
        except ConfigurationError as error:
            line = document.line_of(("case_imports", index, "transport", "type"))
            problems.append(Problem(f"{path}:{line}: case import {drop.name!r}: {error.message}"))
    return network, problems


def _read_once(loaded: dict[Path, MappingSpec | ConfigurationError], path: Path) -> MappingSpec:
    """A partner's mapping, read and checked once for all the connectors that share it
    (the repository's 17 connectors name 8 files); a broken one is said for each."""
    if path not in loaded:
        try:
            loaded[path] = load_mapping(path)
        except ConfigurationError as error:
            loaded[path] = error
    found = loaded[path]
    if isinstance(found, ConfigurationError):
        raise found
    return found


def case_import_transport(spec: CaseImportSpec) -> Transport:
    """The transport of a retailer's drop folder; secrets read from the environment now."""
    secrets = read_secrets(spec.name, spec.secret_names())
    transport = build_transport(spec.name, spec.transport, secrets, "*.csv")
    if not isinstance(transport, Transport):
        raise ConfigurationError(f"case import {spec.name!r} needs a file transport")
    return transport


def _shared_addresses(path: Path, document: YamlDocument, network: NetworkConfig) -> list[Problem]:
    """Two enabled connectors carrying one message for one partner: the sync rules would
    address every such message to only one of them, silently."""
    first: dict[tuple[str, str], str] = {}
    problems = []
    for index, spec in enumerate(network.connectors):
        if not spec.enabled:
            continue
        key = (spec.partner, spec.message)
        if key in first:
            line = document.line_of(("connectors", index, "name"))
            problems.append(
                Problem(
                    f"{path}:{line}: connectors {first[key]!r} and {spec.name!r} both carry "
                    f"{spec.message!r} for {spec.partner}: messages the rules send would all "
                    "go to one of them; disable one (enabled: false) or name another message"
                )
            )
        else:
            first[key] = spec.name
    return problems


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
                taken_outside = send.message in network.sync.not_sent.get(party, ())
                if (
                    party is not None
                    and not taken_outside
                    and (party, send.message) not in outbound
                ):
                    problems.append(
                        Problem(
                            f"{path}: rule {rule.name!r} sends {send.message!r} to {party} "
                            f"({send.to.value}), which has no connector for that message"
                        )
                    )
    return problems
