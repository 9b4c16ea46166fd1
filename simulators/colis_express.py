"""ColisExpress simulator: the carrier's JSON API and its signed, best-effort push.

It follows ``docs/partners/colis-express.md``: ``Authorization: Bearer`` on every call,
idempotent pickups (same reference, same tracking number), a parcel's history on pull with
10 requests/second at most, and one signed POST per event to the hub's push URL, retried
3 times and then dropped. The push faults the sheet warns about (late, twice, out of order,
missing, wrongly signed, stale) are switches on :attr:`ColisExpressSimulator.push_faults`,
so a test can show that pulling is the safety net.

Pushes go out only when asked (:meth:`ColisExpressSimulator.push_pending`, synchronous,
what tests call) or every ``auto_push_interval`` seconds on a background thread (demo).

Manual run: ``python -m simulators.colis_express --port 8082 --push-url URL --push-secret S``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
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
    format_at,
    listen_options,
)


def push_network(folder: Path, mapping: Path, secret_env: str) -> Path:
    """A hub network file taking this simulator's signed pushes (connector ``ce-push``),
    for the tests and benchmarks that serve a hub beside it; the secret's value is the
    caller's to put in ``secret_env``."""
    path = folder / "connectors.yaml"
    path.write_text(
        f"""
version: 1
parties:
  - {{id: colis-express, role: carrier, name: ColisExpress}}
connectors:
  - name: ce-push
    partner: colis-express
    mapping: {mapping}
    message: push
    receiver:
      type: http-push
      auth:
        scheme: hmac
        secret_env: {secret_env}
        signature_header: X-CE-Signature
        timestamp_header: X-CE-Timestamp
        tolerance: 5m
""",
        encoding="utf-8",
    )
    return path


Event = dict[str, Any]
"""An event as JSON: ``id``, ``code``, ``label``, ``at``, maybe ``location``, ``signed_by``."""

SERVICES = ("RELAY", "HOME", "WORKSHOP")
DEFAULT_LABELS = {
    "ENR": "Étiquette créée",
    "PCH": "Colis pris en charge",
    "TRI": "En cours de tri",
    "LIV_PREP": "En cours de livraison",
    "AVI": "Destinataire absent, avis de passage déposé",
    "DIS": "Disponible en point relais",
    "LIV": "Livré",
    "RET": "Retourné à l'expéditeur",
    "ANO": "Anomalie",
}
STALE_BY = 600
"""How old a stale-timestamp push claims to be: twice the hub's 5-minute tolerance."""
MAX_PICKUP_BYTES = 64 * 1024
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FR_POSTCODE = re.compile(r"\d{5}")
_ADDRESS_FIELDS = ("name", "line1", "postcode", "city", "country")
_MINIMAL_PDF = b"%PDF-1.4\n% ColisExpress simulator label\n%%EOF\n"


def sign_push(secret: str, timestamp: int | str, body: bytes) -> str:
    """``X-CE-Signature``'s value: ``sha256=`` and the hex HMAC of ``timestamp + "." + body``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers)


# -- state -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickupRequest:
    """A pickup the simulator accepted (``201``): the parsed body and the number it gave."""

    reference: str
    service: str
    sender: dict[str, Any]
    recipient: dict[str, Any]
    weight_kg: float
    tracking_number: str
    label_url: str
    body: dict[str, Any]
    raw: bytes
    received_at: float


@dataclass
class Parcel:
    """A parcel and its whole history, which ``GET …/events`` returns in recording order."""

    tracking_number: str
    reference: str
    events: list[Event] = field(default_factory=list)


@dataclass
class PushFaults:
    """Switches for the push faults of the sheet; all off by default.

    Rates are probabilities drawn from the simulator's seeded generator, so a demo with
    ``skip_rate=0.2`` loses the same pushes every run; 1.0 means every push.
    """

    delay: float = 0.0
    """Seconds to wait before each delivery (late pushes)."""
    shuffle: bool = False
    """Deliver each batch in a seeded random order (out of order)."""
    duplicate_rate: float = 0.0
    """Share of events delivered twice."""
    skip_rate: float = 0.0
    """Share of events never pushed at all (only a pull finds them)."""
    wrong_signature: bool = False
    """Sign with a key that is not the shared secret."""
    stale_timestamp: bool = False
    """Send a timestamp ten minutes old (beyond the 5-minute tolerance), correctly signed."""


@dataclass(frozen=True)
class PushAttempt:
    """One POST to the hub: what was sent and what came back (``status`` None: no answer)."""

    event_id: str
    attempt: int
    timestamp: str
    signature: str
    body: bytes
    status: int | None
    error: str | None


@dataclass
class PushRun:
    """What one :meth:`ColisExpressSimulator.push_pending` call did."""

    delivered: list[Event] = field(default_factory=list)
    dropped: list[Event] = field(default_factory=list)
    skipped: list[Event] = field(default_factory=list)
    attempts: list[PushAttempt] = field(default_factory=list)


# -- validating a pickup -----------------------------------------------------------------


class InvalidPickupError(ValueError):
    """A pickup the carrier refuses with 400; ``code`` is the sheet's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _address(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    address = body.get(key)
    if not isinstance(address, dict):
        raise InvalidPickupError("INVALID_REQUEST", f"{key} must be an object")
    for name in _ADDRESS_FIELDS:
        value = address.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidPickupError("INVALID_REQUEST", f"{key}.{name} is required")
    if "phone" in address and not isinstance(address["phone"], str):
        raise InvalidPickupError("INVALID_REQUEST", f"{key}.phone must be a string")
    if address["country"] == "FR" and not _FR_POSTCODE.fullmatch(address["postcode"]):
        raise InvalidPickupError(
            "INVALID_POSTCODE", f"{key}.postcode {address['postcode']!r} is not a French postcode"
        )
    return address


def check_pickup(body: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any], float]:
    """Service, sender, recipient and weight of a valid pickup body, else InvalidPickupError."""
    if body.get("service") not in SERVICES:
        raise InvalidPickupError("INVALID_REQUEST", f"service must be one of {', '.join(SERVICES)}")
    sender = _address(body, "from")
    recipient = _address(body, "to")
    parcel = body.get("parcel")
    weight = parcel.get("weight_kg") if isinstance(parcel, dict) else None
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        raise InvalidPickupError("INVALID_REQUEST", "parcel.weight_kg must be a positive number")
    return str(body["service"]), sender, recipient, float(weight)


# -- the simulator -----------------------------------------------------------------------


class ColisExpressSimulator(Simulator):
    """ColisExpress's API on loopback, pushing events to the hub with the sheet's faults.

    Switches: ``token`` (change it to make the hub's token wrong: 401), ``rate_limit`` (10
    per second on pulls by default; ``None`` for none), ``push_url`` / ``push_secret``
    (where and how pushes go), and :attr:`push_faults`.
    """

    def __init__(
        self,
        *,
        token: str = "ce-test-token",  # noqa: S107 - a simulator's well-known test token
        push_url: str | None = None,
        push_secret: str | None = None,
        seed: int = 0,
        clock: Clock | None = None,
        rate_limit: int | None = 10,
        rate_window: float = 1.0,
        push_retries: int = 3,
        push_backoff: float = 0.0,
        push_timeout: float = 5.0,
        push_client: httpx.Client | None = None,
        auto_push_interval: float | None = None,
        enr_on_pickup: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``push_client``: any ``httpx.Client`` (e.g. over ``httpx.MockTransport``) to reach a
        hub that is not listening on a socket; ``push_backoff`` doubles between retries;
        ``sleep`` serves the backoff and the late-push delay, so tests can record waits.
        """
        super().__init__(host=host, port=port, clock=clock)
        self._initial = (token, push_url, push_secret, seed, rate_limit)
        self._initial_pushing = (push_retries, push_backoff, push_timeout, enr_on_pickup, sleep)
        self.auto_push_interval = auto_push_interval
        self.rate_limiter = RateLimiter(rate_limit, rate_window)
        self._push_client = push_client
        self._delivery_lock = threading.Lock()
        self._auto_stop = threading.Event()
        self._auto_thread: threading.Thread | None = None
        self.reset()

    def reset(self) -> None:
        """Back to as constructed: no parcels, pickups or pushes, every fault off.

        The server keeps running, so a test suite can share one simulator and still start
        each case clean (a uvicorn shutdown costs a few tenths of a second).
        """
        token, push_url, push_secret, seed, rate_limit = self._initial
        retries, backoff, timeout, enr_on_pickup, sleep = self._initial_pushing
        with self._delivery_lock, self._lock:
            self.push_retries = retries
            self.push_backoff = backoff
            self.push_timeout = timeout
            self.enr_on_pickup = enr_on_pickup
            self.sleep = sleep
            self.token = token
            self.push_url = push_url
            self.push_secret = push_secret
            self.push_faults = PushFaults()
            self.rate_limit = rate_limit
            # Not for secrets: seeded generators make numbers, ids and faults reproducible.
            self._random = random.Random(seed)  # noqa: S311
            self._push_random = random.Random(f"{seed}:push")  # noqa: S311
            self._parcels: dict[str, Parcel] = {}
            self._by_reference: dict[str, str] = {}
            self._pickups: list[PickupRequest] = []
            self._event_ids: set[str] = set()
            self._pending: list[Event] = []
            self._delivered: list[Event] = []
            self._dropped: list[Event] = []
            self._skipped: list[Event] = []
            self._attempts: list[PushAttempt] = []
            self.clear_requests()

    # -- switches ----------------------------------------------------------------------

    @property
    def rate_limit(self) -> int | None:
        """Accepted pulls per ``rate_window`` seconds; ``None`` for no limit."""
        return self.rate_limiter.limit

    @rate_limit.setter
    def rate_limit(self, limit: int | None) -> None:
        self.rate_limiter.limit = limit
        self.rate_limiter.reset()

    # -- driving state -----------------------------------------------------------------

    def _new_tracking_number(self) -> str:
        while True:
            number = f"CE{self._random.randrange(10**9):09d}FR"
            if number not in self._parcels:
                return number

    def _new_event_id(self) -> str:
        while True:
            suffix = "".join(self._random.choice(_CROCKFORD) for _ in range(8))
            event_id = f"ev_01{suffix}"
            if event_id not in self._event_ids:
                return event_id

    def add_parcel(self, reference: str, tracking_number: str | None = None) -> str:
        """A parcel the carrier knows without a pickup having been ordered; its number."""
        with self._lock:
            if reference in self._by_reference:
                raise ValueError(f"reference {reference} already has a parcel")
            tracking_number = tracking_number or self._new_tracking_number()
            if tracking_number in self._parcels:
                raise ValueError(f"parcel {tracking_number} already exists")
            self._parcels[tracking_number] = Parcel(tracking_number, reference)
            self._by_reference[reference] = tracking_number
            return tracking_number

    def add_event(
        self,
        tracking_number: str,
        code: str,
        at: datetime | str,
        *,
        label: str | None = None,
        location: Mapping[str, str] | None = None,
        signed_by: str | None = None,
        event_id: str | None = None,
        push: bool = True,
    ) -> Event:
        """Record a tracking event (a pull sees it at once) and queue its push.

        ``push=False`` records it without ever pushing it (a missed push); an unknown code
        gets the code as label unless one is given.
        """
        with self._lock:
            parcel = self._parcels.get(tracking_number)
            if parcel is None:
                raise KeyError(f"unknown parcel {tracking_number}")
            event_id = event_id or self._new_event_id()
            if event_id in self._event_ids:
                raise ValueError(f"event id {event_id} already used")
            event: Event = {
                "id": event_id,
                "code": code,
                "label": label if label is not None else DEFAULT_LABELS.get(code, code),
                "at": format_at(at),
            }
            if location is not None:
                event["location"] = dict(location)
            if signed_by is not None:
                event["signed_by"] = signed_by
            self._event_ids.add(event_id)
            parcel.events.append(event)
            if push:
                self._pending.append(self._push_body(parcel, event))
            return dict(event)

    def queue_push(self, tracking_number: str, event_id: str) -> None:
        """Queue a push of an already recorded event: a late push, e.g. after a pull saw it."""
        with self._lock:
            parcel = self._parcels[tracking_number]
            for event in parcel.events:
                if event["id"] == event_id:
                    self._pending.append(self._push_body(parcel, event))
                    return
        raise KeyError(f"no event {event_id} on {tracking_number}")

    @staticmethod
    def _push_body(parcel: Parcel, event: Event) -> Event:
        return {
            **event,
            "tracking_number": parcel.tracking_number,
            "reference": parcel.reference,
        }

    def parcel(self, tracking_number: str) -> Parcel:
        """A copy of a parcel and its events (KeyError if unknown)."""
        with self._lock:
            parcel = self._parcels[tracking_number]
            return Parcel(parcel.tracking_number, parcel.reference, list(parcel.events))

    def tracking_number_for(self, reference: str) -> str | None:
        """The tracking number given to a reference, if any."""
        with self._lock:
            return self._by_reference.get(reference)

    @property
    def received_pickups(self) -> list[PickupRequest]:
        """Pickups accepted with 201, in arrival order (a copy; repeats are not listed)."""
        with self._lock:
            return list(self._pickups)

    @property
    def pending_pushes(self) -> list[Event]:
        """Push bodies queued and not yet attempted."""
        with self._lock:
            return list(self._pending)

    @property
    def delivered_pushes(self) -> list[Event]:
        """Push bodies the hub answered with a 2xx (a duplicate appears twice)."""
        with self._lock:
            return list(self._delivered)

    @property
    def dropped_pushes(self) -> list[Event]:
        """Push bodies given up after the last retry, as the carrier does."""
        with self._lock:
            return list(self._dropped)

    @property
    def skipped_pushes(self) -> list[Event]:
        """Push bodies never sent because of ``push_faults.skip_rate``."""
        with self._lock:
            return list(self._skipped)

    @property
    def push_attempts(self) -> list[PushAttempt]:
        """Every POST made to the hub, retries included."""
        with self._lock:
            return list(self._attempts)

    # -- pushing -----------------------------------------------------------------------

    def _plan(self, batch: list[Event], faults: PushFaults, run: PushRun) -> list[Event]:
        """Apply skip, duplicate and shuffle to a batch, from the push generator only."""
        plan: list[Event] = []
        for body in batch:
            if faults.skip_rate and self._push_random.random() < faults.skip_rate:
                run.skipped.append(body)
                continue
            plan.append(body)
            if faults.duplicate_rate and self._push_random.random() < faults.duplicate_rate:
                plan.append(body)
        if faults.shuffle:
            self._push_random.shuffle(plan)
        return plan

    def push_pending(self) -> PushRun:
        """Deliver every queued push now, in this thread, with the faults switched on.

        Each event is POSTed alone, signed; anything but a 2xx (or no answer) is retried
        ``push_retries`` times, then the event is dropped. Returns what happened.
        """
        url = self.push_url
        if url is None:
            raise RuntimeError("no push_url configured")
        run = PushRun()
        with self._delivery_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                faults = replace(self.push_faults)
                plan = self._plan(batch, faults, run)
                self._skipped.extend(run.skipped)
            client = self._push_client or httpx.Client(timeout=self.push_timeout)
            try:
                for body in plan:
                    if faults.delay:
                        self.sleep(faults.delay)
                    self._deliver(client, url, body, faults, run)
            finally:
                if client is not self._push_client:
                    client.close()
        return run

    def _deliver(
        self, client: httpx.Client, url: str, body: Event, faults: PushFaults, run: PushRun
    ) -> None:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        secret = self.push_secret or ""
        if faults.wrong_signature:
            secret = "not-" + secret
        for attempt in range(1, self.push_retries + 2):
            timestamp = str(int(self.clock()) - (STALE_BY if faults.stale_timestamp else 0))
            signature = sign_push(secret, timestamp, raw)
            headers = {
                "Content-Type": "application/json",
                "X-CE-Timestamp": timestamp,
                "X-CE-Signature": signature,
            }
            status: int | None = None
            error: str | None = None
            try:
                status = client.post(url, content=raw, headers=headers).status_code
            except httpx.HTTPError as failure:
                error = f"{type(failure).__name__}: {failure}"
            record = PushAttempt(str(body["id"]), attempt, timestamp, signature, raw, status, error)
            run.attempts.append(record)
            with self._lock:
                self._attempts.append(record)
            if status is not None and 200 <= status < 300:
                run.delivered.append(body)
                with self._lock:
                    self._delivered.append(body)
                return
            if attempt <= self.push_retries and self.push_backoff:
                self.sleep(self.push_backoff * 2 ** (attempt - 1))
        run.dropped.append(body)
        with self._lock:
            self._dropped.append(body)

    def _auto_push(self) -> None:
        interval = self.auto_push_interval or 1.0
        while not self._auto_stop.wait(interval):
            if self.push_url is not None:
                self.push_pending()

    def _serving(self) -> None:
        if self.auto_push_interval is None:
            return
        self._auto_stop.clear()
        self._auto_thread = threading.Thread(
            target=self._auto_push, name="colis-express-push", daemon=True
        )
        self._auto_thread.start()

    def _stopping(self) -> None:
        self._auto_stop.set()
        if self._auto_thread is not None:
            self._auto_thread.join(timeout=10)
            self._auto_thread = None

    # -- HTTP --------------------------------------------------------------------------

    def _unauthorised(self, request: Request) -> Response | None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        ):
            return None
        return _error(
            401, "UNAUTHORIZED", "Missing or invalid bearer token", {"WWW-Authenticate": "Bearer"}
        )

    async def _pickup_endpoint(self, request: Request) -> Response:
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        raw = await request.body()
        if len(raw) > MAX_PICKUP_BYTES:
            return _error(413, "TOO_LARGE", f"body larger than {MAX_PICKUP_BYTES} bytes")
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "INVALID_JSON", "body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "INVALID_REQUEST", "body must be a JSON object")
        reference = body.get("reference")
        if not isinstance(reference, str) or not reference.strip():
            return _error(400, "INVALID_REQUEST", "reference is required")
        with self._lock:
            known = self._by_reference.get(reference)
            if known is not None:
                return JSONResponse(
                    {"tracking_number": known, "label_url": self._label_url(request, known)}, 200
                )
        try:
            service, sender, recipient, weight = check_pickup(body)
        except InvalidPickupError as invalid:
            return _error(400, invalid.code, str(invalid))
        with self._lock:
            known = self._by_reference.get(reference)
            if known is not None:  # the same reference raced in meanwhile
                tracking_number, status = known, 200
            else:
                tracking_number, status = self.add_parcel(reference), 201
                pickup = PickupRequest(
                    reference=reference,
                    service=service,
                    sender=sender,
                    recipient=recipient,
                    weight_kg=weight,
                    tracking_number=tracking_number,
                    label_url=self._label_url(request, tracking_number),
                    body=body,
                    raw=raw,
                    received_at=self.clock(),
                )
                self._pickups.append(pickup)
                if self.enr_on_pickup:
                    at = datetime.fromtimestamp(self.clock(), UTC)
                    self.add_event(tracking_number, "ENR", at)
        label_url = self._label_url(request, tracking_number)
        return JSONResponse({"tracking_number": tracking_number, "label_url": label_url}, status)

    @staticmethod
    def _label_url(request: Request, tracking_number: str) -> str:
        return f"{str(request.base_url).rstrip('/')}/v1/labels/{tracking_number}.pdf"

    async def _events_endpoint(self, request: Request) -> Response:
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        wait = self.rate_limiter.check(self.clock())
        if wait is not None:
            return _error(429, "RATE_LIMITED", "Too many requests", {"Retry-After": str(wait)})
        tracking_number = str(request.path_params["tracking_number"])
        with self._lock:
            parcel = self._parcels.get(tracking_number)
            if parcel is None:
                return _error(404, "NOT_FOUND", f"Unknown tracking number {tracking_number}")
            content = {
                "tracking_number": parcel.tracking_number,
                "reference": parcel.reference,
                "events": [dict(event) for event in parcel.events],
            }
        return JSONResponse(content, 200)

    async def _label_endpoint(self, request: Request) -> Response:
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        with self._lock:
            known = str(request.path_params["tracking_number"]) in self._parcels
        if not known:
            return _error(404, "NOT_FOUND", "Unknown tracking number")
        return Response(_MINIMAL_PDF, 200, media_type="application/pdf")

    def build_app(self) -> ASGIApp:
        return Starlette(
            routes=[
                Route("/v1/pickups", self._pickup_endpoint, methods=["POST"]),
                Route(
                    "/v1/parcels/{tracking_number}/events", self._events_endpoint, methods=["GET"]
                ),
                Route("/v1/labels/{tracking_number}.pdf", self._label_endpoint, methods=["GET"]),
            ]
        )


def load_sheet_sample(simulator: ColisExpressSimulator) -> str:
    """The sheet's sample parcel and its three events, for a manual run or a demo."""
    tracking_number = simulator.add_parcel("ME-000123", "CE123456789FR")
    simulator.add_event(
        tracking_number,
        "PCH",
        "2026-11-02T17:31:00+01:00",
        location={"postcode": "69003", "city": "Lyon"},
    )
    simulator.add_event(
        tracking_number, "TRI", "2026-11-02T23:10:00+01:00", location={"city": "Chaponnay"}
    )
    simulator.add_event(tracking_number, "LIV", "2026-11-03T08:52:00+01:00", signed_by="DUPONT")
    return tracking_number


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulators.colis_express``: serve in the foreground for manual runs."""
    parser = foreground_parser("ColisExpress", port=8082, rate_limit=10)
    parser.add_argument("--token", default="ce-demo-token")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--push-url", help="the hub's push endpoint")
    parser.add_argument("--push-secret", help="the shared HMAC secret")
    parser.add_argument("--push-interval", type=float, default=2.0, help="seconds between pushes")
    arguments = parser.parse_args(argv)
    simulator = ColisExpressSimulator(
        token=arguments.token,
        push_url=arguments.push_url,
        push_secret=arguments.push_secret,
        seed=arguments.seed,
        auto_push_interval=arguments.push_interval if arguments.push_url else None,
        **listen_options(arguments),
    )
    if not arguments.empty:
        load_sheet_sample(simulator)
    simulator.serve_forever()


if __name__ == "__main__":
    main()
