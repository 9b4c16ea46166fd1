"""The network's sync rules: what each event sets in motion, and for whom."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.config.network import load_network
from hub.config.sync import Role, SyncSpec
from hub.model import CaseStatus, Event, EventDetails, EventType
from hub.model.work import Shipment, ShipmentLeg
from hub.partners.connectors import check_network
from hub.store.cases import opening_event
from hub.sync.rules import (
    NotifyIntent,
    SendIntent,
    StatusIntent,
    UnroutedCase,
    evaluate,
)
from tests.factories import T0, case_event, make_case, part_cancelled

ROOT = Path(__file__).resolve().parent.parent
SYNC = load_network(ROOT / "connectors.yaml").sync


def sends(intents: list[object]) -> list[tuple[str, str, str | None]]:
    return [(i.party, i.message, i.leg) for i in intents if isinstance(i, SendIntent)]


def test_a_workshop_case_orders_a_pickup_and_a_repair_from_its_routed_partners() -> None:
    maison = make_case("ME-000123")
    brico = make_case("BM-000045")
    assert sends(evaluate(SYNC, opening_event(maison), maison)) == [
        ("colis-express", "pickup", "to_repairer"),
        ("atelier-dupont", "repair_order", None),
    ]
    assert sends(evaluate(SYNC, opening_event(brico), brico)) == [
        ("colis-express", "pickup", "to_repairer"),
        ("techniservice", "repair_order", None),
    ]


def test_a_home_intervention_goes_to_the_home_repairer_without_a_pickup() -> None:
    case = make_case("ME-000130", service="home_intervention")
    assert sends(evaluate(SYNC, opening_event(case), case)) == [
        ("techniservice", "repair_order", None)
    ]


def test_a_part_is_ordered_when_the_repairer_waits_for_one() -> None:
    case = make_case("ME-000123")
    waiting = case_event("waiting_parts", T0, by="atelier-dupont", code="ATP")
    assert sends(evaluate(SYNC, waiting, case)) == [("pieces-plus", "purchase_order", None)]
    not_the_repairer = case_event("waiting_parts", T0, by="maison-electro", code="X")
    assert sends(evaluate(SYNC, not_the_repairer, case)) == []


def test_an_obsolete_part_puts_the_case_on_hold() -> None:
    case = make_case("ME-000123")
    cancelled = part_cancelled(case.reference)
    intents = evaluate(SYNC, cancelled, case)
    assert [i for i in intents if isinstance(i, StatusIntent)] == [
        StatusIntent("part-obsolete", case.reference, CaseStatus.ON_HOLD, cancelled.id)
    ]
    other = part_cancelled(case.reference, reason="client")
    assert not any(isinstance(i, StatusIntent) for i in evaluate(SYNC, other, case))


@pytest.mark.parametrize("status", ["repaired", "not_repairable", "quote_declined"])
def test_the_product_goes_back_when_the_repair_ends(status: str) -> None:
    case = make_case("ME-000123")
    event = case_event(status, T0 + timedelta(days=3), by="atelier-dupont")
    assert sends(evaluate(SYNC, event, case)) == [("colis-express", "pickup", "to_customer")]


def parcel_event(status: str, leg: ShipmentLeg | None) -> Event:
    return Event(
        id=f"colis-express:{status}:{leg}",
        case_ref="ME-000123",
        type=EventType.SHIPMENT_STATUS,
        status=status,
        occurred_at=T0 + timedelta(days=6),
        reported_by="colis-express",
        raw_code=status.upper()[:3],
        subject="CE777000222FR",
        details=EventDetails(
            shipment=Shipment(carrier_name="ColisExpress", tracking_number="CE777000222FR", leg=leg)
        ),
        recorded_at=T0 + timedelta(days=6),
    )


@pytest.mark.parametrize(
    ("status", "case_status"),
    [("available_for_pickup", CaseStatus.READY_FOR_PICKUP), ("delivered", CaseStatus.DELIVERED)],
)
def test_the_parcel_back_moves_the_case_to_the_relay_point_then_to_the_customer(
    status: str, case_status: CaseStatus
) -> None:
    case = make_case("ME-000123")
    back = parcel_event(status, ShipmentLeg.TO_CUSTOMER)
    assert [i.status for i in evaluate(SYNC, back, case) if isinstance(i, StatusIntent)] == [
        case_status
    ]
    for leg in (ShipmentLeg.TO_REPAIRER, None):  # the way in, or a parcel of unknown leg
        other = parcel_event(status, leg)
        assert not any(isinstance(i, StatusIntent) for i in evaluate(SYNC, other, case)), leg


def test_every_case_and_parcel_event_is_published_to_its_retailer_once() -> None:
    case = make_case("BM-000045")
    event = case_event("diagnosing", T0, case_ref="BM-000045", by="techniservice")
    notices = [i for i in evaluate(SYNC, event, case) if isinstance(i, NotifyIntent)]
    assert [(n.retailer, n.event_id) for n in notices] == [("bricomarket", event.id)]
    assert notices[0].idempotency_key == f"webhook:bricomarket:{event.id}"


def test_one_message_per_case_party_and_leg_however_often_its_cause_repeats() -> None:
    case = make_case("ME-000123")
    first = evaluate(SYNC, case_event("repaired", T0, by="atelier-dupont"), case)
    again = evaluate(
        SYNC, case_event("repaired", T0 + timedelta(hours=1), by="atelier-dupont"), case
    )
    keys = {i.idempotency_key for i in first + again if isinstance(i, SendIntent)}
    assert keys == {"ME-000123:colis-express:pickup:to_customer"}


def test_a_case_no_route_serves_is_a_clear_error() -> None:
    rule = {
        "name": "r",
        "when": {"type": "case_status"},
        "send": [{"to": "carrier", "message": "pickup"}],
    }
    spec = SyncSpec.model_validate({"rules": [rule]})
    case = make_case("ME-000123")
    with pytest.raises(UnroutedCase, match="no route names a carrier"):
        evaluate(spec, opening_event(case), case)


def test_rules_are_checked_when_the_network_is_loaded(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="sends nothing and changes nothing"):
        SyncSpec.model_validate({"rules": [{"name": "idle", "when": {"type": "case_status"}}]})
    network = tmp_path / "connectors.yaml"
    network.write_text(
        "version: 1\n"
        "parties: [{id: ad, role: repairer, name: AD}, {id: ce, role: carrier, name: CE}]\n"
        "sync:\n"
        "  routes: [{repairer: ad, carrier: ce}]\n"
        "  rules:\n"
        "    - {name: r, when: {type: case_status, status: created},\n"
        "       send: [{to: repairer, message: repair_order}]}\n",
        encoding="utf-8",
    )
    problems = [p.text for p in check_network(network)]
    assert problems == [
        f"{network}: rule 'r' sends 'repair_order' to ad (repairer), which has no connector "
        "for that message"
    ]
    network.write_text(
        network.read_text().replace(
            "routes: [{repairer: ad, carrier: ce}]", "routes: [{repairer: ce}]"
        )
    )
    assert "not a repairer among the parties" in check_network(network)[0].text
    assert Role.CARRIER.value == "carrier"


def test_a_route_can_serve_only_some_product_categories() -> None:
    spec = SyncSpec.model_validate(
        {
            "routes": [
                {"category": ["large_appliance", "tv"], "carrier": "bulky-carrier"},
                {"carrier": "colis-express"},
            ],
            "rules": [
                {
                    "name": "opened",
                    "when": {"type": "case_status", "status": "created"},
                    "send": [{"to": "carrier", "message": "pickup", "leg": "to_repairer"}],
                }
            ],
        }
    )
    fridge = make_case(product={"brand": "Liebherr", "model": "CNd", "category": "large_appliance"})
    fryer = make_case(product={"brand": "Seb", "model": "Actifry", "category": "small_appliance"})
    unsorted = make_case()  # no category: only a route without the filter serves it
    assert [sends(evaluate(spec, opening_event(c), c)) for c in (fridge, fryer, unsorted)] == [
        [("bulky-carrier", "pickup", "to_repairer")],
        [("colis-express", "pickup", "to_repairer")],
        [("colis-express", "pickup", "to_repairer")],
    ]


def test_a_message_the_partner_takes_outside_the_hub_is_not_sent(tmp_path: Path) -> None:
    rules = [
        {
            "name": "opened",
            "when": {"type": "case_status", "status": "created"},
            "send": [
                {"to": "carrier", "message": "pickup", "leg": "to_repairer"},
                {"to": "repairer", "message": "repair_order"},
            ],
        }
    ]
    routes = [{"carrier": "relay", "repairer": "ad"}]
    spec = SyncSpec.model_validate(
        {"routes": routes, "rules": rules, "not_sent": {"relay": "pickup"}}
    )
    case = make_case()
    assert sends(evaluate(spec, opening_event(case), case)) == [("ad", "repair_order", None)]
    # The network check knows the relay takes no pickup, and still wants the repair order.
    network = tmp_path / "connectors.yaml"
    network.write_text(
        "version: 1\n"
        "parties: [{id: ad, role: repairer, name: AD}, {id: relay, role: carrier, name: R}]\n"
        "sync:\n"
        "  routes: [{repairer: ad, carrier: relay}]\n"
        "  not_sent: {relay: [pickup]}\n"
        "  rules:\n"
        "    - {name: r, when: {type: case_status, status: created},\n"
        "       send: [{to: carrier, message: pickup}, {to: repairer, message: repair_order}]}\n",
        encoding="utf-8",
    )
    assert [p.text for p in check_network(network)] == [
        f"{network}: rule 'r' sends 'repair_order' to ad (repairer), which has no connector "
        "for that message"
    ]
    network.write_text(network.read_text().replace("not_sent: {relay:", "not_sent: {nobody:"))
    assert "sync.not_sent names 'nobody', which is not among the parties" in (
        check_network(network)[0].text
    )


def test_two_connectors_carrying_one_message_for_one_partner_are_named(tmp_path: Path) -> None:
    production = (ROOT / "connectors.yaml").read_text(encoding="utf-8")
    twin = (
        "  - name: atelier-dupont-orders-twin\n"
        "    partner: atelier-dupont\n"
        f"    mapping: {ROOT / 'mappings' / 'atelier-dupont.yaml'}\n"
        "    message: repair_order\n"
        "    transport: {type: local-dir, path: /tmp/orders-twin}\n"
    )
    network = tmp_path / "connectors.yaml"
    network.write_text(production.replace("\nconnectors:\n", "\nconnectors:\n" + twin, 1))
    shared = [p.text for p in check_network(network) if "both carry" in p.text]
    assert shared == [
        f"{network}:{_line_of(network, 'name: atelier-dupont-orders')}: connectors "
        "'atelier-dupont-orders-twin' and 'atelier-dupont-orders' both carry 'repair_order' for "
        "atelier-dupont: messages the rules send would all go to one of them; disable one "
        "(enabled: false) or name another message"
    ]


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if line.strip().endswith(text))


def test_a_send_after_another_waits_for_that_message_of_its_case() -> None:
    maison = make_case("ME-000123")
    pickup, order = [
        i for i in evaluate(SYNC, opening_event(maison), maison) if isinstance(i, SendIntent)
    ]
    assert pickup.after is None
    assert order.after == pickup.idempotency_key == "ME-000123:colis-express:pickup:to_repairer"
    # A relay-point case: the customer drops the parcel, nothing is booked, nothing waited for.
    relay = make_case(
        "ME-000124", product={"brand": "Seb", "model": "Actifry", "category": "small_appliance"}
    )
    [order] = [i for i in evaluate(SYNC, opening_event(relay), relay) if isinstance(i, SendIntent)]
    assert (order.message, order.after) == ("repair_order", None)


@pytest.mark.parametrize(
    ("send", "why"),
    [
        ([{"to": "repairer", "message": "repair_order", "after": "pickup"}], "no earlier send"),
        (
            [
                {"to": "repairer", "message": "repair_order", "after": "pickup"},
                {"to": "carrier", "message": "pickup", "leg": "to_repairer"},
            ],
            "no earlier send",
        ),
        (
            [
                {"to": "carrier", "message": "pickup", "leg": "to_repairer"},
                {"to": "carrier", "message": "pickup", "leg": "to_customer"},
                {"to": "repairer", "message": "repair_order", "after": "pickup"},
            ],
            "more than one earlier send",
        ),
    ],
)
def test_after_names_exactly_one_earlier_send_of_the_rule(
    send: list[dict[str, str]], why: str
) -> None:
    rule = {"name": "opened", "when": {"type": "case_status", "status": "created"}, "send": send}
    with pytest.raises(ValidationError, match=f"repair_order waits for 'pickup', but {why}"):
        SyncSpec.model_validate({"rules": [rule]})
