"""Erasing a customer's personal data from a case (GDPR), at a retailer's request or,
for cases closed long enough, by the retention job.

The order matters, because the values are kept nowhere but in the case until the end:

1. the request is recorded (once: asking again changes nothing and answers the same);
2. every place that may quote the customer is masked, a batch at a time, each batch its
   own short transaction (SQLite's one writer is never held long): the raw archive,
   rejected lines, run errors, events, outbox messages... (hub.store.erasure);
3. last, in one transaction, the case's document loses the customer's name, phone,
   email and address (its free text masked), the feed's stored items of the case are
   cleared (written again from the masked events), the erasure is marked complete, and an
   event of type ``case_record`` (status ``personal_data_erased``, reported by the hub, with who
   asked) goes on the case's timeline and the retailer's feed.

A process stopping between 2 and 3 leaves the case as it was, with the erasure
unfinished: the retention job finishes it (``finish_unfinished``). Messages not sent yet
are rendered at send time from the case, so once it is erased they carry nothing
personal; those already sent are the partners' copies, masked in the hub's archive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.errors import NotFoundError
from hub.model.event import Event, EventDetails, EventType, stable_event_id
from hub.model.personal_data import Eraser, erased_case
from hub.model.statuses import CaseRecordStatus
from hub.store import erasure as store
from hub.store.cases import case_id_of, get_case
from hub.store.db import Database
from hub.store.events import append_events
from hub.sync import HUB_PARTY

logger = logging.getLogger(__name__)

BATCH = 200
"""Rows masked per transaction."""

LOOK_BEFORE = timedelta(days=2)
"""Messages quoting the customer may come a little before the case is opened in the hub
(a retailer's import file, a partner's booking): the scan starts that much earlier."""

RETENTION = "retention"
"""Who asked when nobody did: closed cases anonymised after their period."""


@dataclass(frozen=True)
class ErasureResult:
    """An erasure as the API, the console and the CLI show it."""

    reference: str
    requested_at: datetime
    requested_by: str
    completed_at: datetime | None
    rows_masked: int = 0
    already: bool = False


def erasure_status(database: Database, reference: str) -> ErasureResult | None:
    """The case's erasure, if any (None: its personal data is whole)."""
    with database.reading() as connection:
        case_id = case_id_of(connection, reference)
        if case_id is None:
            raise NotFoundError(f"no case {reference}")
        erased = store.erasure_of(connection, case_id)
    if erased is None:
        return None
    return ErasureResult(reference, erased.requested_at, erased.requested_by, erased.completed_at)


def erase_case(
    database: Database, reference: str, *, by: str, now: datetime | None = None
) -> ErasureResult:
    """Erase the personal data of the case ``reference`` (see the module's docstring).
    Idempotent: an erasure already complete is answered as it was."""
    moment = now or datetime.now(UTC)
    with database.transaction() as connection:
        record = get_case(connection, reference)
        if record is None:
            raise NotFoundError(f"no case {reference}")
        request = store.record_request(connection, record.id, by=by, at=moment)
    if request.completed_at is not None:
        return ErasureResult(
            reference,
            request.requested_at,
            request.requested_by,
            request.completed_at,
            already=True,
        )
    case = record.case
    eraser = Eraser([case.customer])
    started = min(case.opened_at, moment) - LOOK_BEFORE
    scope = store.Scope(record.id, reference, started)
    masked = 0
    if eraser:
        for target in store.scrub_targets():
            after: object = None
            while True:
                with database.transaction() as connection:
                    after, changed = store.scrub_batch(
                        connection, target, scope, eraser, after=after, limit=BATCH
                    )
                masked += changed
                if after is None:
                    break
                database.let_writers_in()
    with database.transaction() as connection:
        store.replace_case_document(connection, record.id, erased_case(case, eraser))
        store.clear_feed_items(connection, record.id)
        store.mark_completed(connection, record.id, at=moment)
        append_events(connection, [erasure_event(reference, by=request.requested_by, at=moment)])
    logger.info("case %s: personal data erased (%d rows masked)", reference, masked)
    return ErasureResult(reference, request.requested_at, request.requested_by, moment, masked)


def erasure_event(reference: str, *, by: str, at: datetime) -> Event:
    """The erasure on the case's timeline (and the retailer's feed): when, at whose request.
    One per case, whatever the number of requests."""
    return Event(
        id=stable_event_id(
            reported_by=HUB_PARTY,
            partner_event_id=f"personal-data-erased:{reference}",
            type=EventType.CASE_RECORD,
            raw_code=CaseRecordStatus.PERSONAL_DATA_ERASED.value,
            occurred_at=at,
        ),
        case_ref=reference,
        type=EventType.CASE_RECORD,
        status=CaseRecordStatus.PERSONAL_DATA_ERASED,
        occurred_at=at,
        recorded_at=at,
        reported_by=HUB_PARTY,
        raw_code=CaseRecordStatus.PERSONAL_DATA_ERASED.value,
        details=EventDetails(note=f"asked by {by}"),
    )


def finish_unfinished(database: Database) -> list[str]:
    """Finish the erasures a stopped process left midway; their references."""
    with database.reading() as connection:
        references = store.unfinished_erasures(connection)
    for reference in references:
        erase_case(database, reference, by=RETENTION)
    return references


def anonymise_closed_cases(
    database: Database, *, closed_for: timedelta, now: datetime | None = None, limit: int = 50
) -> list[str]:
    """Erase the personal data of cases closed for longer than ``closed_for``; a batch of
    at most ``limit`` cases per call (the job comes back for the rest)."""
    moment = now or datetime.now(UTC)
    with database.reading() as connection:
        due = store.closed_cases_to_anonymise(
            connection, closed_before=moment - closed_for, limit=limit
        )
    for reference in due:
        erase_case(database, reference, by=RETENTION, now=moment)
    return due
