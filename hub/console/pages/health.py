"""The console's home page: the network's health at a glance, connectors by severity, the
outbox and the cases by status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response

from hub.console.pages.shared import (
    REFRESH_CHOICES,
    Session,
    database_of,
    network_of,
    party_names,
    refresh_seconds,
)
from hub.console.render import page
from hub.console.session import CONSOLE_PATH
from hub.model.statuses import CaseStatus
from hub.operators.listings import outcome_text, outcome_tone, unmapped_codes
from hub.operators.status import ConnectorState, NetworkStatus, network_status
from hub.store.cases import count_cases_by_status
from hub.store.run_history import run_totals_since

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)

SEVERITY = {
    ConnectorState.FAILING: 0,
    ConnectorState.BACKING_OFF: 1,
    ConnectorState.PAUSED: 2,
    ConnectorState.NOT_CONFIGURED: 3,
    ConnectorState.NEVER_RUN: 4,
    ConnectorState.OK: 5,
    ConnectorState.DISABLED: 6,
}
"""The health table lists what needs a look first; connectors.yaml order within a state."""

WINDOW = timedelta(hours=24)
"""What the health table's read, rejected and unmapped figures add up: every own run
started in the last 24 hours, not only the last run (one empty poll would hide the
rejects of the run before it)."""


def known_status(name: str) -> CaseStatus | None:
    """A stored status as the model knows it (None for a case with no status yet)."""
    try:
        return CaseStatus(name)
    except ValueError:
        return None


@router.get("")
def health(request: Request, session: Session, refresh: int = 0) -> Response:
    """Every connector with its state, the outbox, and the cases by status, at a glance;
    ``refresh`` (30 or 60 s) keeps it current on a wall screen."""
    database = database_of(request)
    network = network_of(request)
    now = datetime.now(UTC)
    status: NetworkStatus | None = None
    if network is not None:
        status = network_status(database, network, now=now)
    with database.reading() as connection:
        by_status = count_cases_by_status(connection)
        totals = run_totals_since(connection, now - WINDOW)
    connectors = (
        []
        if status is None
        else sorted(status.connectors, key=lambda connector: SEVERITY[connector.state])
    )
    states = {state: 0 for state in ConnectorState}
    for connector in connectors:
        states[connector.state] += 1
    cases = sorted(
        ((known_status(name), name, count) for name, count in by_status.items()),
        key=lambda entry: (entry[0] is None, entry[0].rank if entry[0] else 0),
    )
    return page(
        request,
        "health.html",
        session=session,
        now=now,
        refresh=refresh_seconds(refresh),
        refresh_choices=REFRESH_CHOICES,
        status=status,
        ConnectorState=ConnectorState,
        connectors=connectors,
        states=states,
        cases=cases,
        open_cases=sum(count for status_, _, count in cases if not (status_ and status_.is_final)),
        unmapped=len(unmapped_codes(database)),
        totals=totals,
        window="last 24 h",
        outcome_text=outcome_text,
        outcome_tone=outcome_tone,
        names=party_names(database),
    )
