"""Finding the case an inbound event belongs to when the partner did not name it.

Partners do not always quote the hub's reference: a workshop may know a case only by its
own number or by the product's serial, a supplier only by the order id. The resolution
order is fixed and generic (no partner code): the hub's reference, then the reporting
party's own reference, then the parts order, then the serial of an open case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from hub.model.event import Event
from hub.model.statuses import FINAL_CASE_STATUSES
from hub.store.cases import normalise_serial
from hub.store.tables import case_references, cases, parts_orders
from hub.store.upsert import insert_ignoring_conflicts


def resolve_cases(
    connection: Connection,
    events: Sequence[Event],
    *,
    learned: set[tuple[str, str, str]] | None = None,
) -> list[Event]:
    """The events with ``case_ref`` filled in wherever a link to a case is known.

    ``learned`` carries the (case, party, reference) links already remembered in this
    transaction, so a message read in chunks writes each link once, not once a chunk.
    """
    unresolved = [e for e in events if e.case_ref is None]
    if not unresolved:
        _learn_party_references(connection, events, learned)
        return list(events)
    by_partner_ref = _cases_by_party_reference(
        connection, {(e.reported_by, e.partner_ref) for e in unresolved if e.partner_ref}
    )
    by_order = _cases_by_parts_order(
        connection, {e.details.parts_order_id for e in unresolved if e.details.parts_order_id}
    )
    by_serial = _open_cases_by_serial(
        connection,
        {s for e in unresolved if (s := normalise_serial(e.details.serial_number)) is not None},
    )
    resolved = []
    for event in events:
        if event.case_ref is None:
            reference = (
                by_partner_ref.get((event.reported_by, event.partner_ref or ""))
                or by_order.get(event.details.parts_order_id or "")
                or by_serial.get(normalise_serial(event.details.serial_number) or "")
            )
            if reference is not None:
                event = event.model_copy(update={"case_ref": reference})
        resolved.append(event)
    _learn_party_references(connection, resolved, learned)
    return resolved


def _cases_by_party_reference(
    connection: Connection, keys: set[tuple[str, str | None]]
) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for party, reference in keys:
        row = connection.execute(
            select(cases.c.reference)
            .join(case_references, case_references.c.case_id == cases.c.id)
            .where(case_references.c.party_id == party, case_references.c.reference == reference)
        ).scalar_one_or_none()
        if row is not None and reference is not None:
            found[(party, reference)] = row
    return found


def _cases_by_parts_order(connection: Connection, order_ids: set[str]) -> dict[str, str]:
    if not order_ids:
        return {}
    rows = connection.execute(
        select(parts_orders.c.id, cases.c.reference)
        .join(cases, cases.c.id == parts_orders.c.case_id)
        .where(parts_orders.c.id.in_(sorted(order_ids)))
    )
    return {order_id: reference for order_id, reference in rows}


def _open_cases_by_serial(connection: Connection, serials: set[str]) -> dict[str, str]:
    """The most recently opened unfinished case per serial; a product can come back."""
    if not serials:
        return {}
    finals = [status.value for status in FINAL_CASE_STATUSES]
    rows = connection.execute(
        select(cases.c.serial_number, cases.c.reference)
        .where(cases.c.serial_number.in_(sorted(serials)))
        .where(cases.c.status.is_(None) | cases.c.status.not_in(finals))
        .order_by(cases.c.opened_at)
    )
    return {serial: reference for serial, reference in rows}


def _learn_party_references(
    connection: Connection,
    events: Iterable[Event],
    learned: set[tuple[str, str, str]] | None = None,
) -> None:
    """Remember the partner's own number for a case the first time both are seen.

    A conflicting number (the workshop renumbered the case) is left alone: the first
    one stays, and the event still carries the new one for support.
    """
    pairs = {
        (e.case_ref, e.reported_by, e.partner_ref) for e in events if e.case_ref and e.partner_ref
    }
    if learned is not None:
        pairs -= learned
        learned |= pairs
    if not pairs:
        return
    ids = dict(
        connection.execute(
            select(cases.c.reference, cases.c.id).where(
                cases.c.reference.in_(sorted({case_ref for case_ref, _, _ in pairs}))
            )
        ).all()
    )
    rows = [
        {"case_id": ids[case_ref], "party_id": party, "reference": reference}
        for case_ref, party, reference in sorted(pairs, key=str)
        if case_ref in ids
    ]
    if rows:
        connection.execute(insert_ignoring_conflicts(connection, case_references), rows)
