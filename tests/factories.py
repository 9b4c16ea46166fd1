"""Small builders for canonical objects, so tests state only what matters to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert

from hub.model import Case, Event, EventDetails, EventType, Party, PartyRole, stable_event_id
from hub.store.db import Database
from hub.store.parties import save_party
from hub.store.tables import outbox

PARIS_WINTER = timezone(timedelta(hours=1))
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=PARIS_WINTER)

NETWORK = [
    Party(id="maison-electro", role=PartyRole.RETAILER, name="Maison Électro"),
    Party(id="bricomarket", role=PartyRole.RETAILER, name="BricoMarket"),
    Party(id="atelier-dupont", role=PartyRole.REPAIRER, name="Atelier Dupont Réparation"),
    Party(id="techniservice", role=PartyRole.REPAIRER, name="TechniService"),
    Party(id="colis-express", role=PartyRole.CARRIER, name="ColisExpress"),
    Party(id="pieces-plus", role=PartyRole.PARTS_SUPPLIER, name="PiècesPlus"),
]


def register_network(database: Database) -> None:
    with database.transaction() as connection:
        for party in NETWORK:
            save_party(connection, party)


CUSTOMER_WITH_ADDRESS = {
    "name": "Julie Martin",
    "phone": "+33612345678",
    "address": {"line1": "4 rue des Lilas", "postcode": "69003", "city": "Lyon"},
}
"""A customer the shipped network's carriers can collect from (a pickup needs the address)."""


def make_case(reference: str = "ME-000123", **overrides: Any) -> Case:
    data: dict[str, Any] = {
        "reference": reference,
        "retailer": "maison-electro" if reference.startswith("ME-") else "bricomarket",
        "product": {"brand": "Seb", "model": "Actifry", "serial_number": " SN8841XK2 "},
        "coverage": "legal_conformity",
        "service": "workshop_repair",
        "fault": "Ne chauffe plus",
        "customer": {"name": "Julie Martin", "phone": "+33612345678"},
        "contract_level": "gold",
        "opened_at": T0 - timedelta(days=2),
    }
    data.update(overrides)
    return Case.model_validate(data)


def case_event(
    status: str | None,
    at: datetime,
    *,
    case_ref: str = "ME-000123",
    by: str = "atelier-dupont",
    code: str | None = None,
    recorded_at: datetime | None = None,
) -> Event:
    raw = code if code is not None else (status or "???").upper()[:3]
    return Event(
        id=stable_event_id(
            reported_by=by,
            case_ref=case_ref,
            type=EventType.CASE_STATUS,
            raw_code=raw,
            occurred_at=at,
        ),
        case_ref=case_ref,
        type=EventType.CASE_STATUS,
        status=status,
        occurred_at=at,
        reported_by=by,
        raw_code=raw,
        recorded_at=recorded_at or datetime(2026, 11, 20, tzinfo=UTC),
    )


def part_cancelled(case_ref: str, reason: str = "REF_OBSOLETE") -> Event:
    """PiècesPlus cancelling line 1 of an order (REF_OBSOLETE: the part is no longer made)."""
    return Event(
        id=f"pieces-plus:h:cancelled-{case_ref}-{reason}",
        case_ref=case_ref,
        type=EventType.PARTS_ORDER_STATUS,
        status="cancelled",
        occurred_at=T0,
        reported_by="pieces-plus",
        raw_code="CANCELLED",
        subject="PO-2026-00015/1",
        details=EventDetails(reason=reason),
    )


def stored_message(
    database: Database,
    *,
    target: str,
    key: str,
    state: str,
    at: datetime,
    case_ref: str,
    kind: str = "repair_order",
) -> None:
    """An outbox row in the given state, written as it would stand after its sends
    (delivered ones delivered at ``at``): for what reads the outbox, not what fills it."""
    with database.transaction() as connection:
        connection.execute(
            insert(outbox).values(
                target=target,
                kind=kind,
                case_ref=case_ref,
                ordering_key=case_ref,
                idempotency_key=key,
                payload={},
                created_at=at,
                state=state,
                attempts=1,
                next_attempt_at=at,
                delivered_at=at if state == "delivered" else None,
            )
        )
