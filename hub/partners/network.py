"""The network as a command reads it: connectors.yaml validated, each connector built
(its mapping read and checked) only when it is used.

Apart from :mod:`hub.partners.connectors`, which imports the whole ingestion (mapping
engine, codecs, case resolution, sync rules), because most commands only read the
network's names, schedules and directions (`hub status`, `hub runs`, `hub sla`): they
start without importing any of it (issue 17, docs/performance.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hub.config.connector_spec import ConnectorSpec
from hub.config.network import NetworkConfig, load_network
from hub.errors import ConfigurationError
from hub.sync.addresses import addresses_of

if TYPE_CHECKING:
    from hub.config.connector_spec import ScheduleSpec
    from hub.config.yamlfile import YamlDocument
    from hub.model.event import Event
    from hub.partners.connectors import Connector
    from hub.partners.network_outline import NetworkOutline, ScheduleOutline
    from hub.store.db import Connection
    from hub.store.events import StoredHook

__all__ = ["MessageDirection", "Network", "message_direction", "open_network"]

MessageDirection = Literal["inbound", "outbound"]


@dataclass(frozen=True)
class Network:
    config: NetworkConfig
    path: Path
    _built: dict[str, tuple[tuple[tuple[int, int], ...], Connector]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _directions: dict[str, tuple[tuple[int, int], MessageDirection]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _mappings: dict[Path, tuple[tuple[int, int], YamlDocument]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    on_queued: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    """Rung once a write path's transaction has queued outbox messages: the process's
    dispatcher bell, given by the composition root (``ringing``); None rings nothing."""

    def ringing(self, on_queued: Callable[[], None]) -> Network:
        """The same network whose write paths ring ``on_queued`` (hub.bootstrap gives its
        dispatcher's bell); its connectors built again, since each holds its hook."""
        return Network(self.config, self.path, on_queued=on_queued)

    def connector(self, name: str) -> Connector:
        """The connector, its mapping read again only when the mapping file (or a file it
        names, such as an XSD) changed.

        Reading and checking a mapping costs far more than sending one message, and the
        dispatcher asks for a connector per message; an edited mapping still applies
        from the next use, as an integrator expects.
        """
        from hub.partners.connectors import build_connector

        spec = self.config.connector(name)
        with self._lock:
            cached = self._built.get(name)
        if cached is not None and cached[0] == _stamps(cached[1].source_files()):
            return cached[1]
        built = replace(build_connector(self.path, spec), on_stored=self.sync_hook())
        with self._lock:
            self._built[name] = (_stamps(built.source_files()), built)
        return built

    def direction(self, name: str) -> MessageDirection:
        """Whether the connector reads (inbound) or writes (outbound) its message, read
        from its mapping file without building the connector (see
        :func:`message_direction`); read again only when that file changed."""
        spec = self.config.connector(name)
        path = mapping_path(self.path, spec)
        stamp = _file_stamp(path)
        with self._lock:
            cached = self._directions.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with self._lock:
            kept = self._mappings.get(path)
        if kept is not None and kept[0] == stamp:
            document = kept[1]
        else:  # several connectors share a partner's mapping: it is parsed once
            from hub.config.yamlfile import read_yaml  # PyYAML: not when the direction is kept

            document = read_yaml(path)
            with self._lock:
                self._mappings[path] = (stamp, document)
        direction = message_direction(self.path, spec, document)
        with self._lock:
            self._directions[name] = (stamp, direction)
        return direction

    def outline(self) -> NetworkOutline:
        """What the reading commands show of this network, as plain data
        (hub.partners.network_outline): made from the validated config, never written by
        hand. A mapping that cannot say its direction gives its error as the problem,
        which `hub status` flags; a push's mapping is not read (its direction is push)."""
        from hub.partners.network_outline import (
            AlertingPolicy,
            CaseImportOutline,
            ConnectorOutline,
            NetworkOutline,
        )

        config = self.config
        connectors = []
        for spec in config.connectors:
            direction: MessageDirection | None = None
            problem = None
            if not spec.pushed:
                try:
                    direction = self.direction(spec.name)
                except ConfigurationError as error:
                    problem = error.message
            connectors.append(
                ConnectorOutline(
                    name=spec.name,
                    partner=spec.partner,
                    mapping=spec.mapping,
                    message=spec.message,
                    adapter_type=spec.adapter.type,
                    pushed=spec.pushed,
                    direction=direction,
                    problem=problem,
                    schedule=_schedule_outline(spec.schedule),
                    enabled=spec.enabled,
                )
            )
        drops = tuple(
            CaseImportOutline(
                name=drop.name,
                retailer=drop.retailer,
                adapter_type=drop.transport.type,
                schedule=_schedule_outline(drop.schedule),
                enabled=drop.enabled,
            )
            for drop in config.case_imports
        )
        alerting = config.alerting
        return NetworkOutline(
            connectors=tuple(connectors),
            case_imports=drops,
            alerting=AlertingPolicy(
                flag_after_failures=alerting.flag_after_failures,
                pause_after_failures=alerting.pause_after_failures,
                unmapped_codes_over=alerting.unmapped_codes_over,
                rejects_over=alerting.rejects_over,
                file_warnings_over=alerting.file_warnings_over,
            ),
            service_levels=tuple(
                (retailer, level.value) for retailer, level in config.service_levels.items()
            ),
            retention=config.retention.written_periods(),
        )

    def sync_hook(self) -> StoredHook | None:
        """The sync rules as a hook for every write path, or None when there are none.
        The engine, which writes to the store, is imported when events are first stored:
        a connector built to be checked (`hub connectors check`) imports no SQLAlchemy."""
        config, on_queued = self.config, self.on_queued
        if not config.sync.rules:
            return None
        addresses = addresses_of(config)

        def on_stored(connection: Connection, stored: Sequence[Event]) -> None:
            from hub.sync.engine import apply_sync

            apply_sync(connection, config.sync, addresses, stored, on_queued=on_queued)

        return on_stored


def _schedule_outline(schedule: ScheduleSpec | None) -> ScheduleOutline | None:
    from hub.partners.network_outline import ScheduleOutline

    if schedule is None:
        return None
    return ScheduleOutline(every=schedule.every, cron=schedule.cron, jitter=schedule.jitter)


def mapping_path(network_file: Path, spec: ConnectorSpec) -> Path:
    """The connector's mapping file, as connectors.yaml names it (relative to itself)."""
    return (network_file.parent / spec.mapping).resolve()


def message_direction(
    network_file: Path, spec: ConnectorSpec, document: YamlDocument | None = None
) -> MessageDirection:
    """The ``direction`` of the connector's message in its mapping, read from the YAML
    alone: whether it is for the connector's partner and has that message is checked,
    the rest of the mapping (and its codec) only when the connector is built or
    checked (`hub connectors check`). Raises a ConfigurationError saying where.
    ``document`` is the mapping file already read, if it was."""
    path = mapping_path(network_file, spec)
    where = f"{network_file}: connector {spec.name!r}"
    if document is None:
        from hub.config.yamlfile import read_yaml

        document = read_yaml(path)
    data = document.data
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: a mapping file is a YAML mapping with 'version'")
    if data.get("partner") != spec.partner:
        raise ConfigurationError(
            f"{where}: mapping {spec.mapping} is for {data.get('partner')!r}, not {spec.partner!r}"
        )
    messages = data.get("messages")
    message = messages.get(spec.message) if isinstance(messages, dict) else None
    if not isinstance(message, dict):
        known = ", ".join(map(str, messages)) if isinstance(messages, dict) else "none"
        raise ConfigurationError(
            f"{where}: mapping {spec.mapping} has no message {spec.message!r} (it has {known})"
        )
    direction = message.get("direction")
    if direction == "inbound":
        return "inbound"
    if direction == "outbound":
        return "outbound"
    line = document.line_of(("messages", spec.message, "direction"))
    raise ConfigurationError(
        f"{path}:{line}: messages.{spec.message}.direction: {direction!r} is neither "
        "inbound nor outbound"
    )


def _stamps(paths: Sequence[Path]) -> tuple[tuple[int, int], ...]:
    return tuple(_file_stamp(path) for path in paths)


def _file_stamp(path: Path) -> tuple[int, int]:
    """Modification time and size: what tells an edited file (or none, when missing)."""
    try:
        status = path.stat()
    except OSError:
        return (-1, -1)  # building or reading it will say what is wrong with it
    return (status.st_mtime_ns, status.st_size)


def open_network(path: Path) -> Network:
    return Network(load_network(path), path)
