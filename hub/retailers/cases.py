"""Cases as a retailer tenant sees them: only its own, as if no other tenant existed.

Every read takes the tenant and answers ``NotFoundError`` with the same message for a
case that does not exist and for one that belongs to another tenant. Creating checks
what the store cannot know: the case's retailer is the caller, its reference carries
the caller's prefix, and the partners it names are registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hub.errors import ConflictError, ModelError, NotFoundError
from hub.model.case import Case
from hub.model.event import Event
from hub.model.parties import PartyRole
from hub.model.statuses import CaseStatus
from hub.model.timeline import CaseState
from hub.retailers.cursors import CursorKind, decode_cursor, encode_cursor
from hub.retailers.tenants import Retailer
from hub.store.case_lists import breached_case_ids, retailer_cases
from hub.store.cases import (
    CaseRecord,
    OpenedCase,
    case_state,
    get_case,
    open_case,
    retry_if_opened_concurrently,
)
from hub.store.db import Connection, Database
from hub.store.events import StoredHook
from hub.store.parties import get_party

if TYPE_CHECKING:  # the route check's module needs the network, which needs this one
    from hub.sync.requirements import RouteCheck

OPENED_AT_LEEWAY = timedelta(minutes=5)
"""How far ahead of the hub's clock a retailer's clock may run."""

MAX_PAGE = 200
DEFAULT_PAGE = 50


class InvalidFieldError(ModelError):
    """A request names a value the hub refuses; ``field`` says which (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CasePage:
    records: list[CaseRecord]
    next_cursor: str | None
    breached: frozenset[int] = frozenset()
    """Ids of the records the hub has published a service-level breach for."""


@dataclass(frozen=True)
class CaseFilters:
    """The list filters; ``breached``: a service-level breach was published (hub.sla)."""

    status: CaseStatus | None = None
    partner: str | None = None
    breached: bool | None = None
    updated_since: datetime | None = None


def not_found(reference: str) -> NotFoundError:
    """One message for missing and foreign cases alike."""
    return NotFoundError(f"no case {reference}")


def _control_character_at(value: object, path: str = "") -> str | None:
    """The dotted path of the first string holding a NUL or other C0 control character
    (tab and newline excepted): PostgreSQL cannot store NUL, and none belongs in a case."""
    if isinstance(value, str):
        bad = any(ord(char) < 32 and char not in "\t\n\r" for char in value)
        return path if bad else None
    if isinstance(value, dict):
        items: list[tuple[str, object]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(str(index), item) for index, item in enumerate(value)]
    else:
        return None
    for key, item in items:
        found = _control_character_at(item, f"{path}.{key}" if path else key)
        if found is not None:
            return found
    return None


def check_case_for(
    connection: Connection, retailer: Retailer, case: Case, *, now: datetime | None = None
) -> None:
    """What the canonical model cannot check: ownership, prefix, known partners, a past
    opening. A partner's reference already recorded on another case is not refused: the
    refusal would tell this retailer about someone else's case, and a retailer's
    reference links nothing by itself (hub.partners.resolve)."""
    where = _control_character_at(case.model_dump(mode="json"))
    if where is not None:
        raise InvalidFieldError(where, "contains a control character (NUL, ...)")
    if case.retailer != retailer.id:
        raise InvalidFieldError(
            "retailer", f"must be the caller's own retailer id, {retailer.id!r}"
        )
    if not retailer.owns_reference(case.reference):
        raise InvalidFieldError(
            "reference", f"must start with the caller's prefix {retailer.case_prefix!r}"
        )
    if case.opened_at > (now or datetime.now(UTC)) + OPENED_AT_LEEWAY:
        raise InvalidFieldError("opened_at", "is in the future: a case is opened when it is sent")
    for index, ref in enumerate(case.references):
        party = get_party(connection, ref.party)
        if party is None:
            raise InvalidFieldError(
                f"references.{index}.party", f"party {ref.party!r} is not registered"
            )
        if party.role in (PartyRole.RETAILER, PartyRole.HUB) and party.id != retailer.id:
            raise InvalidFieldError(
                f"references.{index}.party",
                "must be a partner of the network or the caller itself, not another retailer",
            )


def open_case_for(
    connection: Connection,
    retailer: Retailer,
    case: Case,
    *,
    on_stored: StoredHook | None = None,
    route_check: RouteCheck | None = None,
) -> OpenedCase:
    """Open the tenant's case: idempotent for the same content, a conflict otherwise.
    ``route_check`` refuses a new case its partners could not work (hub.sync.requirements);
    a case already open is answered as it is."""
    check_case_for(connection, retailer, case)
    existing = get_case(connection, case.reference)
    if existing is not None and existing.case.retailer != retailer.id:
        # Only possible for cases opened outside the API before the tenant existed.
        raise ConflictError(f"case {case.reference} exists with different content")
    if existing is None and route_check is not None:
        route_check(connection, case)
    return open_case(connection, case, on_stored=on_stored)


def create_case(
    database: Database,
    retailer: Retailer,
    case: Case,
    *,
    on_stored: StoredHook | None = None,
    route_check: RouteCheck | None = None,
) -> OpenedCase:
    """``open_case_for`` in its own transaction, once more if a concurrent twin won."""
    return retry_if_opened_concurrently(
        database,
        lambda connection: open_case_for(
            connection, retailer, case, on_stored=on_stored, route_check=route_check
        ),
    )


def case_of(connection: Connection, retailer: Retailer, reference: str) -> CaseRecord:
    record = get_case(connection, reference) if retailer.owns_reference(reference) else None
    if record is None or record.case.retailer != retailer.id:
        raise not_found(reference)
    return record


def timeline_of(connection: Connection, retailer: Retailer, reference: str) -> CaseState[Event]:
    case_of(connection, retailer, reference)
    return case_state(connection, reference)


def list_cases(
    connection: Connection,
    retailer: Retailer,
    filters: CaseFilters,
    *,
    after: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> CasePage:
    """The tenant's cases matching ``filters``, oldest first, ``limit`` at a time.

    ``next_cursor`` is None on the last page.

    ``breached`` keeps the cases with (or without) a published service-level breach:
    the retailer was told of it on its feed or webhook, so the list agrees with it.
    ``partner`` keeps cases that partner holds a reference for or reported an event on.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    last_id: int | None = None
    if after is not None:
        (last_id,) = decode_cursor(retailer.cursor_key, CursorKind.CASE_LIST, after, arity=1)
    found = retailer_cases(
        connection,
        retailer.id,
        after_id=last_id,
        count=limit + 1,
        status=filters.status,
        partner=filters.partner,
        breached=filters.breached,
        updated_since=filters.updated_since,
    )
    records = found[:limit]
    breached = breached_case_ids(connection, [record.id for record in records])
    if len(found) <= limit:
        return CasePage(records=records, next_cursor=None, breached=breached)
    last = (records[-1].id,)
    cursor = encode_cursor(retailer.cursor_key, CursorKind.CASE_LIST, last)
    return CasePage(records, cursor, breached)
