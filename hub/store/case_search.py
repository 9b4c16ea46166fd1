"""Cases found from what an operator has in hand: the case a reference names whatever its
letter case, and the condition of the console's one search box (the hub's reference, a
serial number, a partner's reference, a parcel's tracking number or the customer's
name)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, bindparam, func, or_, select

from hub.store.case_rows import chosen_reference
from hub.store.tables import case_references, cases, parcels

REFERENCE_EXACT = select(cases.c.reference).where(cases.c.reference == bindparam("wanted"))
REFERENCE_BY_LETTERS = (
    select(cases.c.reference).where(func.upper(cases.c.reference) == bindparam("upper")).limit(2)
)
"""A case's stored reference, as typed, then whatever its letter case (the plain reads
run them too)."""


def stored_reference(connection: Connection, text: str) -> str | None:
    """The reference of the case ``text`` names, as stored, whatever its letter case
    (``me-000123`` → ``ME-000123``): the console and the CLI accept the same spellings.
    None when no case, or more than one differing only by letter case, has it."""
    wanted = text.strip()
    if not wanted:
        return None
    exact = connection.execute(REFERENCE_EXACT, {"wanted": wanted}).one_or_none()
    if exact is not None:
        return chosen_reference(exact, [])
    found = connection.execute(REFERENCE_BY_LETTERS, {"upper": wanted.upper()}).all()
    return chosen_reference(None, found)


# --- the cases list's search: what an operator has in hand, of any kind ------------------


def _prefix(text: str) -> str:
    """A LIKE pattern for values starting with ``text``, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def customer_name() -> ColumnElement[str]:
    """The customer's name inside the stored case document (JSON on both databases)."""
    name: ColumnElement[str] = cases.c.document[("customer", "name")].as_string()
    return name


def search_condition(text: str) -> ColumnElement[bool] | None:
    """Cases an operator's search text names, whatever it is: the hub's reference, a
    serial number, a partner's reference, a parcel's tracking number (each by its
    start, letter case ignored), or part of the customer's name. None: no text, no
    condition.

    A serial is compared as stored (upper case, no inner spaces, as workshops retype
    it); a name matches anywhere in it, so "dupont" finds "Mme Claire Dupont". Text with
    a digit is a reference of some kind, never a name: the names, read out of every
    case's document, are then left alone (bench/case_list.py: the costliest branch).
    """
    wanted = text.strip()
    if not wanted:
        return None
    upper = _prefix(wanted.upper())
    serial = _prefix("".join(wanted.split()).upper())
    name = "%" + _prefix(wanted.lower())
    kinds = [
        func.upper(cases.c.reference).like(upper, escape="\\"),
        cases.c.serial_number.like(serial, escape="\\"),
        # Uncorrelated: each list of matching cases is read once, not once per case.
        cases.c.id.in_(
            select(case_references.c.case_id).where(
                func.upper(case_references.c.reference).like(upper, escape="\\")
            )
        ),
        cases.c.id.in_(
            select(parcels.c.case_id).where(
                func.upper(parcels.c.tracking_number).like(upper, escape="\\")
            )
        ),
    ]
    if not any(char.isdigit() for char in wanted):
        kinds.append(func.lower(customer_name()).like(name, escape="\\"))
    return or_(*kinds)


@dataclass(frozen=True)
class Match:
    """Why a case came up in a search: which of its values starts with (or, for a
    customer's name, holds) the text, so the operator sees why it is listed."""

    kind: str
    """reference, serial number, partner reference, tracking number or customer."""
    value: str
    party: str | None = None


def search_matches(connection: Connection, text: str, case_ids: list[int]) -> dict[int, Match]:
    """For each of these found cases, the first reason it matches ``text``."""
    wanted = text.strip()
    if not wanted or not case_ids:
        return {}
    upper = wanted.upper()
    serial = "".join(wanted.split()).upper()
    found: dict[int, Match] = {}
    rows = connection.execute(
        select(cases.c.id, cases.c.reference, cases.c.serial_number, customer_name()).where(
            cases.c.id.in_(case_ids)
        )
    ).all()
    for case_id, reference, serial_number, _ in rows:
        if str(reference).upper().startswith(upper):
            found[case_id] = Match("reference", str(reference))
        elif serial_number and str(serial_number).startswith(serial):
            found[case_id] = Match("serial number", str(serial_number))
    pattern = _prefix(upper)
    partner_refs = connection.execute(
        select(case_references.c.case_id, case_references.c.reference, case_references.c.party_id)
        .where(
            case_references.c.case_id.in_(case_ids),
            func.upper(case_references.c.reference).like(pattern, escape="\\"),
        )
        .order_by(case_references.c.id)
    ).all()
    for case_id, reference, party in partner_refs:
        found.setdefault(case_id, Match("partner reference", str(reference), str(party)))
    tracked = connection.execute(
        select(parcels.c.case_id, parcels.c.tracking_number, parcels.c.carrier)
        .where(
            parcels.c.case_id.in_(case_ids),
            func.upper(parcels.c.tracking_number).like(pattern, escape="\\"),
        )
        .order_by(parcels.c.tracking_number)
    ).all()
    for case_id, tracking, carrier in tracked:
        found.setdefault(case_id, Match("tracking number", str(tracking), carrier))
    named = not any(char.isdigit() for char in wanted)
    for case_id, _, _, name in rows:
        if named and name is not None and wanted.lower() in str(name).lower():
            found.setdefault(case_id, Match("customer", str(name)))
    return found
