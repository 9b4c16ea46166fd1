"""The retailers' side: Maison Électro's webhook endpoint and BricoMarket's feed reader.

Both are written the way a retailer would write them, from the retailers' sheet and the
hub's public contract only: the receiver checks each Standard Webhooks signature itself
(HMAC-SHA256 over ``id.timestamp.body`` with the ``whsec_`` key, five minutes of
tolerance, any of the listed signatures) and drops repeats by their id; the reader pulls
``GET /v1/feed`` with its API key from its last cursor. Each keeps, per case, the status
it would show its customer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators.server import Simulator

TOLERANCE = 300
"""Seconds a webhook's timestamp may be off, as the Standard Webhooks libraries allow."""


class BadSignature(ValueError):
    """The webhook is not signed by the hub with our secret, or too old to trust."""


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float) -> str:
    """The message id of a webhook whose signature holds; BadSignature otherwise."""
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not message_id or not timestamp.isdigit():
        raise BadSignature("webhook-id or webhook-timestamp missing")
    if abs(now - int(timestamp)) > TOLERANCE:
        raise BadSignature("timestamp outside the tolerance")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error as error:
        raise BadSignature("the shared secret is not whsec_<base64>") from error
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return message_id
    raise BadSignature("no signature matches")


@dataclass
class CaseView:
    """What the retailer shows for one case: its latest status, by when it happened."""

    status: str | None = None
    at: datetime | None = None
    status_after: str | None = None
    events: int = 0


@dataclass
class Inbox:
    """Everything the receiver accepted, de-duplicated."""

    ids: set[str] = field(default_factory=set)
    cases: dict[str, CaseView] = field(default_factory=dict)
    received: int = 0
    repeats: int = 0
    refused: int = 0
    failed_messages: list[str] = field(default_factory=list)
    """Cases the hub said a message of gave up (``case.message_failed``)."""


class WebhookReceiver(Simulator):
    """Maison Électro's endpoint, ``POST /after-sales/hub``: verify, de-duplicate, apply."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.inbox = Inbox()
        self._inbox_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.base_url}/after-sales/hub"

    def build_app(self) -> ASGIApp:
        return Starlette(routes=[Route("/after-sales/hub", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            message_id = verify(self.secret, dict(request.headers), body, now=time.time())
            payload = json.loads(body)
        except (BadSignature, ValueError):
            with self._inbox_lock:
                self.inbox.refused += 1
            return Response(status_code=401)
        with self._inbox_lock:
            self._apply(message_id, payload)
        return Response(status_code=204)

    def _apply(self, message_id: str, payload: dict[str, Any]) -> None:
        inbox = self.inbox
        if message_id in inbox.ids:
            inbox.repeats += 1
            return
        inbox.ids.add(message_id)
        inbox.received += 1
        if payload.get("type") == "case.message_failed":
            # Maison Électro's support would call the customer; no status changes.
            inbox.failed_messages.append(str(payload["case_reference"]))
            return
        view = inbox.cases.setdefault(str(payload["case_reference"]), CaseView())
        view.events += 1
        view.status_after = payload.get("case_status_after")
        if payload.get("event_type") == "case_status" and payload.get("status"):
            at = datetime.fromisoformat(str(payload["occurred_at"]))
            if view.at is None or at >= view.at:
                view.status, view.at = str(payload["status"]), at

    def statuses(self) -> dict[str, str | None]:
        """Each case's status as Maison Électro shows it."""
        with self._inbox_lock:
            return {reference: view.status for reference, view in self.inbox.cases.items()}


class FeedReader:
    """BricoMarket's poller: its feed from the last cursor, each case's status after."""

    def __init__(self, hub_url: str, api_key: str) -> None:
        self.client = httpx.Client(
            base_url=hub_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )
        self.cursor: str | None = None
        self.items = 0
        self.cases: dict[str, str | None] = {}

    def poll(self) -> int:
        """Read the feed up to now; how many new items it held."""
        new = 0
        while True:
            params: dict[str, str | int] = {"limit": 500}
            if self.cursor is not None:
                params["after"] = self.cursor
            response = self.client.get("/v1/feed", params=params)
            response.raise_for_status()
            page = response.json()
            for item in page["items"]:
                self.cases[item["case_reference"]] = item["case_status_after"]
            new += len(page["items"])
            self.cursor = page["next_cursor"] or self.cursor
            if not page["has_more"]:
                break
        self.items += new
        return new

    def close(self) -> None:
        self.client.close()
