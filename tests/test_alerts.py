"""Alerting: failed runs in a row flag, then pause, a connector; resume clears it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.bootstrap import Hub
from hub.config.alerting import AlertingSpec
from hub.config.network import NetworkConfig
from hub.errors import ConflictError, FatalError
from hub.operators.status import ConnectorState, network_status
from hub.partners.alerts import ALERTING, flags_for, pause_connector, resume_connector
from hub.partners.connectors import Network, open_network
from hub.partners.ingest.report import RunReport
from hub.partners.leases import acquire_lease, release_lease
from hub.partners.runs import RunCounts, finish_run, start_run
from hub.partners.supervisor import run_leased
from hub.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = "atelier-dupont-status"
POLICY = AlertingSpec(flag_after_failures=2, pause_after_failures=3, rejects_over=5)


def _network(policy: AlertingSpec = POLICY) -> Network:
    network = open_network(ROOT / "connectors.yaml")
    return Network(network.config.model_copy(update={"alerting": policy}), network.path)


class Runner:
    """A connector's run that records a run and fails or succeeds as told."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.calls = 0
        self.fail = True
        self.rejected = 0

    def __call__(self) -> RunReport:
        self.calls += 1
        run_id = start_run(self.database, CONNECTOR)
        error = FatalError(f"sftp: permission denied (call {self.calls})") if self.fail else None
        counts = RunCounts(rejected=self.rejected)
        finish_run(self.database, run_id, counts, error=error)
        return RunReport(run_id, CONNECTOR, counts, [], error)


def _leased(database: Database, runner: Runner) -> RunReport | None:
    return run_leased(database, CONNECTOR, "host-a:1", runner, alerting=POLICY)


def test_failures_in_a_row_flag_then_pause_and_the_scheduler_skips_it(database: Database) -> None:
    runner = Runner(database)
    network = _network()
    assert _leased(database, runner) is not None
    one = network_status(database, network).connector(CONNECTOR)
    assert one.state is ConnectorState.FAILING
    assert one.consecutive_failures == 1
    assert not any("in a row" in flag for flag in one.flags), "one failure is not flagged yet"

    assert _leased(database, runner) is not None
    two = network_status(database, network).connector(CONNECTOR)
    assert "2 failed runs in a row" in two.flags
    assert two.state is ConnectorState.FAILING

    assert _leased(database, runner) is not None
    three = network_status(database, network).connector(CONNECTOR)
    assert three.state is ConnectorState.PAUSED
    assert three.paused_by == ALERTING
    assert three.paused_reason == (
        "paused after 3 failed runs in a row: sftp: permission denied (call 3)"
    )
    assert three.next_run_at is None, "a paused connector has no next run"

    assert _leased(database, runner) is None, "the scheduler skips a paused connector"
    assert runner.calls == 3
    assert not acquire_lease(database, CONNECTOR, "host-b:2"), "no process takes it"


def test_resume_clears_the_pause_and_the_failure_count(database: Database) -> None:
    runner = Runner(database)
    for _ in range(3):
        _leased(database, runner)
    resume_connector(database, CONNECTOR)
    resumed = network_status(database, _network()).connector(CONNECTOR)
    assert resumed.state is ConnectorState.OK
    assert resumed.consecutive_failures == 0
    assert resumed.paused_reason is None
    assert resumed.flags == ()

    assert _leased(database, runner) is not None, "it runs again"
    after = network_status(database, _network()).connector(CONNECTOR)
    assert after.consecutive_failures == 1, "counted again from the resume"
    assert after.state is ConnectorState.FAILING
    with pytest.raises(ConflictError, match="is not paused"):
        resume_connector(database, CONNECTOR)


def test_a_success_ends_the_failures_in_a_row(database: Database) -> None:
    runner = Runner(database)
    _leased(database, runner)
    _leased(database, runner)
    runner.fail = False
    _leased(database, runner)
    status = network_status(database, _network()).connector(CONNECTOR)
    assert status.state is ConnectorState.OK
    assert status.consecutive_failures == 0
    assert status.flags == ()


def test_an_operator_pause_keeps_its_reason_and_stops_the_runs(database: Database) -> None:
    runner = Runner(database)
    runner.fail = False
    state = pause_connector(database, CONNECTOR, reason="partner migrating servers", by="ops")
    assert (state.reason, state.by) == ("partner migrating servers", "ops")
    again = pause_connector(database, CONNECTOR, reason="another reason", by="ops2")
    assert again.reason == "partner migrating servers", "the first reason stays"
    assert _leased(database, runner) is None
    assert runner.calls == 0
    status = network_status(database, _network()).connector(CONNECTOR)
    assert status.state is ConnectorState.PAUSED
    assert status.paused_reason == "partner migrating servers"


def test_a_lease_held_when_paused_is_released_and_then_not_taken(database: Database) -> None:
    assert acquire_lease(database, CONNECTOR, "host-a:1")
    pause_connector(database, CONNECTOR, reason="stop", by="ops")
    release_lease(database, CONNECTOR, "host-a:1", None)
    assert not acquire_lease(database, CONNECTOR, "host-a:1")


def test_rejects_over_the_threshold_are_flagged(database: Database) -> None:
    runner = Runner(database)
    runner.fail = False
    runner.rejected = 5
    _leased(database, runner)
    quiet = network_status(database, _network()).connector(CONNECTOR)
    assert not any("rejected" in flag for flag in quiet.flags), "5 is not over 5"
    runner.rejected = 6
    _leased(database, runner)
    loud = network_status(database, _network()).connector(CONNECTOR)
    assert "6 rejected rows in the last run" in loud.flags


def test_flags_in_plain_sentences() -> None:
    policy = AlertingSpec(flag_after_failures=3, unmapped_codes_over=10, rejects_over=0)
    assert flags_for(policy, consecutive_failures=2, unmapped_codes=10, last_run_rejected=0) == ()
    assert flags_for(policy, consecutive_failures=3, unmapped_codes=12, last_run_rejected=1) == (
        "3 failed runs in a row",
        "12 unmapped codes",
        "1 rejected row in the last run",
    )


def test_the_policy_is_validated_in_connectors_yaml() -> None:
    document = {"version": 1, "parties": [], "alerting": {"flag_after_failures": 4}}
    assert NetworkConfig.model_validate(document).alerting.pause_after_failures == 5
    with pytest.raises(ValidationError, match="paused before it is flagged"):
        NetworkConfig.model_validate(
            {**document, "alerting": {"flag_after_failures": 4, "pause_after_failures": 2}}
        )
    with pytest.raises(ValidationError, match="rejects_ove"):
        NetworkConfig.model_validate({**document, "alerting": {"rejects_ove": 3}})
    never = NetworkConfig.model_validate({**document, "alerting": {"pause_after_failures": None}})
    assert never.alerting.pause_after_failures is None


def test_the_scheduler_runs_connectors_and_drop_folders_under_the_policy(
    database: Database,
) -> None:
    network = _network()
    hub = Hub(database, network, owner="test:1")
    assert hub.supervisor.alerting == POLICY
    scheduler = hub.scheduler()
    for name in ("atelier-dupont-status", "techniservice-changes", "bricomarket-nightly"):
        job = scheduler.get_job(name)
        assert job is not None
        assert (job.func, job.args) == (hub.jobs.run, (name,)), "a supervised run"


def test_alerting_logs_the_class_of_the_error_never_its_text(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """An error's text may quote a partner's record (a customer's name in a refused line):
    it stays in the run record and the pause reason, and the log names its class only."""
    runner = Runner(database)
    with caplog.at_level("INFO", logger="hub.partners.alerts"):
        for _ in range(3):
            _leased(database, runner)
    lines = [r.getMessage() for r in caplog.records if r.name == "hub.partners.alerts"]
    assert lines, "alerting logged the flag and the pause"
    assert any("3 failed runs in a row (last error: stop_run)" in line for line in lines), lines
    assert not any("permission denied" in line for line in lines), lines
