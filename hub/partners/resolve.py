"""Finding the case an inbound event belongs to when the partner did not name it.

Partners do not always quote the hub's reference: a workshop may know a case only by its
own number or by the product's serial, a supplier only by the order id. The resolution
order is fixed and generic (no partner code): the hub's reference, then the reporting
party's own reference, then the parts order, then the parcel's tracking number, then the serial
of an open case.

A link never crosses a boundary the facts do not support. Retailers choose their cases'
serials and may write a partner's reference on a case, so neither proves anything by
itself: a serial, or a reference a retailer recorded, links only to a case the reporting
partner was given (the hub sent it a message about it, or it reported an event naming
it). A reference the partner itself reported together with the case's reference is the
partner's word and wins over retailers' claims. When several cases remain, the event
waits without a case and the operator is told why (``hub unlinked``).

Tracking numbers are learned, never typed: any event that names its case and carries a
shipment (the carrier's event with the case reference, the supplier's shipped event, the
repairer's return label), and a carrier's answer to a booking the hub sent, teaches the
hub that parcel's number for the case. A carrier's
event naming only the parcel then links through it (to the carrier the number was given
with, when the message named one); one whose number is not known yet waits, and is
attached, its sync rules run, as soon as another message teaches the number
(:func:`link_parcels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.model.event import Event, EventType
from hub.store.case_links import (
    Candidate,
    RecordedBy,
    learn_from_reports,
    note_unlinked,
    open_serial_candidates,
    reference_candidates,
)
from hub.store.cases import normalise_serial, refresh_case, require_case
from hub.store.db import Connection
from hub.store.events import CaseHead, StoredHook
from hub.store.parcels import KnownParcel, attach_waiting, learn_parcels, parcel_candidates
from hub.store.parts_orders import cases_by_parts_order


@dataclass
class Learned:
    """What this transaction already wrote, so a message read in chunks writes each link
    once, not once a chunk."""

    references: set[tuple[str, str, str]]
    given: set[tuple[str, str]]


def resolve_cases(
    connection: Connection,
    events: Sequence[Event],
    *,
    learned: Learned | None = None,
    heads: dict[str, CaseHead] | None = None,
) -> list[Event]:
    """The events with ``case_ref`` filled in wherever a link to a case is proven.

    Events the partner named a case on teach the hub: that partner holds the case, and
    its own reference on the event is its number for the case. Events left without a
    case by a doubt (several candidates, a case never given to the partner) get their
    reason noted for the operator.

    ``heads``, when given, is filled with the heads of the named cases this read with
    their links, for ``append_events`` next in the same transaction (issue 17).
    """
    # What events that name their case prove, and those that do not, in one pass over
    # the events' fields, read from the models' ``__dict__``: a pydantic model's
    # attribute costs about twice a dictionary's item (issue 17, thirteenth pass). One
    # set of what each names (a file names its cases many times over), the pairs given
    # and the references kept taken from it: one tuple and one set entry an event, not
    # two of each (issue 17, fifteenth pass).
    named_with: set[tuple[str, str, str | None]] = set()
    unresolved: list[Event] = []
    for event in events:
        fields = event.__dict__
        case_ref = fields["case_ref"]
        if case_ref is None:
            unresolved.append(event)
        elif case_ref:
            named_with.add((case_ref, fields["reported_by"], fields["partner_ref"]))
    given = {(case_ref, party) for case_ref, party, _ in named_with}
    references = {
        (case_ref, party, partner_ref) for case_ref, party, partner_ref in named_with if partner_ref
    }
    named = _learn_from_named(connection, given, references, learned)
    if heads is not None:
        heads.update(named)
    if not unresolved:
        return list(events)
    by_reference = reference_candidates(
        connection, {(e.reported_by, e.partner_ref) for e in unresolved if e.partner_ref}
    )
    # The hub numbers parts orders itself, so an order id is the hub's word.
    by_order = cases_by_parts_order(
        connection, {e.details.parts_order_id for e in unresolved if e.details.parts_order_id}
    )
    by_parcel = parcel_candidates(
        connection, {number for e in unresolved if (number := _carrier_parcel(e)) is not None}
    )
    by_serial = open_serial_candidates(
        connection,
        {
            (e.reported_by, serial)
            for e in unresolved
            if (serial := normalise_serial(e.details.serial_number)) is not None
        },
    )
    resolved: list[Event] = []
    doubts: dict[str, str] = {}
    for event in events:
        if event.case_ref is None:
            reference, doubt = _link(event, by_reference, by_order, by_parcel, by_serial)
            if reference is not None:
                event = event.model_copy(update={"case_ref": reference})
            elif doubt is not None:
                doubts[event.id] = doubt
        resolved.append(event)
    note_unlinked(connection, doubts)
    return resolved


def _link(
    event: Event,
    by_reference: dict[tuple[str, str], list[Candidate]],
    by_order: dict[str, str],
    by_parcel: dict[str, list[KnownParcel]],
    by_serial: dict[tuple[str, str], list[Candidate]],
) -> tuple[str | None, str | None]:
    """The case the event links to, or why it does not (None when nothing matched)."""
    doubts: list[str] = []
    if event.partner_ref:
        found, doubt = _by_reference(
            event.reported_by,
            event.partner_ref,
            by_reference.get((event.reported_by, event.partner_ref), []),
        )
        if found is not None:
            return found, None
        if doubt is not None:
            doubts.append(doubt)
    order = by_order.get(event.details.parts_order_id or "")
    if order is not None:
        return order, None
    number = _carrier_parcel(event)
    if number is not None:
        found, doubt = _by_parcel(event.reported_by, number, by_parcel.get(number, []))
        if found is not None:
            return found, None
        doubts.append(doubt)
    serial = normalise_serial(event.details.serial_number)
    if serial is not None:
        found, doubt = _by_serial(
            event.reported_by, serial, by_serial.get((event.reported_by, serial), [])
        )
        if found is not None:
            return found, None
        if doubt is not None:
            doubts.append(doubt)
    return None, "; ".join(doubts) or None


def _by_reference(
    party: str, reference: str, candidates: list[Candidate]
) -> tuple[str | None, str | None]:
    if not candidates:
        return None, None
    confirmed = [c.case_ref for c in candidates if c.recorded_by is RecordedBy.PARTNER]
    if len(confirmed) == 1:
        return confirmed[0], None
    if len(confirmed) > 1:
        return None, (
            f"{party} reported its reference {reference} with several cases "
            f"({', '.join(confirmed)})"
        )
    claimed = [c.case_ref for c in candidates if c.given]
    if len(claimed) == 1:
        return claimed[0], None
    if len(claimed) > 1:
        return None, (
            f"the reference {reference} of {party} is recorded by retailers on several "
            f"cases sent to {party} ({', '.join(claimed)})"
        )
    return None, (
        f"the reference {reference} of {party} is recorded only by retailers, on cases never "
        f"sent to {party} ({', '.join(c.case_ref for c in candidates)})"
    )


def _carrier_parcel(event: Event) -> str | None:
    """The tracking number a carrier's event is about, if it is one."""
    if event.type is not EventType.SHIPMENT_STATUS:
        return None
    shipment = event.details.shipment
    return shipment.tracking_number if shipment is not None else event.subject


def _tracking_number(event: Event) -> str | None:
    """The parcel an event speaks of: its shipment's, or a carrier event's subject."""
    shipment = event.details.shipment
    return shipment.tracking_number if shipment is not None else _carrier_parcel(event)


def _by_parcel(party: str, number: str, candidates: list[KnownParcel]) -> tuple[str | None, str]:
    cases = sorted({p.case_ref for p in candidates if p.carrier in (None, party)})
    if len(cases) == 1:
        return cases[0], ""
    if cases:
        return None, f"the parcel {number} is known on several cases ({', '.join(cases)})"
    if candidates:
        return None, (
            f"the parcel {number} is known only as another carrier's "
            f"({', '.join(sorted({p.carrier or '' for p in candidates}))})"
        )
    return None, f"the parcel {number} is not known on any case yet: it waits for its number"


def link_waiting(
    connection: Connection, stored: Sequence[Event], on_stored: StoredHook | None
) -> int:
    """After events are appended: the parcels they teach, and the events that waited for
    those numbers attached to their cases, the cases' statuses refreshed and the sync
    rules run on them (``on_stored``) as if they had just arrived. How many attached."""
    return link_parcels(connection, parcels_taught(stored), on_stored)


def link_parcels(
    connection: Connection, known: Sequence[KnownParcel], on_stored: StoredHook | None
) -> int:
    """Learn these parcels for their cases (an event naming both, or a carrier's answer
    to a booking); the events that waited for their numbers attached, their cases
    refreshed and the sync rules run on them. How many attached."""
    learned = learn_parcels(connection, known)
    attached = attach_waiting(connection, learned) if learned else []
    if not attached:
        return 0
    for reference in sorted({event.case_ref for event in attached if event.case_ref}):
        refresh_case(connection, require_case(connection, reference).id)
    if on_stored is not None:
        on_stored(connection, attached)
    return len(attached)


def parcels_taught(stored: Sequence[Event]) -> list[KnownParcel]:
    """The parcels stored events name with their case."""
    return [
        KnownParcel(
            number,
            event.case_ref,
            _parcel_carrier(event),
            None if shipment is None or shipment.leg is None else shipment.leg.value,
            event.id,
        )
        for event in stored
        if _may_name_a_parcel(event.__dict__)
        and event.case_ref is not None
        and (number := _tracking_number(event)) is not None
        for shipment in [event.details.shipment]
    ]


def _may_name_a_parcel(fields: dict[str, Any]) -> bool:
    """Whether an event (its fields, read from the model's ``__dict__``) may name a parcel
    with its case: it has a case, and a shipment or is a carrier's event. Most events of
    a file are neither, and two of a pydantic model's attributes cost about as much as
    this whole test (issue 17, thirteenth pass); ``_tracking_number`` decides."""
    if fields["case_ref"] is None:
        return False
    return fields["details"].__dict__["shipment"] is not None or fields["type"] is _SHIPMENT_STATUS


_SHIPMENT_STATUS = EventType.SHIPMENT_STATUS
"""Read once for ``_may_name_a_parcel``, asked of every stored event: an enum's member read
from its class goes through ``EnumType.__getattr__``'s hook in CPython 3.11, about a
third of that test (issue 17, fifteenth pass)."""


def _parcel_carrier(event: Event) -> str | None:
    shipment = event.details.shipment
    if shipment is not None and shipment.carrier is not None:
        return shipment.carrier
    return event.reported_by if event.type is EventType.SHIPMENT_STATUS else None


def _by_serial(
    party: str, serial: str, candidates: list[Candidate]
) -> tuple[str | None, str | None]:
    if not candidates:
        return None, None
    given = [c.case_ref for c in candidates if c.given]
    if len(given) == 1:
        return given[0], None
    if len(given) > 1:
        return None, (
            f"the serial {serial} matches several open cases sent to {party} ({', '.join(given)})"
        )
    return None, (
        f"the serial {serial} matches only open cases never sent to {party} "
        f"({', '.join(c.case_ref for c in candidates)})"
    )


def _learn_from_named(
    connection: Connection,
    given: set[tuple[str, str]],
    references: set[tuple[str, str, str]],
    learned: Learned | None,
) -> dict[str, CaseHead]:
    """What events that name their case prove: the partner holds the case (``given``:
    case and party), and the partner's reference on them is its own number for it
    (``references``: case, party, reference). Returns the heads of the cases read for it
    (none when everything was learned already)."""
    if learned is not None:
        given -= learned.given
        learned.given |= given
        references -= learned.references
        learned.references |= references
    if not given and not references:
        return {}
    return learn_from_reports(connection, given, references)
