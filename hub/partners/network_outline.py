"""The network's outline: what the reading commands show of connectors.yaml, as plain
frozen data that imports no pydantic.

`hub status`, `runs`, `rejects`, `warnings`, `sla` and `connectors list` read names,
partners, directions, schedules, the alerting policy and the retailers' contract levels,
and nothing a connector is built or validated with. Importing pydantic and creating the
network's model classes cost such a command more than its own reads (issue 17,
docs/performance.md), so the outline is kept beside the checked network
(hub.partners.network_cache) and read instead of it.

It is never written by hand: :meth:`hub.partners.network.Network.outline` derives it from
the validated network, the one source of truth, whenever that network is checked or
taken as kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from hub.config.durations import parse_duration

__all__ = [
    "AlertingPolicy",
    "CaseImportOutline",
    "ConnectorOutline",
    "NetworkOutline",
    "ScheduleOutline",
]


@dataclass(frozen=True)
class ScheduleOutline:
    """When a connector runs, as connectors.yaml writes it: every so often, or on a
    five-field cron line (UTC), with an optional jitter."""

    every: str | None
    cron: str | None
    jitter: str | None


@dataclass(frozen=True)
class AlertingPolicy:
    """The ``alerting:`` thresholds, as validated (hub.config.alerting.AlertingSpec)."""

    flag_after_failures: int
    pause_after_failures: int | None
    unmapped_codes_over: int
    rejects_over: int
    file_warnings_over: int


@dataclass(frozen=True)
class ConnectorOutline:
    """A connector as the reading commands show it: who, which message, which transport,
    when it runs, and the direction its mapping says."""

    name: str
    partner: str
    mapping: str
    message: str
    adapter_type: str
    """The transport's type, or the receiver's for a push."""
    pushed: bool
    direction: Literal["inbound", "outbound"] | None
    """Read from the mapping when the outline was made; None for a push (not read) or
    when the mapping could not say it (``problem``)."""
    problem: str | None
    """Why the direction could not be read: the mapping's error, said as the status
    flags it."""
    schedule: ScheduleOutline | None
    enabled: bool


@dataclass(frozen=True)
class CaseImportOutline:
    """A retailer's drop folder of cases, as `hub status` shows it beside the connectors."""

    name: str
    retailer: str
    adapter_type: str
    schedule: ScheduleOutline | None
    enabled: bool


@dataclass(frozen=True)
class NetworkOutline:
    """All a reading command needs of connectors.yaml, in its order."""

    connectors: tuple[ConnectorOutline, ...]
    case_imports: tuple[CaseImportOutline, ...]
    alerting: AlertingPolicy
    service_levels: tuple[tuple[str, str], ...]
    """Retailer and the value of its contract level, in connectors.yaml's order."""
    retention: tuple[tuple[str, str | None], ...]
    """Each kind of the ``retention:`` section and its period as written (None: kept
    forever), for `hub retention --dry-run`."""

    def period(self, kind: str) -> timedelta | None:
        """The retention period of a kind, None to keep it forever (as
        hub.config.retention.RetentionSpec.period says it)."""
        for name, written in self.retention:
            if name == kind:
                return None if written is None else parse_duration(written)
        raise KeyError(f"no retention kind {kind!r} in the outline")

    def contract_level(self, retailer: str) -> str | None:
        """The retailer's contract level's value, or None: then only the legal rule."""
        return next((level for who, level in self.service_levels if who == retailer), None)
