"""The webhooks the hub sends, in the OpenAPI 3.1 ``webhooks`` section: each event type,
its payload and the Standard Webhooks headers that sign it.

These routes are documentation only (FastAPI keeps ``app.webhooks`` out of the served
paths). The payload models are checked against what hub.retailers.webhooks really sends
by the tests, so the document cannot drift from the wire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field

from hub.api.models import AnyStatus, LabelOut
from hub.model.event import EventType
from hub.model.statuses import CaseStatus
from hub.retailers.webhooks import (
    EVENT_TYPE,
    FAILED_EVENT_TYPE,
    ID_HEADER,
    SIGNATURE_HEADER,
    TEST_EVENT_TYPE,
    TIMESTAMP_HEADER,
)

SIGNING = """

Signed per [Standard Webhooks](https://www.standardwebhooks.com): check the signature
with your endpoint's secret (`whsec_…`) before trusting the body, e.g. with the
`standardwebhooks` library, and refuse a timestamp more than five minutes off. Answer
2xx within 10 seconds; anything else is retried with a fresh signature, in order per
case, with the same `webhook-id` (drop a repeat on it).
"""


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CaseEventPayload(_Payload):
    """An event of one of your cases (the feed's item, as it happened)."""

    type: Literal["case.event"] = Field(description="The webhook's event type.")
    event_id: str = Field(description="Stable id of the case event: de-duplicate on it.")
    case_reference: str
    event_type: EventType = Field(description="What the event is about.")
    status: AnyStatus | None = Field(description="Canonical status; null when unmapped.")
    unmapped: bool = Field(description="True when no mapping knew the partner's code.")
    occurred_at: datetime = Field(description="When it happened, in UTC (`Z`).")
    reported_by: str = Field(description="Party id of who reported it.")
    label: LabelOut | None = Field(description="Label of the canonical status.")
    raw_code: str | None = Field(description="The partner's own code, for support.")
    raw_label: str | None = Field(description="The partner's own label.")
    case_status_after: CaseStatus | None = Field(
        description="The case's status once this event is applied (a late one leaves it)."
    )


class MessageFailedPayload(_Payload):
    """A message the hub had to send a partner for one of your cases gave up (a dead
    letter): correct the case (`PATCH /v1/cases/{reference}`) and it is sent again."""

    type: Literal["case.message_failed"]
    failure_id: int = Field(description="Stable id of this failure: de-duplicate on it.")
    case_reference: str
    partner: str = Field(description="Party id of the partner the message was for.")
    message: str = Field(description="Which message of the partner's, e.g. `pickup`.")
    error: str = Field(description="Why it gave up, in the hub's or the partner's words.")
    attempts: int = Field(description="How many times it was tried.")
    failed_at: datetime


class WebhookTestPayload(_Payload):
    """Sent when you ask for it (`POST /v1/webhook-endpoints/{id}/test`); about no case."""

    type: Literal["webhook.test"]
    endpoint_id: str
    retailer: str
    sent_at: datetime


WebhookId = Annotated[
    str,
    Header(
        alias=ID_HEADER,
        description="The message's id: the same on every retry of it.",
    ),
]
WebhookTimestamp = Annotated[
    str,
    Header(alias=TIMESTAMP_HEADER, description="Unix seconds when it was signed."),
]
WebhookSignature = Annotated[
    str,
    Header(
        alias=SIGNATURE_HEADER,
        description="`v1,<base64 HMAC-SHA256 of {id}.{timestamp}.{body}>`; during a "
        "secret's rotation, two such values separated by a space (one per secret): "
        "accept the message if any verifies.",
    ),
]


def document_webhooks(app: FastAPI) -> None:
    """Declare every webhook event type the hub sends."""

    @app.webhooks.post(
        EVENT_TYPE,
        operation_id="caseEventWebhook",
        summary="An event of one of your cases",
        description="Sent to each endpoint that asked for `case.event`, and to the "
        "webhook your operator configured, for the events the network's rules tell "
        "retailers of (case and parcel statuses, service-level breaches)." + SIGNING,
        status_code=204,
    )
    def case_event(
        body: CaseEventPayload,
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """Documentation only: the hub POSTs it to you."""

    @app.webhooks.post(
        FAILED_EVENT_TYPE,
        operation_id="caseMessageFailedWebhook",
        summary="A message for one of your cases gave up",
        description="Sent to each endpoint that asked for `case.message_failed`, and to "
        "the webhook your operator configured, when a partner's message for your case "
        "becomes a dead letter (e.g. the carrier refused the pickup address). Correct the "
        "case and the hub sends it again." + SIGNING,
        status_code=204,
    )
    def case_message_failed(
        body: MessageFailedPayload,
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """Documentation only: the hub POSTs it to you."""

    @app.webhooks.post(
        TEST_EVENT_TYPE,
        operation_id="testWebhook",
        summary="A test event you asked for",
        description="Checks that your endpoint answers and verifies signatures." + SIGNING,
        status_code=204,
    )
    def test_event(
        body: WebhookTestPayload,
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """Documentation only: the hub POSTs it to you."""
