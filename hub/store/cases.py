"""Opening cases and reading them back with their derived state."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from hub.errors import ConflictError, NotFoundError
from hub.model.case import Case
from hub.model.event import Event, EventType, stable_event_id
from hub.model.statuses import CaseStatus
from hub.model.timeline import CaseState, derive_case_state
from hub.store.case_links import GivenHow, RecordedBy, record_given
from hub.store.compiled import DriverStatement
from hub.store.db import Database
from hub.store.events import StoredHook, append_events, chunks, events_of_case
from hub.store.parties import get_party
from hub.store.tables import case_references, cases, events

T = TypeVar("T")


@dataclass(frozen=True)
class CaseRecord:
    """A stored case with its cached current status."""

    id: int
    case: Case
    status: CaseStatus | None
    status_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class OpenedCase:
    record: CaseRecord
    created: bool


def normalise_serial(serial: str | None) -> str | None:
    """Serials are compared without case or inner spaces: workshops retype them."""
    return None if not serial else "".join(serial.split()).upper()


def content_hash(case: Case) -> str:
    """Fingerprint of what the retailer sent, to tell a retry from a conflicting change."""
    return hashlib.sha256(case.model_dump_json().encode()).hexdigest()


def opening_event(case: Case, *, recorded_at: datetime | None = None) -> Event:
    """The ``created`` event every case starts its timeline with."""
    return Event(
        id=stable_event_id(
            reported_by=case.retailer,
            partner_event_id=f"case-opened:{case.reference}",
            type=EventType.CASE_STATUS,
            raw_code=None,
            occurred_at=case.opened_at,
        ),
        case_ref=case.reference,
        type=EventType.CASE_STATUS,
        status=CaseStatus.CREATED,
        occurred_at=case.opened_at,
        reported_by=case.retailer,
        recorded_at=recorded_at or datetime.now(UTC),
    )


def open_case(
    connection: Connection,
    case: Case,
    *,
    now: datetime | None = None,
    on_stored: StoredHook | None = None,
) -> OpenedCase:
    """Store a new case, or recognise a retry of the same one.

    The same reference with the same content is idempotent; with other content it is a
    conflict. Events that arrived for the reference before the case existed (a partner
    faster than the retailer) are attached to it now.
    """
    now = now or datetime.now(UTC)
    digest = content_hash(case)
    existing = connection.execute(
        select(cases.c.id, cases.c.content_hash).where(cases.c.reference == case.reference)
    ).one_or_none()
    if existing is not None:
        if existing.content_hash != digest:
            raise ConflictError(f"case {case.reference} exists with different content")
        record = get_case(connection, case.reference)
        assert record is not None
        return OpenedCase(record, created=False)
    if get_party(connection, case.retailer) is None:
        raise NotFoundError(f"retailer {case.retailer!r} is not registered")
    for ref in case.references:
        if get_party(connection, ref.party) is None:
            raise NotFoundError(f"party {ref.party!r} of a case reference is not registered")

    case_id = connection.execute(
        cases.insert().returning(cases.c.id),
        {
            "reference": case.reference,
            "retailer_id": case.retailer,
            "document": case.model_dump(mode="json"),
            "content_hash": digest,
            "serial_number": normalise_serial(case.product.serial_number),
            "opened_at": case.opened_at,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    if case.references:
        connection.execute(
            case_references.insert(),
            [
                {
                    "case_id": case_id,
                    "party_id": r.party,
                    "reference": r.reference,
                    "recorded_by": RecordedBy.RETAILER.value,
                }
                for r in case.references
            ],
        )
    early = connection.execute(
        update(events)
        .where(events.c.case_ref == case.reference, events.c.case_id.is_(None))
        .values(case_id=case_id)
        .returning(events.c.reported_by)
    ).scalars()
    # A partner that reported on the case before it existed holds it (hub.partners.resolve).
    reporters = {party for party in early if party != case.retailer}
    record_given(connection, {(case.reference, party) for party in reporters}, GivenHow.REPORT)
    append_events(connection, [opening_event(case, recorded_at=now)], now=now)
    state = refresh_case(connection, case_id, now=now)
    if on_stored is not None:
        # The opening event, and the early events whose rules could not run without it.
        on_stored(connection, state.timeline)
    record = get_case(connection, case.reference)
    assert record is not None
    return OpenedCase(record, created=True)


def replace_case(
    connection: Connection, case_id: int, case: Case, *, now: datetime | None = None
) -> None:
    """Store a corrected version of a case under the same id and reference. Its content
    hash follows, so that posting the corrected case again is recognised as a retry."""
    connection.execute(
        update(cases)
        .where(cases.c.id == case_id)
        .values(
            document=case.model_dump(mode="json"),
            content_hash=content_hash(case),
            serial_number=normalise_serial(case.product.serial_number),
            updated_at=now or datetime.now(UTC),
        )
    )


def case_record(row: Row[Any]) -> CaseRecord:
    """The record of a row of ``cases`` (every column selected)."""
    return CaseRecord(
        id=row.id,
        case=Case.model_validate(row.document),
        status=None if row.status is None else CaseStatus(row.status),
        status_at=row.status_at,
        updated_at=row.updated_at,
    )


def get_case(connection: Connection, reference: str) -> CaseRecord | None:
    row = connection.execute(select(cases).where(cases.c.reference == reference)).one_or_none()
    return None if row is None else case_record(row)


def _cases_named(dialect: str) -> Select[Any]:
    """The columns of a ``CaseRecord`` of the cases named. On PostgreSQL the references
    are one array parameter (``= ANY``): one SQL text whatever their number."""
    named: ColumnElement[bool]
    if dialect == "postgresql":
        named = cases.c.reference == any_(cast(bindparam("references"), ARRAY(String)))
    else:
        named = cases.c.reference.in_(bindparam("references", expanding=True))
    # The document as its text, validated from JSON by the model itself: the driver's
    # (or SQLAlchemy's) json.loads and then a validation of Python objects cost a case
    # about half as much again.
    document = cast(cases.c.document, Text)
    columns = (cases.c.id, document, cases.c.status, cases.c.status_at, cases.c.updated_at)
    return select(cases.c.reference, *columns).where(named)


_CASES_NAMED = DriverStatement(_cases_named)
"""Run on the driver: the sync rules read a file's cases for every file, and building
the statement and SQLAlchemy's execution of it cost more than the read (issue 17,
fourteenth pass)."""


def get_cases(connection: Connection, references: Sequence[str]) -> dict[str, CaseRecord]:
    """The cases of ``references`` that exist, by reference, read in one statement a
    chunk: the sync rules read every case a file's events name (issue 17)."""
    found: dict[str, CaseRecord] = {}
    for chunk in chunks(sorted(set(references))):
        rows = _CASES_NAMED.rows(connection, {"references": list(chunk)})
        for reference, case_id, document, status, status_at, updated_at in rows:
            found[reference] = CaseRecord(
                id=case_id,
                case=Case.model_validate_json(document),
                status=None if status is None else CaseStatus(status),
                status_at=status_at,
                updated_at=updated_at,
            )
    return found


def require_case(connection: Connection, reference: str) -> CaseRecord:
    record = get_case(connection, reference)
    if record is None:
        raise NotFoundError(f"no case {reference}")
    return record


CASE_ID_OF = select(cases.c.id).where(cases.c.reference == bindparam("reference"))
"""A case's id by its reference (the plain reads run it too)."""


def case_id_of(connection: Connection, reference: str) -> int | None:
    """The case's id alone, for a reader that needs no ``Case``: validating the stored
    document builds the case model's validator (`hub cases show`, issue 17)."""
    found: int | None = connection.execute(
        CASE_ID_OF, {"reference": reference}
    ).scalar_one_or_none()
    return found


def case_state(connection: Connection, reference: str) -> CaseState[Event]:
    """The case's timeline and statuses, derived afresh from its events."""
    case_id = case_id_of(connection, reference)
    if case_id is None:
        raise NotFoundError(f"no case {reference}")
    return derive_case_state(events_of_case(connection, case_id))


def case_statuses(connection: Connection) -> dict[str, str | None]:
    """Every case's cached status by reference (None: no status yet)."""
    rows = connection.execute(select(cases.c.reference, cases.c.status))
    return {reference: status for reference, status in rows}


def refresh_case(
    connection: Connection, case_id: int, *, now: datetime | None = None
) -> CaseState[Event]:
    """Recompute the cached status from every event (after attaching late orphans)."""
    state = derive_case_state(events_of_case(connection, case_id))
    connection.execute(
        update(cases)
        .where(cases.c.id == case_id)
        .values(
            status=None if state.status is None else state.status.value,
            status_at=state.status_at,
            status_event_id=state.status_event_id,
            updated_at=now or datetime.now(UTC),
        )
    )
    return state


def count_cases_by_status(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(cases.c.status, func.count()).group_by(cases.c.status))
    return {str(status): int(count) for status, count in rows}


def retry_if_opened_concurrently(database: Database, work: Callable[[Connection], T]) -> T:
    """``work`` in its own transaction, once more if a concurrent twin won.

    Another request may insert the same case reference between ``work``'s check and its
    insert; in a second transaction the case exists, so ``work`` sees it (and is
    idempotent, or refuses a conflict) instead of failing on the unique reference.
    """
    try:
        with database.transaction() as connection:
            return work(connection)
    except IntegrityError:
        with database.transaction() as connection:
            return work(connection)


def lock_cases(connection: Connection, references: Sequence[str]) -> None:
    """Take the cases' locks until the transaction ends, so work on one case from
    concurrent transactions commits in the order it locked them.

    PostgreSQL: the rows' locks (``SELECT ... FOR UPDATE``, in the ids' order). SQLite
    locks the whole database for one writer at a time, which any write statement takes
    until the transaction ends, one that changes no row too: an update of no row. The
    no-op update of every named case this was before rewrote each row on SQLite, whose
    ``SET id = id`` moves the row and its index entries (a file's 2,000 cases took 0.95 s
    of a 10,000-row `hub ingest` with the shipped sync rules; issue 17, thirteenth pass)."""
    wanted = sorted(set(references))
    if not wanted:
        return
    if connection.dialect.name == "sqlite":
        _SQLITE_WRITE_LOCK.execute(connection, {})
        return
    _ROW_LOCKS.execute(connection, {"references": wanted})


_SQLITE_WRITE_LOCK = DriverStatement(
    lambda _dialect: update(cases).where(cases.c.id.is_(None)).values(id=cases.c.id)
)
"""A write that changes no row (no case has no id): SQLite's writer lock, nothing else.
On the driver, as the locks of PostgreSQL below: the sync rules take them for every file
(issue 17, fourteenth pass)."""

_ROW_LOCKS = DriverStatement(
    lambda _dialect: (
        select(cases.c.id)
        .where(cases.c.reference == any_(cast(bindparam("references"), ARRAY(String))))
        .order_by(cases.c.id)
        .with_for_update()
    )
)
"""PostgreSQL's: the references as one array parameter, one SQL text whatever their number."""
