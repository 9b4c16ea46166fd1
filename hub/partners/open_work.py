"""What is still open at a partner: the objects a pull must ask about one by one.

A repairer's repairs for cases not finished, a carrier's parcels not delivered: the keys
a re-synchronisation or an object-by-object pull needs.
"""

from __future__ import annotations

from sqlalchemy import Connection, Integer, and_, func, select

from hub.model.statuses import ShipmentStatus
from hub.store.case_links import trusted_partner_references
from hub.store.tables import events

FINAL_SHIPMENT_STATUSES = (ShipmentStatus.DELIVERED.value, ShipmentStatus.RETURNED_TO_SENDER.value)


def open_partner_references(connection: Connection, party: str) -> list[str]:
    """The party's own references of the cases that are not finished, where the party
    holds the case: a reference a retailer wrote on a case never sent to the party is
    not asked about (it could be another retailer's case at that partner)."""
    return trusted_partner_references(connection, party)


def open_tracking_numbers(connection: Connection, carrier: str) -> list[str]:
    """Parcels the carrier reported on whose latest status is not final.

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
