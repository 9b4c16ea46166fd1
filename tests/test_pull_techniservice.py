"""Pulling TechniService's changes end to end against its simulator, on both databases.

Real HTTP over loopback, the real XML codec and XSD, the repository's mapping, and the
store: a run through rate limiting and a maintenance window stores every change once;
an expired cursor is recovered by re-reading each open repair; pushes of the same
change twice around a page boundary store nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.transports.http.pacing import ClientRateLimiter
from adapters.transports.http.pull import HttpPullTransport
from adapters.transports.http.settings import Credential, HttpPullSettings
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.partners.ingest.paged import run_paged
from hub.partners.ingest.pipeline import InboundPipeline
from hub.store.case_links import trusted_partner_references
from hub.store.cases import get_case, open_case
from hub.store.connector_state import read_cursor
from hub.store.db import Database
from hub.store.tables import events
from simulators.server import ManualClock
from simulators.techniservice.app import TechniServiceSimulator
from simulators.techniservice.repairs import Part, Quote
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
MAPPING = load_mapping(ROOT / "mappings" / "techniservice.yaml")
KEY = "ts-secret-key"
PARIS = timezone(timedelta(hours=1))
ORDERS = ["BM-000045", "ME-000130", "ME-000131", "BM-000051"]


def pipeline(message: str) -> InboundPipeline:
    spec = MAPPING.inbound(message)
    codec = build_codec(spec)
    return InboundPipeline(codec, InboundMapping(MAPPING, message))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def simulator(clock: ManualClock) -> Iterator[TechniServiceSimulator]:
    with TechniServiceSimulator(api_key=KEY, clock=clock, page_size=3) as sim:
        yield sim


def transport(sim: TechniServiceSimulator, clock: ManualClock, rps: float) -> HttpPullTransport:
    """The hub's transport, waiting on the simulator's clock instead of sleeping."""
    settings = HttpPullSettings(
        base_url=sim.base_url,
        page_path="/repairs/changes",
        item_path="/repairs/{key}",
        credentials=(Credential("X-Api-Key", KEY, "TECHNISERVICE_API_KEY"),),
        requests_per_second=rps,
        max_attempts=6,
        timeout=5,
    )
    return HttpPullTransport(
        settings,
        sleep=clock.advance,
        wall_clock=clock,
        rate_limiter=ClientRateLimiter(rps, clock=clock, sleep=clock.advance),
        jitter=lambda: 0.5,
    )


def feed_history(sim: TechniServiceSimulator, first_day: int = 2) -> int:
    """Ten changes over four repairs, as a busy morning produces them."""
    at = datetime(2026, 11, first_day, 9, 0, tzinfo=PARIS)
    steps = [
        ("TS-88120", ORDERS[0], "10", {}),
        ("TS-88121", ORDERS[1], "12", {}),
        ("TS-88120", ORDERS[0], "20", {}),
        ("TS-88122", ORDERS[2], "10", {}),
        ("TS-88120", ORDERS[0], "25", {"quote": Quote("212.00", "EUR")}),
        ("TS-88121", ORDERS[1], "14", {}),
        ("TS-88123", ORDERS[3], "10", {}),
        ("TS-88120", ORDERS[0], "27", {}),
        ("TS-88120", ORDERS[0], "30", {"parts": [Part("PP-77120", 1)]}),
        ("TS-88121", ORDERS[1], "70", {"note": "Pompe remplacée"}),
    ]
    for minutes, (repair, order, code, extra) in enumerate(steps):
        sim.add_change(repair, order, code, at + timedelta(minutes=10 * minutes), **extra)  # type: ignore[arg-type]
    return len(steps)


@pytest.fixture
def hub_db(database: Database) -> Database:
    register_network(database)
    with database.transaction() as connection:
        for reference in ORDERS:
            open_case(connection, make_case(reference, service="home_intervention"))
    return database


def stored_by_partner(database: Database) -> int:
    with database.transaction() as connection:
        return int(
            connection.execute(
                select(func.count()).where(events.c.reported_by == "techniservice")
            ).scalar_one()
        )


def test_a_run_through_rate_limits_and_maintenance_stores_every_change_once(
    hub_db: Database, simulator: TechniServiceSimulator, clock: ManualClock
) -> None:
    changes = feed_history(simulator)
    simulator.page_size = 2
    simulator.duplicate_at_page_boundary = True
    simulator.start_maintenance(requests=2, retry_after=600)
    with transport(simulator, clock, rps=50) as source:  # ten times faster than allowed
        report = run_paged(hub_db, "ts-changes", source, pipeline("changes"))

    assert report.error is None, report.error
    assert stored_by_partner(hub_db) == changes
    assert report.counts.duplicates > 0, "pages repeated a change at their boundary"
    statuses = [r.status for r in simulator.requests]
    assert 503 in statuses
    assert 429 in statuses
    with hub_db.transaction() as connection:
        assert read_cursor(connection, "ts-changes") is not None
        quoted = get_case(connection, ORDERS[0])
        home = get_case(connection, ORDERS[1])
    assert quoted is not None
    assert quoted.status is not None
    assert quoted.status.value == "waiting_parts"
    assert home is not None
    assert home.status is not None
    assert home.status.value == "repaired"

    with transport(simulator, clock, rps=5) as source:
        quiet = run_paged(hub_db, "ts-changes", source, pipeline("changes"))
    assert quiet.error is None
    assert quiet.counts.events_stored == 0


def test_an_expired_cursor_is_recovered_by_reading_each_open_repair(
    hub_db: Database, simulator: TechniServiceSimulator, clock: ManualClock
) -> None:
    changes = feed_history(simulator)
    with transport(simulator, clock, rps=5) as source:
        first = run_paged(hub_db, "ts-changes", source, pipeline("changes"))
    assert first.counts.events_stored == changes

    simulator.add_change("TS-88122", None, "20", datetime(2026, 11, 4, 9, 0, tzinfo=PARIS))
    simulator.add_change("TS-88123", None, "25", datetime(2026, 11, 4, 9, 5, tzinfo=PARIS))
    simulator.expire_tokens()

    def open_references() -> list[str]:
        with hub_db.transaction() as connection:
            return trusted_partner_references(connection, "techniservice")

    with transport(simulator, clock, rps=5) as source:
        second = run_paged(
            hub_db,
            "ts-changes",
            source,
            pipeline("changes"),
            resync=(pipeline("repair"), open_references),
        )

    assert second.error is None, second.error
    assert stored_by_partner(hub_db) == changes + 2
    item_reads = [
        r
        for r in simulator.requests
        if r.path.startswith("/api/v2/repairs/TS-") and r.status == 200
    ]
    assert sorted(r.path for r in item_reads) == [
        "/api/v2/repairs/TS-88120",
        "/api/v2/repairs/TS-88121",
        "/api/v2/repairs/TS-88122",
        "/api/v2/repairs/TS-88123",
    ], "each repair of a case still open, read once"
    assert second.counts.events_stored == 2, "the resync and the re-paging store only the new"
