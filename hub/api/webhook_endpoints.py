"""Routes for the webhook endpoints a retailer manages itself: register, list, read,
change or disable, delete, send a test event, rotate the secret.

They translate HTTP to hub.retailers.webhook_endpoints and back; the rules live there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Caller, DatabaseDep
from hub.api.models import (
    TestDeliveryOut,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointWithSecret,
)
from hub.retailers.webhook_endpoints import (
    DEFAULT_GRACE,
    EVENT_TYPES,
    MAX_GRACE,
    EndpointChanges,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    register_endpoint,
    rotate_secret,
    secret_box,
    send_test_event,
    update_endpoint,
)

router = APIRouter(tags=["webhooks"])

MAX_PAGE = 100
DEFAULT_PAGE = 20
KNOWN_TYPES = ", ".join(f"`{name}`" for name in EVENT_TYPES)

EndpointId = Annotated[
    str,
    Path(min_length=1, max_length=32, pattern=r"^we_[0-9a-f]+$", description="`we_…`"),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="Where events are POSTed: https:// (plain http only to loopback), on "
        "a public address, without credentials.",
        examples=["https://hooks.example.com/after-sales"],
    ),
]
EventTypes = Annotated[
    list[str],
    Field(min_length=1, max_length=20, description=f"Among {KNOWN_TYPES}."),
]
Description = Annotated[str, Field(max_length=200, description="For your own records.")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewEndpoint(_In):
    url: Url
    event_types: EventTypes | None = Field(
        default=None, description=f"Default: every type ({KNOWN_TYPES})."
    )
    description: Description | None = None
    enabled: bool = True


class EndpointPatch(_In):
    """Only the fields given change."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None, description="false: stop sending, and drop what was waiting."
    )


class Rotation(_In):
    grace_period_seconds: int = Field(
        default=int(DEFAULT_GRACE.total_seconds()),
        ge=0,
        le=int(MAX_GRACE.total_seconds()),
        description="How long the previous secret keeps signing too (0: not at all).",
    )


@router.post(
    "/webhook-endpoints",
    operation_id="createWebhookEndpoint",
    summary="Register a webhook endpoint (its secret is shown once)",
    status_code=201,
)
def create_endpoint(
    body: NewEndpoint, caller: Caller, db: DatabaseDep, response: Response
) -> WebhookEndpointWithSecret:
    box = secret_box()
    with db.transaction() as connection:
        endpoint, secret = register_endpoint(
            connection,
            caller,
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            enabled=body.enabled,
            box=box,
        )
    response.headers["Location"] = f"/v1/webhook-endpoints/{endpoint.id}"
    return WebhookEndpointWithSecret.with_secret(endpoint, secret)


@router.get(
    "/webhook-endpoints",
    operation_id="listWebhookEndpoints",
    summary="List your webhook endpoints",
)
def list_your_endpoints(
    caller: Caller,
    db: DatabaseDep,
    after: Annotated[
        str | None, Query(max_length=32, description="`next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> WebhookEndpointList:
    with db.reading() as connection:
        page = list_endpoints(connection, caller, after=after, limit=limit)
    return WebhookEndpointList.of(page)


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    operation_id="getWebhookEndpoint",
    summary="Read one of your webhook endpoints",
)
def read_endpoint(endpoint_id: EndpointId, caller: Caller, db: DatabaseDep) -> WebhookEndpointOut:
    with db.reading() as connection:
        return WebhookEndpointOut.of(get_endpoint(connection, caller, endpoint_id))


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    operation_id="updateWebhookEndpoint",
    summary="Change, disable or enable a webhook endpoint",
)
def change_endpoint(
    endpoint_id: EndpointId, body: EndpointPatch, caller: Caller, db: DatabaseDep
) -> WebhookEndpointOut:
    changes = EndpointChanges(
        url=body.url,
        description=body.description,
        event_types=None if body.event_types is None else tuple(body.event_types),
        enabled=body.enabled,
    )
    with db.transaction() as connection:
        return WebhookEndpointOut.of(update_endpoint(connection, caller, endpoint_id, changes))


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    operation_id="deleteWebhookEndpoint",
    summary="Delete a webhook endpoint (what was waiting for it is dropped)",
    status_code=204,
)
def remove_endpoint(endpoint_id: EndpointId, caller: Caller, db: DatabaseDep) -> Response:
    with db.transaction() as connection:
        delete_endpoint(connection, caller, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    operation_id="testWebhookEndpoint",
    summary="Send a signed `webhook.test` event now and say what the endpoint answered",
)
def test_endpoint(endpoint_id: EndpointId, caller: Caller, db: DatabaseDep) -> TestDeliveryOut:
    # A plain function: FastAPI runs it in its thread pool while it waits for the endpoint.
    return TestDeliveryOut.of(send_test_event(db, caller, endpoint_id, box=secret_box()))


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    summary="Replace the endpoint's secret (the new one is shown once)",
)
def rotate_endpoint_secret(
    endpoint_id: EndpointId,
    caller: Caller,
    db: DatabaseDep,
    rotation: Annotated[Rotation | None, Body()] = None,
) -> WebhookEndpointWithSecret:
    """During the grace period each message carries two signatures, one per secret: a
    receiver that checks with either accepts it, so switch secrets whenever you like."""
    grace = Rotation() if rotation is None else rotation
    with db.transaction() as connection:
        endpoint, secret = rotate_secret(
            connection,
            caller,
            endpoint_id,
            grace=timedelta(seconds=grace.grace_period_seconds),
            box=secret_box(),
        )
    return WebhookEndpointWithSecret.with_secret(endpoint, secret)
