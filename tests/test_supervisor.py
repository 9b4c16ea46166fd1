"""The run supervisor: every kind of run leaves a record, and whatever stops a run is a
recorded failure, counted and alerted on, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.bootstrap import Hub
from hub.config.alerting import AlertingSpec
from hub.errors import NextAction
from hub.operators.status import ConnectorState, network_status
from hub.partners.connectors import Network, open_network
from hub.partners.ingest.report import RunReport, recorded_run
from hub.partners.runs import RunOutcome, get_run
from hub.partners.supervisor import RunCrashed
from hub.store.db import Database
from hub.store.tables import connector_leases, connector_runs

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = "techniservice-changes"
SECRET = "TECHNISERVICE_API_KEY"


def _network(policy: AlertingSpec) -> Network:
    network = open_network(ROOT / "connectors.yaml")
    return Network(network.config.model_copy(update={"alerting": policy}), network.path)


def test_a_scheduled_run_whose_secret_is_unset_is_a_recorded_failure(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bug of issue 12: the run raised before it recorded itself, so it counted as a
    success (failures reset), left no run row, and alerting never fired."""
    monkeypatch.delenv(SECRET, raising=False)
    network = _network(AlertingSpec(flag_after_failures=3, pause_after_failures=5))
    hub = Hub(database, network, owner="test:1")
    job = hub.scheduler().get_job(CONNECTOR)
    assert job is not None
    for _ in range(3):
        job.func(*job.args, **job.kwargs)  # what APScheduler does when the job is due

    with database.transaction() as connection:
        runs = connection.execute(
            select(connector_runs.c.outcome, connector_runs.c.error_action).where(
                connector_runs.c.connector == CONNECTOR
            )
        ).all()
        failures = connection.execute(
            select(connector_leases.c.failures).where(connector_leases.c.connector == CONNECTOR)
        ).scalar_one()
    assert runs == [(RunOutcome.FAILED.value, NextAction.FIX_CONFIGURATION.value)] * 3
    assert failures == 3
    status = network_status(database, network).connector(CONNECTOR)
    assert status.state is ConnectorState.NOT_CONFIGURED, "not never_run (issue 13: nor failing)"
    assert status.consecutive_failures == 3
    assert "3 failed runs in a row" in status.flags
    assert status.last_run is not None
    assert SECRET in (status.last_run.error_message or "")


def test_an_exception_outside_the_hierarchy_is_a_recorded_failure(database: Database) -> None:
    def broken(report: RunReport) -> None:
        report.counts.messages_seen = 1
        raise KeyError("a bug")

    report = recorded_run(database, "atelier-dupont-status", broken)
    assert isinstance(report.error, RunCrashed)
    assert report.error.action is NextAction.STOP_RUN
    record = get_run(database, report.run_id)
    assert record.outcome is RunOutcome.FAILED
    assert record.error_message == "unexpected KeyError: 'a bug'"
    assert record.counts.messages_seen == 1, "what the run did before it stopped is kept"
