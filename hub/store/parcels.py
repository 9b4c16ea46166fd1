"""Parcels the hub knows by tracking number, per case: learned from any event that names
its case and carries a shipment, read to link a carrier's event that names only the
parcel, and to attach the events that came before the number was known.

``hub.partners.resolve`` decides what may link; this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, select, update

from hub.model.event import Event
from hub.model.statuses import FINAL_CASE_STATUSES
from hub.store.case_links import IN_CHUNK
from hub.store.events import row_to_event
from hub.store.tables import cases, events, parcels
from hub.store.upsert import insert_ignoring_conflicts


@dataclass(frozen=True)
class KnownParcel:
    """A tracking number the hub learned for a case, and from what."""

    tracking_number: str
    case_ref: str
    carrier: str | None
    leg: str | None
    learned_from: str


def _chunks(values: Iterable[str]) -> list[list[str]]:
    ordered = sorted(set(values))
    return [ordered[start : start + IN_CHUNK] for start in range(0, len(ordered), IN_CHUNK)]


def learn_parcels(
    connection: Connection, known: Sequence[KnownParcel], *, now: datetime | None = None
) -> list[KnownParcel]:
    """Record each parcel's number for its case (the first word stays); the ones that
    were new, so that events waiting for them can be attached."""
    if not known:
        return []
    references = sorted({p.case_ref for p in known})
    ids = {
        reference: case_id
        for reference, case_id in connection.execute(
            select(cases.c.reference, cases.c.id).where(cases.c.reference.in_(references))
        )
    }
    existing = {
        (number, case_id)
        for chunk in _chunks(p.tracking_number for p in known)
        for number, case_id in connection.execute(
            select(parcels.c.tracking_number, parcels.c.case_id).where(
                parcels.c.tracking_number.in_(chunk)
            )
        )
    }
    moment = now or datetime.now(UTC)
    new: dict[tuple[str, int], KnownParcel] = {}
    for parcel in known:
        key = (parcel.tracking_number, ids.get(parcel.case_ref, -1))
        if key[1] != -1 and key not in existing and key not in new:
            new[key] = parcel
    if new:
        connection.execute(
            insert_ignoring_conflicts(connection, parcels),
            [
                {
                    "tracking_number": p.tracking_number,
                    "case_id": case_id,
                    "carrier": p.carrier,
                    "leg": p.leg,
                    "learned_from": p.learned_from,
                    "recorded_at": moment,
                }
                for (_, case_id), p in new.items()
            ],
        )
    return list(new.values())


def parcel_candidates(
    connection: Connection, tracking_numbers: Iterable[str]
) -> dict[str, list[KnownParcel]]:
    """Every case each tracking number is known on."""
    found: dict[str, list[KnownParcel]] = {}
    for chunk in _chunks(tracking_numbers):
        rows = connection.execute(
            select(
                parcels.c.tracking_number,
                cases.c.reference,
                parcels.c.carrier,
                parcels.c.leg,
                parcels.c.learned_from,
            )
            .join(cases, cases.c.id == parcels.c.case_id)
            .where(parcels.c.tracking_number.in_(chunk))
            .order_by(cases.c.id)
        )
        for number, reference, carrier, leg, learned_from in rows:
            found.setdefault(number, []).append(
                KnownParcel(number, reference, carrier, leg, learned_from)
            )
    return found


def attach_waiting(connection: Connection, learned: Sequence[KnownParcel]) -> list[Event]:
    """The stored shipment events that waited without a case for one of these parcels,
    now attached to it (by their carrier, when the parcel's carrier is known). A number
    known on several cases is a doubt: its events go on waiting.

    Most new numbers have nothing waiting: one query per chunk of numbers finds those
    that do, and only they are updated.
    """
    waiting_for: set[str] = set()
    for chunk in _chunks(p.tracking_number for p in learned):
        waiting_for.update(
            connection.execute(
                select(events.c.subject)
                .where(
                    events.c.case_id.is_(None),
                    events.c.case_ref.is_(None),
                    events.c.type == "shipment_status",
                    events.c.subject.in_(chunk),
                )
                .distinct()
            ).scalars()
        )
    if not waiting_for:
        return []
    cases_of = parcel_candidates(connection, waiting_for)
    attached: list[Event] = []
    for parcel in learned:
        number = parcel.tracking_number
        if number not in waiting_for or len({p.case_ref for p in cases_of.get(number, [])}) != 1:
            continue
        carrier = events.c.reported_by == parcel.carrier if parcel.carrier else None
        waiting = and_(
            events.c.case_id.is_(None),
            events.c.case_ref.is_(None),
            events.c.subject == number,
            events.c.type == "shipment_status",
            *([carrier] if carrier is not None else []),
        )
        case_id = select(cases.c.id).where(cases.c.reference == parcel.case_ref).scalar_subquery()
        rows = connection.execute(
            update(events)
            .where(waiting)
            .values(case_ref=parcel.case_ref, case_id=case_id)
            .returning(*events.c)
        ).all()
        attached.extend(row_to_event(row) for row in rows)
    return attached


def carried_parcels(connection: Connection, carrier: str) -> set[str]:
    """The tracking numbers the hub was told this carrier has (a supplier's shipped event
    naming it, the carrier's own event with the case reference), on unfinished cases."""
    finals = [status.value for status in FINAL_CASE_STATUSES]
    rows = connection.execute(
        select(parcels.c.tracking_number)
        .join(cases, cases.c.id == parcels.c.case_id)
        .where(parcels.c.carrier == carrier)
        .where(cases.c.status.is_(None) | cases.c.status.not_in(finals))
        .distinct()
    )
    return {number for (number,) in rows}
