"""The retailer API's wire shapes, and their construction from the hub's own types.

Requests are canonical models (a POSTed case is a ``hub.model.Case``); responses are
these, so that what a retailer sees is documented once, in the OpenAPI document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Literal, TypedDict

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub.model.case import Case
from hub.model.event import Event, EventDetails, EventType
from hub.model.parties import PartyId
from hub.model.statuses import (
    CaseRecordStatus,
    CaseStatus,
    Label,
    PartsOrderStatus,
    ServiceLevelStatus,
    ShipmentStatus,
)
from hub.model.timeline import CaseState
from hub.retailers.case_import import ImportReport, RowOutcome
from hub.retailers.cases import CasePage
from hub.retailers.feed import FeedItem, FeedPage
from hub.retailers.tenants import Retailer
from hub.retailers.webhook_endpoints import Endpoint, EndpointPage, TestDelivery
from hub.store.case_links import KeptReference
from hub.store.cases import CaseRecord
from hub.store.outbox import ResentBy
from hub.sync.failures import CaseFailure, FailureState

AnyStatus = CaseStatus | ShipmentStatus | PartsOrderStatus | ServiceLevelStatus | CaseRecordStatus


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_in_utc)]
"""Every instant the API writes, in UTC (RFC 3339 with ``Z``): a case's ``status_at`` in
``Z`` beside its timeline in ``+01:00`` read as two different times to a retailer's code."""


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelOut(_Out):
    """A short label fit to show a customer."""

    fr: str
    en: str

    @classmethod
    def of(cls, label: Label | None) -> LabelOut | None:
        return None if label is None else cls(fr=label.fr, en=label.en)


@lru_cache(maxsize=256)
def _label_out(label: Label) -> LabelOut:
    """Labels are a few dozen constants: each ``LabelOut`` is built once."""
    found = LabelOut.of(label)
    assert found is not None
    return found


class Me(_Out):
    """The tenant the key belongs to."""

    retailer: str = Field(description="Party id: the `retailer` of every case you open.")
    name: str
    case_prefix: str = Field(description="Every case reference you open starts with it.")

    @classmethod
    def of(cls, retailer: Retailer) -> Me:
        return cls(retailer=retailer.id, name=retailer.name, case_prefix=retailer.case_prefix)


class CaseRequest(Case):
    """A case as a retailer POSTs it: ``retailer`` may be left out, the key says who."""

    # Built when defined, unlike the canonical models (deferred for the command line's
    # start): FastAPI's adapter of a deferred request body warns of its own alias.
    model_config = Case.model_config | ConfigDict(defer_build=False)

    retailer: PartyId | None = Field(  # type: ignore[assignment]
        default=None,
        description="Your party id (`GET /v1/me`); optional, and refused if it is another.",
    )

    def for_retailer(self, retailer: Retailer) -> Case:
        """The canonical case, its retailer the caller's unless the body named one (a
        different one is refused by the tenant rule, as before)."""
        return Case.model_validate(
            {**dict(self), "retailer": self.retailer if self.retailer else retailer.id}
        )


class CaseSummary(_Out):
    """A case in a list: its reference and where it stands."""

    reference: str
    status: CaseStatus | None
    status_label: LabelOut | None
    status_at: Instant | None
    opened_at: Instant
    updated_at: Instant
    breached: bool = Field(
        description="A step of this case missed its service-level deadline (contract or the "
        "30-day legal rule); the breach was published on the feed as a `service_level` event."
    )

    @classmethod
    def of(cls, record: CaseRecord, *, breached: bool) -> CaseSummary:
        return cls(
            reference=record.case.reference,
            status=record.status,
            status_label=LabelOut.of(record.status.label if record.status else None),
            status_at=record.status_at,
            opened_at=record.case.opened_at,
            updated_at=record.updated_at,
            breached=breached,
        )


class PartnerReferenceOut(_Out):
    """A partner's own reference for the case: what its support asks for."""

    party: str = Field(description="The partner's party id.")
    reference: str
    recorded_by: Literal["partner", "retailer"] = Field(
        description="partner: the partner itself gave it (an event, or its answer to our "
        "order); retailer: written on the case when it was opened."
    )

    @classmethod
    def of(cls, kept: KeptReference) -> PartnerReferenceOut:
        return cls(party=kept.party, reference=kept.reference, recorded_by=kept.recorded_by.value)


class DeadLetterOut(_Out):
    """A message of the case that gave up (a dead letter), and what became of it."""

    id: int = Field(description="The failure's id, as in the `case.message_failed` webhook.")
    partner: str = Field(description="The party the message was for.")
    message: str = Field(description="The message, e.g. `pickup`, `repair_order`.")
    error: str = Field(description="Why it gave up, in the partner's or the hub's words.")
    attempts: int
    failed_at: Instant
    state: FailureState = Field(
        description="dead: waiting (correct the case to send it again); resent: queued "
        "again; fixed: delivered after being sent again; failed_again: a later entry says "
        "why; discarded: an operator gave up on it."
    )
    resent_at: Instant | None
    resent_by: ResentBy | None = Field(
        description="correction: your correction of the case; replay: the hub's operator."
    )
    fixed_at: Instant | None

    @classmethod
    def of(cls, failure: CaseFailure) -> DeadLetterOut:
        return cls(
            id=failure.id,
            partner=failure.partner,
            message=failure.message,
            error=failure.error,
            attempts=failure.attempts,
            failed_at=failure.failed_at,
            state=failure.state,
            resent_at=failure.resent_at,
            resent_by=failure.resent_by,
            fixed_at=failure.fixed_at,
        )


class CaseView(CaseSummary):
    """A case as the retailer opened it, with its derived current status."""

    case: Case
    partner_references: list[PartnerReferenceOut] = Field(
        default_factory=list,
        description="Each partner's own reference for the case (a supplier's order id "
        "kept from its answer, a repairer's job number).",
    )
    dead_letters: list[DeadLetterOut] = Field(
        default_factory=list,
        description="Messages of the case that could not be delivered, oldest first, "
        "kept after a re-send fixed them. Correct the case (PATCH) to send the failed "
        "ones again.",
    )

    @classmethod
    def of(
        cls,
        record: CaseRecord,
        *,
        breached: bool,
        references: list[KeptReference] | None = None,
        failures: list[CaseFailure] | None = None,
    ) -> CaseView:
        summary = CaseSummary.of(record, breached=breached)
        kept = [PartnerReferenceOut.of(reference) for reference in references or []]
        dead = [DeadLetterOut.of(failure) for failure in failures or []]
        return cls(
            **summary.model_dump(), case=record.case, partner_references=kept, dead_letters=dead
        )


class CaseList(_Out):
    items: list[CaseSummary]
    next_cursor: str | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )
    has_more: bool = Field(description="True when another page follows this one.")

    @classmethod
    def of(cls, page: CasePage) -> CaseList:
        items = [CaseSummary.of(r, breached=r.id in page.breached) for r in page.records]
        return cls(items=items, next_cursor=page.next_cursor, has_more=page.next_cursor is not None)


class EventOut(_Out):
    """An event with its customer-facing labels and the partner's own words."""

    event_id: str = Field(description="Stable id: de-duplicate on it.")
    case_reference: str
    type: EventType
    status: AnyStatus | None = Field(description="Canonical status; null when unmapped.")
    unmapped: bool = Field(description="True when no mapping knew the partner's code.")
    occurred_at: Instant = Field(
        description="When it happened, in UTC like every instant of the API (the partner's "
        "own offset is not kept on the wire: one rule for every time)."
    )
    recorded_at: Instant
    reported_by: str = Field(description="Party id of who reported it.")
    label: LabelOut | None = Field(description="Label of the canonical status.")
    raw_code: str | None = Field(description="The partner's own code, for support.")
    raw_label: str | None = Field(description="The partner's own label.")
    subject: str | None = Field(description="What inside the case: a tracking number, a part.")
    details: EventDetails | None = Field(
        description="What came with the status (a quote, a parcel, a visit); null if nothing."
    )

    @classmethod
    def of(cls, event: Event, case_reference: str) -> EventOut:
        return cls(**_event_fields(event, case_reference))


class _EventFields(TypedDict):
    event_id: str
    case_reference: str
    type: EventType
    status: AnyStatus | None
    unmapped: bool
    occurred_at: datetime
    recorded_at: datetime
    reported_by: str
    label: LabelOut | None
    raw_code: str | None
    raw_label: str | None
    subject: str | None
    details: EventDetails | None


def _event_fields(event: Event, case_reference: str) -> _EventFields:
    return {
        "event_id": event.id,
        "case_reference": case_reference,
        "type": event.type,
        "status": event.status,
        "unmapped": event.unmapped,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "reported_by": event.reported_by,
        "label": LabelOut.of(event.label),
        "raw_code": event.raw_code,
        "raw_label": event.raw_label,
        "subject": event.subject,
        "details": None if event.details.is_empty() else event.details,
    }


class Timeline(_Out):
    """A case's events in the order they happened, and its current status."""

    reference: str
    status: CaseStatus | None
    status_label: LabelOut | None
    status_at: Instant | None
    events: list[EventOut]

    @classmethod
    def of(cls, reference: str, state: CaseState[Event]) -> Timeline:
        return cls(
            reference=reference,
            status=state.status,
            status_label=LabelOut.of(state.status.label if state.status else None),
            status_at=state.status_at,
            events=[EventOut.of(event, reference) for event in state.timeline],
        )


class FeedItemOut(EventOut):
    """An event of the feed, with the case's status after it and where to resume."""

    cursor: str = Field(description="Pass as `after` to resume after this item.")
    case_status_after: CaseStatus | None = Field(
        description="The case's current status once this item is applied: derived from "
        "the case's events up to this item in the feed. A late event leaves it unchanged."
    )
    case_status_after_label: LabelOut | None

    @classmethod
    def from_item(cls, item: FeedItem) -> FeedItemOut:
        """Built without validating again: every value comes typed from the event the
        store rebuilt (a page is 500 items). What validation would change is done here:
        instants in UTC, labels as ``LabelOut``, empty details as null; a test checks
        that validating the JSON of a page gives the same page back."""
        event = item.event
        status = item.case_status_after
        details = event.details
        return cls.model_construct(
            event_id=event.id,
            case_reference=item.case_reference,
            type=event.type,
            status=event.status,
            unmapped=event.status is None,
            occurred_at=_in_utc(event.occurred_at),
            recorded_at=_in_utc(event.recorded_at),
            reported_by=event.reported_by,
            label=None if event.status is None else _label_out(event.status.label),
            raw_code=event.raw_code,
            raw_label=event.raw_label,
            subject=event.subject,
            # No field set means every field has its empty default: skip the field check.
            details=None if not details.model_fields_set or details.is_empty() else details,
            cursor=item.cursor,
            case_status_after=status,
            case_status_after_label=None if status is None else _label_out(status.label),
        )


class FeedPageOut(_Out):
    items: list[FeedItemOut]
    next_cursor: str | None = Field(
        description="Resume here next time (the `after` you gave when the page is empty)."
    )
    has_more: bool = Field(description="True when more items can be read right now.")

    @classmethod
    def of(cls, page: FeedPage) -> FeedPageOut:
        """Built without validating again, as its items (``FeedItemOut.from_item``)."""
        return cls.model_construct(
            items=[FeedItemOut.from_item(item) for item in page.items],
            next_cursor=page.next_cursor,
            has_more=page.has_more,
        )


class ImportRow(_Out):
    line: int = Field(description="Line of the file the row starts on (the header is 1).")
    reference: str | None
    outcome: Literal["created", "unchanged", "rejected"]
    field: str | None = Field(description="The column (or case field) a rejection is about.")
    reason: str | None


class ImportResult(_Out):
    """Every row of the file, accepted or rejected, with its line and reason."""

    file: str
    duplicate_file: bool = Field(description="The same bytes were uploaded before.")
    created: int
    unchanged: int
    rejected: int
    rows: list[ImportRow]

    @classmethod
    def of(cls, report: ImportReport) -> ImportResult:
        return cls(
            file=report.source,
            duplicate_file=report.duplicate_file,
            created=report.count(RowOutcome.CREATED),
            unchanged=report.count(RowOutcome.UNCHANGED),
            rejected=report.count(RowOutcome.REJECTED),
            rows=[
                ImportRow(
                    line=row.line,
                    reference=row.reference,
                    outcome=row.outcome.value,
                    field=row.field,
                    reason=row.reason,
                )
                for row in report.rows
            ],
        )


class WebhookEndpointOut(_Out):
    """A webhook endpoint you registered; its secret is shown only when it is made."""

    id: str = Field(description="The endpoint's id, `we_…`.")
    url: str
    description: str | None
    event_types: list[str] = Field(description="The webhook event types it receives.")
    enabled: bool = Field(description="A disabled endpoint receives nothing.")
    created_at: Instant
    updated_at: Instant
    previous_secret_expires_at: Instant | None = Field(
        description="After a rotation: until then messages carry a signature with the "
        "previous secret too; null when only the current secret signs."
    )

    @classmethod
    def of(cls, endpoint: Endpoint) -> WebhookEndpointOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            description=endpoint.description,
            event_types=list(endpoint.event_types),
            enabled=endpoint.enabled,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
        )


class WebhookEndpointWithSecret(WebhookEndpointOut):
    """A new endpoint, or one whose secret was just rotated, with its secret: store it
    now, the hub never shows it again."""

    secret: str = Field(description="`whsec_…`: verify each message's signature with it.")

    @classmethod
    def with_secret(cls, endpoint: Endpoint, secret: str) -> WebhookEndpointWithSecret:
        return cls(**WebhookEndpointOut.of(endpoint).model_dump(), secret=secret)


class WebhookEndpointList(_Out):
    items: list[WebhookEndpointOut]
    next_cursor: str | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )
    has_more: bool = Field(description="True when another page follows this one.")

    @classmethod
    def of(cls, page: EndpointPage) -> WebhookEndpointList:
        return cls(
            items=[WebhookEndpointOut.of(item) for item in page.items],
            next_cursor=page.next_cursor,
            has_more=page.has_more,
        )


class TestDeliveryOut(_Out):
    """What your endpoint answered the test event."""

    message_id: str = Field(description="The test message's `webhook-id`.")
    delivered: bool = Field(description="True when the endpoint answered 2xx.")
    status: int | None = Field(description="The endpoint's HTTP status, if it answered.")
    error: str | None = Field(description="Why it was not delivered.")

    @classmethod
    def of(cls, delivery: TestDelivery) -> TestDeliveryOut:
        return cls(
            message_id=delivery.message_id,
            delivered=delivery.delivered,
            status=delivery.status,
            error=delivery.error,
        )
