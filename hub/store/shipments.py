"""Shipments as carriers report them: the shipment-status events of each parcel, by its
tracking number (the event's subject); and the parcels other parties handed to a carrier
(a supplier's shipped event naming the carrier), which that carrier has still to report."""

from __future__ import annotations

from sqlalchemy import Connection, Integer, and_, exists, func, select

from hub.model.statuses import ShipmentStatus
from hub.store.tables import events

FINAL_SHIPMENT_STATUSES = (ShipmentStatus.DELIVERED.value, ShipmentStatus.RETURNED_TO_SENDER.value)


def open_tracking_numbers(connection: Connection, carrier: str) -> list[str]:
    """Parcels the carrier reported on whose latest status is not final, and parcels
    another party's event handed to it (``details.shipment.carrier``) that it has not
    reported on yet: what an object-by-object pull must still ask about.

    "Latest" is by when it happened, like every derived status in the hub.
    """
    handed = set(_handed_to(connection, carrier))
    return sorted(set(_reported_open(connection, carrier)) | handed)


def _handed_to(connection: Connection, carrier: str) -> list[str]:
    """Tracking numbers that other parties' events say they gave to ``carrier``, which
    the carrier has not reported on yet (from then on, its own events say if it is open)."""
    shipment_carrier = events.c.details[("shipment", "carrier")].as_string()
    tracking = events.c.details[("shipment", "tracking_number")].as_string()
    reported = events.alias("reported")
    rows = connection.execute(
        select(tracking)
        .distinct()
        .where(events.c.reported_by != carrier, events.c.type != "shipment_status")
        .where(events.c.details.is_not(None), shipment_carrier == carrier)
        .where(
            ~exists().where(
                reported.c.reported_by == carrier,
                reported.c.type == "shipment_status",
                reported.c.subject == tracking,
            )
        )
    ).scalars()
    return [number for number in rows if number]


def _reported_open(connection: Connection, carrier: str) -> list[str]:
    latest = (
        select(events.c.subject, func.max(events.c.occurred_at).label("at"))
        .where(events.c.type == "shipment_status", events.c.reported_by == carrier)
        .where(events.c.subject.is_not(None), events.c.status.is_not(None))
        .group_by(events.c.subject)
        .subquery()
    )
    rows = connection.execute(
        select(latest.c.subject)
        .join(
            events,
            and_(events.c.subject == latest.c.subject, events.c.occurred_at == latest.c.at),
        )
        .where(events.c.reported_by == carrier, events.c.type == "shipment_status")
        .group_by(latest.c.subject)
        .having(func.sum(events.c.status.in_(FINAL_SHIPMENT_STATUSES).cast(Integer)) == 0)
        .order_by(latest.c.subject)
    )
    return [subject for (subject,) in rows]
