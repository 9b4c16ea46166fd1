"""Linking by tracking number: a carrier's event that names only its parcel links to the
case the hub learned that number for; one whose number is not known yet waits, and is
attached (its sync rules run) when another message teaches the number. Through the real
ColisExpress push mapping and the sync rules, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.model.event import Event, EventDetails, EventType
from hub.model.statuses import ShipmentStatus
from hub.model.work import Shipment
from hub.partners.connectors import Network, open_network
from hub.partners.ingest.message import ingest_message
from hub.partners.resolve import link_waiting, resolve_cases
from hub.ports import MessageRef, RawMessage
from hub.store.case_links import unlinked_events
from hub.store.cases import case_state, open_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.store.outbox import all_messages
from hub.store.shipments import open_tracking_numbers
from tests.factories import make_case, register_network

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 11, 2, 17, 31, tzinfo=UTC)


def _network() -> Network:
    return open_network(ROOT / "connectors.yaml")


def _open(database: Database, reference: str) -> None:
    register_network(database)
    with database.transaction() as connection:
        open_case(connection, make_case(reference), on_stored=_network().sync_hook())


def _push(database: Database, number: int, code: str, tracking: str, **extra: Any) -> None:
    """One ColisExpress push (its real mapping, the sync rules on what is stored)."""
    body: dict[str, Any] = {
        "id": f"ev_{number}",
        "code": code,
        "label": code,
        "at": (AT + timedelta(hours=number)).isoformat(),
        "tracking_number": tracking,
        **extra,
    }
    content = json.dumps(body).encode()
    network = _network()
    pipeline = network.connector("colis-express-push").pipeline()
    message = RawMessage(MessageRef(f"push-{number}.json", len(content)), content)
    outcome = ingest_message(
        database, "colis-express-push", pipeline, message, on_stored=network.sync_hook()
    )
    assert (outcome.counts.rejected, outcome.counts.events_stored) == (0, 1)


def _carrier_codes(database: Database, reference: str) -> list[str | None]:
    with database.transaction() as connection:
        state = case_state(connection, reference)
    return [e.raw_code for e in state.timeline if e.reported_by == "colis-express"]


def test_a_carrier_event_with_only_a_known_number_links_to_its_case(database: Database) -> None:
    _open(database, "ME-000600")
    _push(database, 1, "PCH", "CE600000001FR", reference="ME-000600")
    _push(database, 2, "TRI", "ce600000001fr")  # no reference; the number in lower case
    assert _carrier_codes(database, "ME-000600") == ["PCH", "TRI"]


def test_an_unknown_number_waits_then_links_and_moves_the_case_on(database: Database) -> None:
    _open(database, "ME-000601")
    _push(database, 1, "TRI", "CE601000001FR")  # the sorting centre scans before anyone said
    with database.transaction() as connection:
        [waiting] = unlinked_events(connection, party="colis-express")
    assert waiting.subject == "CE601000001FR"
    assert waiting.reason == (
        "the parcel CE601000001FR is not known on any case yet: it waits for its number"
    )

    _push(database, 2, "PCH", "CE601000001FR", reference="ME-000601")

    assert _carrier_codes(database, "ME-000601") == ["TRI", "PCH"]
    with database.transaction() as connection:
        assert unlinked_events(connection, party="colis-express") == []
        notified = [
            row.payload["event_id"]
            for row in all_messages(connection)
            if row.target == "webhook:maison-electro"
        ]
    # The waiting event's sync rules ran when it was attached: Maison Électro hears of it.
    assert waiting.event_id in notified


def _shipment_event(event_id: str, by: str, tracking: str, case_ref: str | None) -> Event:
    return Event(
        id=event_id,
        case_ref=case_ref,
        type=EventType.SHIPMENT_STATUS,
        status=ShipmentStatus.IN_TRANSIT,
        occurred_at=AT,
        reported_by=by,
        raw_code="X",
        subject=tracking,
        details=EventDetails(shipment=Shipment(tracking_number=tracking, carrier=None)),
    )


def test_a_number_learned_as_one_carriers_is_not_another_carriers(database: Database) -> None:
    _open(database, "ME-000602")
    with database.transaction() as connection:
        taught = _shipment_event("ce-1", "colis-express", "CE602000001FR", "ME-000602")
        append_events(connection, [taught])
        link_waiting(connection, [taught], None)
        stranger = _shipment_event("other-1", "pieces-plus", "CE602000001FR", None)
        [resolved] = resolve_cases(connection, [stranger])
        same = _shipment_event("ce-2", "colis-express", "CE602000001FR", None)
        [linked] = resolve_cases(connection, [same])
    assert resolved.case_ref is None
    assert linked.case_ref == "ME-000602"


def test_a_carriers_pull_asks_about_parcels_others_said_it_carries(database: Database) -> None:
    """A supplier's shipped event names the carrier: its per-item pull asks about that
    parcel until the carrier reports it delivered."""
    _open(database, "ME-000603")
    shipped = Event(
        id="pp-shipped-1",
        case_ref="ME-000603",
        type=EventType.PARTS_ORDER_STATUS,
        status=None,
        occurred_at=AT,
        reported_by="pieces-plus",
        raw_code="SHIPPED",
        details=EventDetails(
            shipment=Shipment(tracking_number="CE603000001FR", carrier="colis-express")
        ),
    )
    with database.transaction() as connection:
        append_events(connection, [shipped])
        link_waiting(connection, [shipped], None)
        assert open_tracking_numbers(connection, "colis-express") == ["CE603000001FR"]
    _push(database, 1, "LIV", "CE603000001FR")  # no reference: linked by the number
    assert _carrier_codes(database, "ME-000603") == ["LIV"]
    with database.transaction() as connection:
        assert open_tracking_numbers(connection, "colis-express") == []


def test_a_waiting_event_whose_number_two_cases_claim_goes_on_waiting(database: Database) -> None:
    """A number learned on two cases is a doubt: the carrier's event naming only that
    number links to neither."""
    _open(database, "ME-000604")
    _open(database, "ME-000605")
    _push(database, 1, "TRI", "CE604000001FR")  # waits: nobody said whose it is yet
    taught = [  # two suppliers' shipped events, naming no carrier: any carrier's scan would do
        Event(
            id=f"sup-{reference}",
            case_ref=reference,
            type=EventType.PARTS_ORDER_STATUS,
            status=None,
            occurred_at=AT,
            reported_by="pieces-plus",
            raw_code="SHIPPED",
            details=EventDetails(shipment=Shipment(tracking_number="CE604000001FR")),
        )
        for reference in ("ME-000604", "ME-000605")
    ]
    with database.transaction() as connection:
        append_events(connection, taught)
        assert link_waiting(connection, taught, None) == 0
        [waiting] = unlinked_events(connection, party="colis-express")
    assert waiting.subject == "CE604000001FR"
    assert _carrier_codes(database, "ME-000604") == []
    assert _carrier_codes(database, "ME-000605") == []


def test_the_parcels_stored_events_teach_are_those_naming_a_case_and_a_parcel() -> None:
    """``parcels_taught`` looks at an event's shipment and type before anything else
    (issue 17, thirteenth pass): an event with a case and a shipment teaches its number
    (its carrier's, or the reporter's for a carrier's event), a carrier's event with a
    case and only a subject teaches the subject, and an event without a case, or with
    neither a shipment nor a carrier's type, teaches nothing."""
    from hub.partners.resolve import parcels_taught
    from hub.store.parcels import KnownParcel

    def made(number: int, type_: EventType, case_ref: str | None, **fields: Any) -> Event:
        status = "repaired" if type_ is EventType.CASE_STATUS else "in_transit"
        return Event(
            id=f"ev-{number}",
            case_ref=case_ref,
            type=type_,
            status=status,
            occurred_at=AT,
            reported_by="colis-express",
            **fields,
        )

    shipment = Shipment(carrier="alpes-fret", tracking_number="CX-1001", leg="to_customer")
    stored = [
        made(1, EventType.CASE_STATUS, "ME-000701", details=EventDetails(shipment=shipment)),
        made(2, EventType.SHIPMENT_STATUS, "ME-000702", subject="CX-1002"),
        made(3, EventType.SHIPMENT_STATUS, None, subject="CX-1003"),
        made(4, EventType.CASE_STATUS, "ME-000704", subject="CX-1004"),
        made(5, EventType.CASE_STATUS, None, details=EventDetails(shipment=shipment)),
        made(6, EventType.SHIPMENT_STATUS, "ME-000706"),
        made(7, EventType.SHIPMENT_STATUS, "ME-000707", details=EventDetails(shipment=shipment)),
    ]
    assert parcels_taught(stored) == [
        KnownParcel("CX-1001", "ME-000701", "alpes-fret", "to_customer", "ev-1"),
        KnownParcel("CX-1002", "ME-000702", "colis-express", None, "ev-2"),
        KnownParcel("CX-1001", "ME-000707", "alpes-fret", "to_customer", "ev-7"),
    ]
