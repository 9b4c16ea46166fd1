"""Finding the case an inbound event belongs to when the partner did not name it.

Partners do not always quote the hub's reference: a workshop may know a case only by its
own number or by the product's serial, a supplier only by the order id. The resolution
order is fixed and generic (no partner code): the hub's reference, then the reporting
party's own reference, then the parts order, then the serial of an open case.

A link never crosses a boundary the facts do not support. Retailers choose their cases'
serials and may write a partner's reference on a case, so neither proves anything by
itself: a serial, or a reference a retailer recorded, links only to a case the reporting
partner was given (the hub sent it a message about it, or it reported an event naming
it). A reference the partner itself reported together with the case's reference is the
partner's word and wins over retailers' claims. When several cases remain, the event
waits without a case and the operator is told why (``hub unlinked``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.model.event import Event
from hub.store.case_links import (
    Candidate,
    GivenHow,
    RecordedBy,
    learn_partner_references,
    note_unlinked,
    open_serial_candidates,
    record_given,
    reference_candidates,
)
from hub.store.cases import normalise_serial
from hub.store.db import Connection
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
) -> list[Event]:
    """The events with ``case_ref`` filled in wherever a link to a case is proven.

    Events the partner named a case on teach the hub: that partner holds the case, and
    its own reference on the event is its number for the case. Events left without a
    case by a doubt (several candidates, a case never given to the partner) get their
    reason noted for the operator.
    """
    _learn_from_named(connection, events, learned)
    unresolved = [e for e in events if e.case_ref is None]
    if not unresolved:
        return list(events)
    by_reference = reference_candidates(
        connection, {(e.reported_by, e.partner_ref) for e in unresolved if e.partner_ref}
    )
    # The hub numbers parts orders itself, so an order id is the hub's word.
    by_order = cases_by_parts_order(
        connection, {e.details.parts_order_id for e in unresolved if e.details.parts_order_id}
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
            reference, doubt = _link(event, by_reference, by_order, by_serial)
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
    connection: Connection, events: Sequence[Event], learned: Learned | None
) -> None:
    """What events that name their case prove: the partner holds the case, and the
    partner's reference on them is its own number for it."""
    given = {(e.case_ref, e.reported_by) for e in events if e.case_ref}
    references = {
        (e.case_ref, e.reported_by, e.partner_ref) for e in events if e.case_ref and e.partner_ref
    }
    if learned is not None:
        given -= learned.given
        learned.given |= given
        references -= learned.references
        learned.references |= references
    if given:
        record_given(connection, given, GivenHow.REPORT)
    if references:
        learn_partner_references(connection, references)
