"""The hub's figures for Prometheus, read from the database at each scrape.

No counter lives in a process: several hub processes share one database, and each must
report the same truth whichever is scraped, so a collector reads the store (and
hub.operators.status) when Prometheus asks. Counters are counts of rows the hub never deletes
(runs, events, rejects), so they only go up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from hub.operators.listings import unmapped_codes
from hub.operators.status import ConnectorState, NetworkStatus, network_status
from hub.partners.network import Network
from hub.partners.runs import RunOutcome
from hub.store.db import Database
from hub.store.figures import (
    event_counts,
    outbox_by_state,
    outbox_by_target,
    rejects_by_connector,
    runs_by_outcome,
)
from hub.sync.outbox import OutboxState


@dataclass(frozen=True)
class StoreTotals:
    """Counts over whole tables, read in one transaction."""

    runs: dict[tuple[str, str], int] = field(default_factory=dict)
    """(connector, outcome) -> runs."""
    events: int = 0
    unmapped_events: int = 0
    rejects: dict[str, int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)


def store_totals(database: Database) -> StoreTotals:
    with database.reading() as connection:
        runs = runs_by_outcome(connection)
        counts = event_counts(connection)
        rejected = rejects_by_connector(connection)
        by_state = outbox_by_state(connection)
        dead = outbox_by_target(connection, OutboxState.DEAD.value)
    return StoreTotals(runs, counts.stored, counts.unmapped, rejected, by_state, dead)


class HubCollector(Collector):
    """Every figure of the hub, collected from the database at scrape time."""

    def __init__(self, database: Database, network: Network | None) -> None:
        self.database = database
        self.network = network

    def collect(self) -> Iterator[Metric]:
        totals = store_totals(self.database)
        yield from _run_metrics(totals)
        yield from _store_metrics(self.database, totals)
        if self.network is not None:
            yield from _connector_metrics(network_status(self.database, self.network))


def _run_metrics(totals: StoreTotals) -> Iterator[Metric]:
    finished = CounterMetricFamily(
        "hub_connector_runs",
        "Finished runs of each connector (replays included), by outcome.",
        labels=["connector", "outcome"],
    )
    running = GaugeMetricFamily(
        "hub_connector_runs_running",
        "Runs started and not finished (one whose process died, until the next claim of its "
        "connector closes it as abandoned).",
        labels=["connector"],
    )
    for (connector, outcome), count in sorted(totals.runs.items()):
        if outcome == RunOutcome.RUNNING.value:
            running.add_metric([connector], count)
        else:
            finished.add_metric([connector, outcome], count)
    yield finished
    yield running


def _store_metrics(database: Database, totals: StoreTotals) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "hub_events_stored", "Events in the store (each fact once).", value=totals.events
    )
    yield GaugeMetricFamily(
        "hub_events_unmapped",
        "Events stored with a code no mapping knew at the time.",
        value=totals.unmapped_events,
    )
    rejected = CounterMetricFamily(
        "hub_rejects", "Records rejected, by connector.", labels=["connector"]
    )
    for connector, count in sorted(totals.rejects.items()):
        rejected.add_metric([connector], count)
    yield rejected
    codes = GaugeMetricFamily(
        "hub_unmapped_codes",
        "Distinct partner codes still unmapped, by reporting party.",
        labels=["reported_by"],
    )
    by_party: dict[str, int] = {}
    for code in unmapped_codes(database):
        by_party[code.reported_by] = by_party.get(code.reported_by, 0) + 1
    for party, count in sorted(by_party.items()):
        codes.add_metric([party], count)
    yield codes
    depth = GaugeMetricFamily("hub_outbox_messages", "Outbox messages by state.", labels=["state"])
    for state in OutboxState:
        depth.add_metric([state.value], totals.outbox.get(state.value, 0))
    yield depth
    dead = GaugeMetricFamily(
        "hub_dead_letters", "Outbox messages that gave up, by target.", labels=["target"]
    )
    for target, count in sorted(totals.dead_letters.items()):
        dead.add_metric([target], count)
    yield dead


def _connector_metrics(status: NetworkStatus) -> Iterator[Metric]:
    labels = ["connector", "partner", "direction"]
    lag = GaugeMetricFamily(
        "hub_connector_lag_seconds",
        "Seconds since the connector's last successful run (absent until it has one).",
        labels=labels,
    )
    paused = GaugeMetricFamily(
        "hub_connector_paused", "1 while the connector is paused.", labels=labels
    )
    failing = GaugeMetricFamily(
        "hub_connector_failing",
        "1 while the connector's last runs failed (or, outbound, it has dead letters).",
        labels=labels,
    )
    in_a_row = GaugeMetricFamily(
        "hub_connector_consecutive_failures", "Failed runs in a row.", labels=labels
    )
    unmapped = GaugeMetricFamily(
        "hub_connector_unmapped_codes",
        "Distinct codes still unmapped in the connector's messages.",
        labels=labels,
    )
    state = GaugeMetricFamily(
        "hub_connector_state",
        "1 for the connector's current state.",
        labels=[*labels, "state"],
    )
    for connector in status.connectors:
        values = [connector.name, connector.partner, connector.direction]
        if connector.lag is not None:
            lag.add_metric(values, connector.lag.total_seconds())
        paused.add_metric(values, int(connector.state is ConnectorState.PAUSED))
        failing_now = connector.state in (
            ConnectorState.FAILING,
            ConnectorState.BACKING_OFF,
            ConnectorState.NOT_CONFIGURED,
        )
        failing.add_metric(values, int(failing_now))
        in_a_row.add_metric(values, connector.consecutive_failures)
        unmapped.add_metric(values, connector.unmapped_codes)
        for each in ConnectorState:
            state.add_metric([*values, each.value], int(connector.state is each))
    yield from (lag, paused, failing, in_a_row, unmapped, state)


def hub_registry(database: Database, network: Network | None) -> CollectorRegistry:
    """A registry with the hub's collector alone: no per-process figures that would differ
    between the processes behind one address."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(database, network))
    return registry
