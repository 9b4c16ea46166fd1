"""What is still open at a partner: the objects a pull must ask about one by one.

A repairer's repairs for cases not finished, a carrier's parcels not delivered: the keys
a re-synchronisation or an object-by-object pull needs.
"""

from __future__ import annotations

from sqlalchemy import Connection, Integer, and_, func, select

from hub.model.statuses import FINAL_CASE_STATUSES, ShipmentStatus
from hub.store.tables import case_references, cases, events

FINAL_SHIPMENT_STATUSES = (ShipmentStatus.DELIVERED.value, ShipmentStatus.RETURNED_TO_SENDER.value)


def open_partner_references(connection: Connection, party: str) -> list[str]:
    """The party's own references of the cases that are not finished."""
    finals = [status.value for status in FINAL_CASE_STATUSES]
    rows = connection.execute(
        select(case_references.c.reference)
        .join(cases, cases.c.id == case_references.c.case_id)
        .where(case_references.c.party_id == party)
        .where(cases.c.status.is_(None) | cases.c.status.not_in(finals))
        .order_by(case_references.c.reference)
    )
    return [reference for (reference,) in rows]


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
