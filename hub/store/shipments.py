"""Shipments as carriers report them: the shipment-status events of each parcel, by its
tracking number (the event's subject)."""

from __future__ import annotations

from sqlalchemy import Connection, Integer, and_, func, select

from hub.model.statuses import ShipmentStatus
from hub.store.parcels import carried_parcels
from hub.store.tables import events

FINAL_SHIPMENT_STATUSES = (ShipmentStatus.DELIVERED.value, ShipmentStatus.RETURNED_TO_SENDER.value)


def open_tracking_numbers(connection: Connection, carrier: str) -> list[str]:
    """Parcels of this carrier whose latest status it reported is not final, and parcels
    the hub was told it carries that it has not reported on yet: what an
    object-by-object pull must still ask about.

    "Latest" is by when it happened, like every derived status in the hub.
    """
    latest = (
        select(events.c.subject, func.max(events.c.occurred_at).label("at"))
        .where(events.c.type == "shipment_status", events.c.reported_by == carrier)
        .where(events.c.subject.is_not(None), events.c.status.is_not(None))
        .group_by(events.c.subject)
        .subquery()
    )
    rows = connection.execute(
        select(
            latest.c.subject,
            func.sum(events.c.status.in_(FINAL_SHIPMENT_STATUSES).cast(Integer)).label("final"),
        )
        .join(
            events,
            and_(events.c.subject == latest.c.subject, events.c.occurred_at == latest.c.at),
        )
        .where(events.c.reported_by == carrier, events.c.type == "shipment_status")
        .group_by(latest.c.subject)
    )
    reported = {subject: bool(final) for subject, final in rows}
    told = carried_parcels(connection, carrier) - reported.keys()
    return sorted({subject for subject, final in reported.items() if not final} | told)


def latest_codes(connection: Connection, carrier: str) -> dict[str, str]:
    """Each parcel's latest event code as this carrier reported it, by tracking number
    (what the demo compares with the carrier's own view)."""
    rows = connection.execute(
        select(events.c.subject, events.c.raw_code, events.c.occurred_at)
        .where(events.c.type == "shipment_status", events.c.reported_by == carrier)
        .where(events.c.subject.is_not(None), events.c.raw_code.is_not(None))
        .order_by(events.c.subject, events.c.occurred_at)
    )
    return {subject: code for subject, code, _ in rows}
