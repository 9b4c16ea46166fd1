"""Élec Distrib simulator: the spare-parts distributor's JSON API with OAuth 2.0.

It follows ``docs/partners/elec-distrib.md``: tokens from ``POST /oauth2/token`` (HTTP
Basic client authentication, ``grant_type=client_credentials``) that expire after
``expires_in`` seconds, ``Authorization: Bearer`` on every call (a revoked or expired
token answers 401), orders by ``POST /api/v2/orders`` with an ``Idempotency-Key`` (the
same key again answers 200 with the first answer; an unknown SKU 422), and order events by
``GET /api/v2/order-events?modified_since=&per_page=`` oldest first, pages announced by an
RFC 8288 ``Link`` header (``rel="next"``, ``rel="last"``). Above ``rate_limit`` calls a
second it answers 429 with ``Retry-After`` as an HTTP date.

Faults are switches: :meth:`ElecDistribSimulator.revoke_tokens` (a 401 mid-run),
:attr:`token_lifetime` (tokens that expire), :meth:`throttle_next` (429s with an HTTP
date), :attr:`unknown_skus` (422).

Manual run: ``python -m simulators.elec_distrib --port 8084``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators.server import (
    Clock,
    RateLimiter,
    Simulator,
    foreground_parser,
    listen_options,
)

EVENTS_PATH = "/api/v2/order-events"
ORDERS_PATH = "/api/v2/orders"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
MAX_PER_PAGE = 100
IDEMPOTENCY_WINDOW = 24 * 3600.0
EVENT_TYPES = (
    "order.accepted",
    "order.backordered",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": code, "message": message}, status, headers=headers)


@dataclass(frozen=True)
class Order:
    """An order the distributor accepted: its id, the hub's body, and when."""

    order_id: str
    idempotency_key: str
    body: dict[str, Any]
    received_at: float

    @property
    def customer_order_ref(self) -> str:
        return str(self.body.get("customer_order_ref", ""))

    @property
    def case_reference(self) -> str:
        return str(self.body.get("case_reference", ""))

    @property
    def skus(self) -> list[str]:
        return [str(item.get("sku")) for item in self.body.get("items", [])]


@dataclass(frozen=True)
class OrderEvent:
    """One order event as the API lists it."""

    event_id: int
    order_id: str
    customer_order_ref: str
    type: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "order_id": self.order_id,
            "customer_order_ref": self.customer_order_ref,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(timespec="milliseconds"),
            "data": self.data,
        }


def _parse_since(text: str) -> datetime:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise ValueError("modified_since needs an offset")
    return at


class ElecDistribSimulator(Simulator):
    """Élec Distrib's API on loopback, following its sheet, faults included.

    ``clock`` dates tokens and answers; ``wall_clock`` writes the ``Retry-After`` dates,
    which a client reads against its own wall clock. ``on_order`` is called with each new
    order (the demo's distributor acts on it).
    """

    def __init__(
        self,
        *,
        client_id: str = "hub-client",
        client_secret: str = "ed-test-secret",  # noqa: S107 - a simulator's test secret
        token_lifetime: int = 900,
        rate_limit: int | None = 20,
        retry_after: float = 1.0,
        first_event_id: int = 99800,
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
        on_order: Callable[[Order], None] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.rate_limiter = RateLimiter(rate_limit)
        self.retry_after = retry_after
        self.wall_clock: Clock = wall_clock or self.clock
        self.on_order = on_order
        self.unknown_skus: set[str] = set()
        self.on_call: Callable[[str, dict[str, str]], None] | None = None
        """Called as each API call starts (path, query): a test's way to expire or revoke
        tokens, or to make a fault, in the middle of a run."""
        self._tokens: dict[str, float] = {}
        self._throttled = 0
        self._failing: tuple[int, int] = (0, 500)
        self._orders: dict[str, Order] = {}
        self._by_key: dict[str, tuple[Order, float]] = {}
        self._events: list[OrderEvent] = []
        self._next_event_id = first_event_id
        self._next_order = 778800
        self.tokens_issued = 0

    # -- faults ------------------------------------------------------------------------

    def revoke_tokens(self) -> int:
        """Revoke every token issued so far, before it expires: the next call answers 401."""
        with self._lock:
            revoked = len(self._tokens)
            self._tokens.clear()
            return revoked

    def fail_next(self, count: int, status: int = 500) -> None:
        """The next ``count`` API calls answer ``status`` (a partner fault)."""
        with self._lock:
            self._failing = (count, status)

    def throttle_next(self, count: int) -> None:
        """The next ``count`` API calls answer 429 with a ``Retry-After`` HTTP date."""
        with self._lock:
            self._throttled = count

    # -- driving state -----------------------------------------------------------------

    def add_event(
        self,
        order_id: str,
        type: str,
        occurred_at: datetime,
        data: dict[str, Any] | None = None,
        *,
        customer_order_ref: str | None = None,
    ) -> OrderEvent:
        """An event of an order (known or not), listed from now on; its id is the next."""
        with self._lock:
            order = self._orders.get(order_id)
            ref = customer_order_ref or (order.customer_order_ref if order else "")
            event = OrderEvent(
                self._next_event_id, order_id, ref, type, occurred_at, dict(data or {})
            )
            self._next_event_id += 1
            self._events.append(event)
            return event

    @property
    def orders(self) -> list[Order]:
        """Every order accepted, oldest first (replays not counted)."""
        with self._lock:
            return list(self._orders.values())

    @property
    def events(self) -> list[OrderEvent]:
        with self._lock:
            return list(self._events)

    def order(self, order_id: str) -> Order:
        with self._lock:
            return self._orders[order_id]

    # -- HTTP --------------------------------------------------------------------------

    def _refused(self, request: Request) -> Response | None:
        """What answers a call before its endpoint does: a fault switched on, the rate
        limit, a token that is missing, expired or revoked."""
        if self.on_call is not None:
            self.on_call(request.url.path, dict(request.query_params))
        with self._lock:
            failing, status = self._failing
            if failing > 0:
                self._failing = (failing - 1, status)
        if failing > 0:
            return _error(status, "FAULT", "A fault switched on in the simulator")
        return self._limited() or self._unauthorised(request)

    def _limited(self) -> Response | None:
        """429 with an HTTP date when throttled by hand or over the rate."""
        now = self.clock()
        with self._lock:
            forced = self._throttled > 0
            if forced:
                self._throttled -= 1
        wait = self.retry_after if forced else self.rate_limiter.check(now)
        if wait is None:
            return None
        when = datetime.fromtimestamp(math.ceil(self.wall_clock() + wait), UTC)
        headers = {"Retry-After": format_datetime(when, usegmt=True)}
        return _error(429, "RATE_LIMITED", "More than 20 calls a second", headers)

    def _unauthorised(self, request: Request) -> Response | None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        token = given.strip()
        with self._lock:
            expires = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if expires is not None and self.clock() < expires:
            return None
        challenge = {"WWW-Authenticate": "Bearer"}
        return _error(401, "invalid_token", "Missing, expired or revoked token", challenge)

    def _client_authenticated(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            pair = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = pair.partition(":")
        same_user = hmac.compare_digest(user.encode(), self.client_id.encode())
        same_secret = hmac.compare_digest(password.encode(), self.client_secret.encode())
        return same_user and same_secret

    async def _token_endpoint(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        if not self._client_authenticated(request):
            return JSONResponse({"error": "invalid_client"}, 401, {"WWW-Authenticate": "Basic"})
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        scopes = set(" ".join(form.get("scope", ["orders"])).split())
        if not scopes <= {"orders"}:
            return JSONResponse({"error": "invalid_scope"}, 400)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.clock() + self.token_lifetime
            self.tokens_issued += 1
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        return JSONResponse(body, 200, headers={"Cache-Control": "no-store"})

    async def _orders_endpoint(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        key = request.headers.get("idempotency-key", "").strip()
        if not key:
            return _error(400, "IDEMPOTENCY_KEY_REQUIRED", "Idempotency-Key header is required")
        now = self.clock()
        with self._lock:
            known = self._by_key.get(key)
            if known is not None and now - known[1] < IDEMPOTENCY_WINDOW:
                return JSONResponse({"order_id": known[0].order_id, "status": "received"}, 200)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "INVALID_JSON", "body is not JSON")
        errors = self._invalid(body)
        if errors:
            return JSONResponse({"errors": errors}, 422)
        with self._lock:
            known = self._by_key.get(key)
            if known is not None:  # the same key raced in meanwhile
                return JSONResponse({"order_id": known[0].order_id, "status": "received"}, 200)
            self._next_order += 1
            order = Order(f"ED-{self._next_order}", key, body, now)
            self._orders[order.order_id] = order
            self._by_key[key] = (order, now)
        if self.on_order is not None:
            self.on_order(order)
        return JSONResponse({"order_id": order.order_id, "status": "received"}, 201)

    def _invalid(self, body: object) -> list[dict[str, str]]:
        """The sheet's 422 errors: each with the field and a code."""
        if not isinstance(body, dict):
            return [{"field": "", "code": "INVALID_BODY"}]
        errors = [
            {"field": name, "code": "REQUIRED"}
            for name in ("customer_order_ref", "case_reference", "deliver_to")
            if not body.get(name)
        ]
        items = body.get("items")
        if not isinstance(items, list) or not items:
            return [*errors, {"field": "items", "code": "REQUIRED"}]
        for index, item in enumerate(items):
            sku = item.get("sku") if isinstance(item, dict) else None
            if not isinstance(sku, str) or not sku:
                errors.append({"field": f"items[{index}].sku", "code": "REQUIRED"})
            elif sku in self.unknown_skus:
                errors.append({"field": f"items[{index}].sku", "code": "UNKNOWN_SKU"})
            qty = item.get("qty") if isinstance(item, dict) else None
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                errors.append({"field": f"items[{index}].qty", "code": "INVALID_QUANTITY"})
        return errors

    async def _events_endpoint(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        query = request.query_params
        try:
            since = _parse_since(query["modified_since"]) if "modified_since" in query else None
            per_page = min(int(query.get("per_page", "50")), MAX_PER_PAGE)
            page = int(query.get("page", "1"))
        except ValueError as exc:
            return _error(400, "INVALID_QUERY", str(exc))
        if per_page < 1 or page < 1:
            return _error(400, "INVALID_QUERY", "per_page and page start at 1")
        with self._lock:
            listed = sorted(
                (e for e in self._events if since is None or e.occurred_at >= since),
                key=lambda e: (e.occurred_at, e.event_id),
            )
        last = max(1, math.ceil(len(listed) / per_page))
        shown = listed[(page - 1) * per_page : page * per_page]
        origin = str(request.base_url).rstrip("/")

        def link(number: int) -> str:
            params = {"page": str(number), "per_page": str(per_page)}
            if "modified_since" in query:
                params = {"modified_since": query["modified_since"], **params}
            return f"{origin}{EVENTS_PATH}?{urlencode(params)}"

        links = [f'<{link(last)}>; rel="last"']
        if page < last:
            links.insert(0, f'<{link(page + 1)}>; rel="next"')
        return JSONResponse(
            [event.as_json() for event in shown], 200, headers={"Link": ", ".join(links)}
        )

    def build_app(self) -> ASGIApp:
        return Starlette(
            routes=[
                Route(TOKEN_PATH, self._token_endpoint, methods=["POST"]),
                Route(ORDERS_PATH, self._orders_endpoint, methods=["POST"]),
                Route(EVENTS_PATH, self._events_endpoint, methods=["GET"]),
            ]
        )


def load_sheet_sample(simulator: ElecDistribSimulator) -> None:
    """The sheet's two sample events, sharing one instant."""
    at = datetime.fromisoformat("2026-11-05T14:12:09.250+01:00")
    simulator.add_event(
        "ED-778812",
        "order.shipped",
        at,
        {"carrier": "COLIS_EXPRESS", "tracking_number": "CE123456789FR", "eta": "2026-11-07"},
        customer_order_ref="PO-00000308",
    )
    simulator.add_event(
        "ED-778815",
        "order.backordered",
        at,
        {"eta": "2026-11-21"},
        customer_order_ref="PO-00000311",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulators.elec_distrib``: serve in the foreground for manual runs."""
    parser = foreground_parser("Élec Distrib", port=8084, rate_limit=20)
    parser.add_argument("--client-id", default="hub-client")
    parser.add_argument("--client-secret", default="ed-demo-secret")
    parser.add_argument("--token-lifetime", type=int, default=900)
    arguments = parser.parse_args(argv)
    simulator = ElecDistribSimulator(
        client_id=arguments.client_id,
        client_secret=arguments.client_secret,
        token_lifetime=arguments.token_lifetime,
        **listen_options(arguments),
    )
    if not arguments.empty:
        load_sheet_sample(simulator)
    simulator.serve_forever()


if __name__ == "__main__":
    main()
