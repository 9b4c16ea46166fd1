"""A retailer correcting one of its cases: the customer's contact and address, nothing
else, recorded on the case's timeline, and the messages that failed for the case sent
again from the corrected case.

What a correction may change is deliberately narrow: the product, the service and the
coverage decide the route and the partners already hold them; a customer's phone or a
mistyped address is what a carrier or a workshop refuses, and what only the retailer
knows. The request is a JSON merge patch (RFC 7396) of the case: a field given replaces
the stored one, ``null`` removes it, a field left out is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.model.case import Case
from hub.model.event import Event, EventType, stable_event_id
from hub.model.statuses import CaseRecordStatus
from hub.retailers.cases import InvalidFieldError, case_of, check_case_for
from hub.retailers.tenants import Retailer
from hub.store.cases import (
    CaseRecord,
    content_hash,
    get_case,
    lock_cases,
    refresh_case,
    replace_case,
)
from hub.store.db import Database
from hub.store.events import StoredHook, append_events
from hub.store.outbox import resend_dead_of_case
from hub.sync.requirements import RouteCheck

logger = logging.getLogger(__name__)

CORRECTABLE = ("name", "phone", "email", "address")
"""The customer's fields a retailer may correct."""


class _Patch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AddressPatch(_Patch):
    """The address's fields to replace; the others are kept."""

    line1: str | None = None
    line2: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = Field(default=None, description="ISO 3166 alpha-2, e.g. FR.")


class CustomerPatch(_Patch):
    """The customer's contact: a field given replaces it, ``null`` removes it."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: AddressPatch | None = Field(
        default=None, description="Merged field by field into the stored address."
    )


class CasePatch(_Patch):
    """A JSON merge patch (RFC 7396) of a case; only the customer's contact may change."""

    customer: CustomerPatch


@dataclass(frozen=True)
class Correction:
    record: CaseRecord
    changed: tuple[str, ...]
    """Dotted paths of the fields that changed (``customer.address``); empty: nothing did."""
    resent: tuple[int, ...]
    """Outbox messages of the case queued again (they had failed)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _corrected(current: Case, patch: CasePatch) -> Case:
    changes = patch.model_dump(exclude_unset=True)
    try:
        return Case.model_validate(merge_patch(current.model_dump(mode="json"), changes))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "customer"
        raise InvalidFieldError(field, str(error["msg"])) from None


def correction_event(case: Case, changed: tuple[str, ...], now: datetime) -> Event:
    """The timeline's record of a correction: who (the retailer) and which fields, never
    their values (they are personal data; the case holds them)."""
    return Event(
        id=stable_event_id(
            reported_by=case.retailer,
            partner_event_id=f"case-corrected:{case.reference}:{content_hash(case)}",
            type=EventType.CASE_RECORD,
            raw_code=None,
            occurred_at=now,
        ),
        case_ref=case.reference,
        type=EventType.CASE_RECORD,
        status=CaseRecordStatus.CORRECTED,
        occurred_at=now,
        recorded_at=now,
        reported_by=case.retailer,
        raw_code="corrected",
        raw_label="changed: " + ", ".join(changed),
    )


def correct_case(
    database: Database,
    retailer: Retailer,
    reference: str,
    patch: CasePatch,
    *,
    route_check: RouteCheck | None = None,
    on_stored: StoredHook | None = None,
    now: datetime | None = None,
) -> Correction:
    """Apply the tenant's correction to its case, in one transaction: the corrected case
    (checked like a new one, route included), its event, and its dead letters queued
    again, rendered at send time from the corrected case. Another tenant's case is not
    found, as everywhere. The same correction again changes nothing."""
    now = now or datetime.now(UTC)
    with database.transaction() as connection:
        record = case_of(connection, retailer, reference)
        lock_cases(connection, [record.case.reference])  # one correction at a time
        record = get_case(connection, record.case.reference) or record
        case = _corrected(record.case, patch)
        check_case_for(connection, retailer, case, now=now)
        changed = tuple(
            f"customer.{name}"
            for name in CORRECTABLE
            if getattr(case.customer, name) != getattr(record.case.customer, name)
        )
        if not changed:
            return Correction(record, (), ())
        if route_check is not None:
            route_check(connection, case)
        replace_case(connection, record.id, case, now=now)
        event = correction_event(case, changed, now)
        append_events(connection, [event], now=now)
        refresh_case(connection, record.id, now=now)
        if on_stored is not None:
            on_stored(connection, [event])
        resent = resend_dead_of_case(connection, case.reference, now=now)
        stored = get_case(connection, case.reference)
        assert stored is not None
    logger.info(
        "case %s corrected by %s (%s); %d failed message(s) queued again",
        case.reference,
        retailer.id,
        ", ".join(changed),
        len(resent),
    )
    return Correction(stored, changed, tuple(row.id for row in resent))
