"""Pulling ColisExpress parcels one by one: the safety net behind its pushes.

Real HTTP over loopback against the carrier's simulator, the repository's mapping, the
store on SQLite and PostgreSQL: a push that never came is found by the pull; events
seen both ways are stored once; a delivered parcel is no longer asked about.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

import hub.store.inbound
from adapters.transports.http.pull import HttpPullTransport
from adapters.transports.http.settings import Credential, HttpPullSettings
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.partners.ingest.items import run_items
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.ports import MessageRef, RawMessage
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.shipments import open_tracking_numbers
from hub.store.tables import events, rejects
from simulators.colis_express import ColisExpressSimulator
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
MAPPING = load_mapping(ROOT / "mappings" / "colis-express.yaml")
TOKEN = "ce-bearer-token"
PARIS = timezone(timedelta(hours=1))
T0 = datetime(2026, 11, 2, 17, 31, tzinfo=PARIS)


def pipeline(message: str) -> InboundPipeline:
    spec = MAPPING.inbound(message)
    codec = build_codec(spec)
    return InboundPipeline(codec, InboundMapping(MAPPING, message))


@pytest.fixture
def carrier() -> Iterator[ColisExpressSimulator]:
    with ColisExpressSimulator(token=TOKEN, rate_limit=None) as sim:
        yield sim


@pytest.fixture
def hub_db(database: Database) -> Database:
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case("ME-000123"))
    return database


def source(sim: ColisExpressSimulator) -> HttpPullTransport:
    settings = HttpPullSettings(
        base_url=sim.base_url,
        item_path="/v1/parcels/{key}/events",
        credentials=(Credential.bearer(TOKEN, "COLIS_EXPRESS_TOKEN"),),
        requests_per_second=50,
        timeout=5,
    )
    return HttpPullTransport(settings)


def pushed(database: Database, body: str) -> None:
    """What the push endpoint stores for one pushed event."""
    content = body.encode()
    message = RawMessage(MessageRef(f"push-{hash(body)}", len(content)), content)
    ingest_message(database, "ce-push", pipeline("push"), message)


def open_parcels(database: Database) -> list[str]:
    with database.transaction() as connection:
        return open_tracking_numbers(connection, "colis-express")


def carrier_events(database: Database) -> int:
    with database.transaction() as connection:
        return int(
            connection.execute(
                select(func.count()).where(events.c.reported_by == "colis-express")
            ).scalar_one()
        )


def test_the_pull_finds_a_missed_push_and_stores_nothing_twice(
    hub_db: Database, carrier: ColisExpressSimulator
) -> None:
    parcel = carrier.add_parcel("ME-000123", "CE123456789FR")
    first = carrier.add_event(parcel, "PCH", T0, label="Colis pris en charge")
    carrier.add_event(parcel, "TRI", T0 + timedelta(hours=6), push=False)  # a missed push
    body = {
        "id": first["id"],
        "code": "PCH",
        "label": "Colis pris en charge",
        "at": T0.isoformat(),
        "tracking_number": "CE123456789FR",
        "reference": "ME-000123",
    }
    pushed(hub_db, json.dumps(body))
    assert open_parcels(hub_db) == ["CE123456789FR"]

    with source(carrier) as parcels:
        report = run_items(
            hub_db, "ce-parcels", parcels, pipeline("parcel_events"), ["CE123456789FR"]
        )
    assert report.error is None
    assert report.counts.events_stored == 1, "only the event the push missed"
    assert report.counts.duplicates == 1
    assert carrier_events(hub_db) == 2

    carrier.add_event(parcel, "LIV", T0 + timedelta(days=1), signed_by="DUPONT")
    with source(carrier) as parcels:
        run_items(hub_db, "ce-parcels", parcels, pipeline("parcel_events"), open_parcels(hub_db))
    assert carrier_events(hub_db) == 3
    assert open_parcels(hub_db) == [], "a delivered parcel is not asked about again"


def test_an_unknown_parcel_is_reported_on_the_run(
    hub_db: Database, carrier: ColisExpressSimulator
) -> None:
    """A parcel the carrier does not know is a rejected item (noted for the operator with
    the carrier's answer), not a failed run: the other parcels are still asked about."""
    known = carrier.add_parcel("ME-000123", "CE123456789FR")
    with source(carrier) as parcels:
        report = run_items(
            hub_db, "ce-parcels", parcels, pipeline("parcel_events"), ["CE000FR", known]
        )
    assert report.error is None
    assert report.counts.rejected == 1
    assert report.counts.messages_seen == 1
    with hub_db.transaction() as connection:
        reasons = connection.execute(select(rejects.c.reason)).scalars().all()
    assert reasons == ["the partner knows no item 'CE000FR' (404 Not Found)"]


def test_a_push_processed_twice_at_once_is_stored_once_without_error(
    hub_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one push land together: both see it unprocessed, both store; the
    second one's record of the message clashes and it steps back quietly."""
    body = json.dumps(
        {
            "id": "EVT-RACE-1",
            "code": "PCH",
            "label": "Colis pris en charge",
            "at": T0.isoformat(),
            "tracking_number": "CE123456789FR",
            "reference": "ME-000123",
        }
    ).encode()
    message = RawMessage(MessageRef("push-race", len(body)), body)
    first = ingest_message(hub_db, "ce-push", pipeline("push"), message)
    assert not first.skipped

    real_check = hub.store.inbound.already_processed
    checks: list[bool] = []

    def blind_first_look(*args: object) -> bool:
        """The second copy looked before the first one committed."""
        answer = False if not checks else real_check(*args)  # type: ignore[arg-type]
        checks.append(answer)
        return answer

    monkeypatch.setattr(hub.store.inbound, "already_processed", blind_first_look)
    second = ingest_message(hub_db, "ce-push", pipeline("push"), message)
    assert checks == [False, True], "it looked, stored, clashed, then looked again"
    assert second.skipped
    assert carrier_events(hub_db) == 1
