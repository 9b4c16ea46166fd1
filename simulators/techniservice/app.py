"""TechniService simulator: the repairer's XML-over-REST API, faults included.

It follows ``docs/partners/techniservice.md``: ``X-Api-Key`` on every call, a change feed
paged by an opaque token that expires after seven days, repair orders validated against the
sheet's XSD, a 5 requests/second rate limit and maintenance windows. Tests drive its state
with :meth:`TechniServiceSimulator.add_change` and switch its faults on one by one.

Bodies it reads are parsed by expat with every DTD refused, so no entity is ever expanded
or fetched, whatever a client sends.

Manual run: ``python -m simulators.techniservice --port 8081`` (the sheet's sample changes
are loaded unless ``--empty``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import hmac
import pyexpat
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators.server import Clock, Maintenance, RateLimiter, Simulator, format_at

TS_NS = "urn:techniservice:repairs:v2"
ET.register_namespace("ts", TS_NS)

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
XML_MEDIA_TYPE = "application/xml"
MAX_ORDER_BYTES = 256 * 1024
SEVEN_DAYS = 7 * 24 * 3600.0
_TOKEN_TEXT = re.compile(r"seq=(\d{1,18})")


def _ts(name: str) -> str:
    """The qualified (Clark) name of an element in TechniService's namespace."""
    return f"{{{TS_NS}}}{name}"


# -- what a change carries ---------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """``<ts:Quote>`` (status 25). A string amount is sent as given, to test odd values."""

    amount_incl_tax: Decimal | int | str
    currency: str = "EUR"

    def amount_text(self) -> str:
        if isinstance(self.amount_incl_tax, str):
            return self.amount_incl_tax
        return str(Decimal(self.amount_incl_tax).quantize(Decimal("0.01")))


@dataclass(frozen=True)
class Visit:
    """``<ts:Visit>`` (status 12): a home visit's day and half-day slot (AM or PM)."""

    date: date | str
    slot: str
    technician: str | None = None


@dataclass(frozen=True)
class Part:
    """``<ts:Part>`` (status 30), repeatable: a part the repair is waiting for."""

    ref: str
    qty: int = 1


@dataclass(frozen=True)
class Tracking:
    """``<ts:Tracking>`` (status 60): the parcel taking the product back."""

    carrier: str
    number: str


@dataclass(frozen=True)
class Change:
    """One entry of the append-only change log, as ``GET /repairs/changes`` returns it."""

    seq: int
    repair_id: str
    order_ref: str
    code: str
    at: str
    quote: Quote | None = None
    visit: Visit | None = None
    parts: tuple[Part, ...] = ()
    tracking: Tracking | None = None
    note: str | None = None


@dataclass(frozen=True)
class ReceivedOrder:
    """A repair order the simulator accepted (``201``), field by field, with its raw body."""

    repair_id: str
    order_ref: str
    service: str
    brand: str
    model: str
    serial: str | None
    purchase_date: str | None
    warranty: str
    fault: str
    customer_name: str
    customer_phone: str | None
    customer_postcode: str
    raw: bytes
    received_at: float


@dataclass
class Repair:
    """A repair the simulator knows: from a posted order or made up by a test."""

    repair_id: str
    order_ref: str
    order: ReceivedOrder | None = None
    changes: list[Change] = field(default_factory=list)


# -- XML in and out ----------------------------------------------------------------------


class UnsafeXMLError(ValueError):
    """The body declares a DTD: refused outright, so no entity can be expanded or fetched."""


def _clark(expat_name: str) -> str:
    namespace, separator, local = expat_name.rpartition("}")
    return f"{{{namespace}}}{local}" if separator else local


def parse_xml(data: bytes) -> ET.Element:
    """Parse a request body with expat, refusing DTDs (hence entities) and oversized bodies.

    Raises :class:`UnsafeXMLError` or :class:`pyexpat.ExpatError`.
    """
    if len(data) > MAX_ORDER_BYTES:
        raise UnsafeXMLError(f"body larger than {MAX_ORDER_BYTES} bytes")
    builder = ET.TreeBuilder()
    parser = pyexpat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_dtd(*_: object) -> None:
        raise UnsafeXMLError("DTDs and entity declarations are not accepted")

    def start(name: str, attributes: dict[str, str]) -> None:
        builder.start(_clark(name), {_clark(key): value for key, value in attributes.items()})

    def end(name: str) -> None:
        builder.end(_clark(name))

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.Parse(data, True)
    return builder.close()


def _xml_response(root: ET.Element, status: int, headers: dict[str, str] | None = None) -> Response:
    ET.indent(root)
    body = XML_DECLARATION + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"
    return Response(body, status_code=status, media_type=XML_MEDIA_TYPE, headers=headers)


def _plain_error(status: int, code: str, message: str, retry_after: int | None = None) -> Response:
    """The sheet's ``<Error>`` (no namespace) for transport-level refusals: 401, 429, 503…"""
    root = ET.Element("Error", {"code": code})
    root.text = message
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    return _xml_response(root, status, headers)


def _append_details(parent: ET.Element, change: Change) -> None:
    """The elements a change carries beyond its ids and status, in the sheet's order."""
    if change.quote is not None:
        ET.SubElement(
            parent,
            _ts("Quote"),
            {"currency": change.quote.currency, "amountInclTax": change.quote.amount_text()},
        )
    if change.visit is not None:
        attributes = {"date": format_at(change.visit.date), "slot": change.visit.slot}
        if change.visit.technician is not None:
            attributes["technician"] = change.visit.technician
        ET.SubElement(parent, _ts("Visit"), attributes)
    for part in change.parts:
        ET.SubElement(parent, _ts("Part"), {"ref": part.ref, "qty": str(part.qty)})
    if change.tracking is not None:
        ET.SubElement(
            parent,
            _ts("Tracking"),
            {"carrier": change.tracking.carrier, "number": change.tracking.number},
        )
    if change.note is not None:
        ET.SubElement(parent, _ts("Note")).text = change.note


def _append_ids(parent: ET.Element, repair_id: str, order_ref: str) -> None:
    ET.SubElement(parent, _ts("RepairId")).text = repair_id
    ET.SubElement(parent, _ts("OrderRef")).text = order_ref


def render_change(parent: ET.Element, change: Change) -> None:
    """Append one ``<ts:Change>`` to a ``<ts:Changes>`` page."""
    element = ET.SubElement(parent, _ts("Change"), {"seq": str(change.seq)})
    _append_ids(element, change.repair_id, change.order_ref)
    ET.SubElement(element, _ts("Status"), {"code": change.code, "at": change.at})
    _append_details(element, change)


def render_repair(repair: Repair) -> ET.Element:
    """``<ts:Repair>``: the latest status and the latest of each detail, with a Change's shape.

    Same children as a ``<ts:Change>`` so the hub can read a resync with the same mapping.
    """
    root = ET.Element(_ts("Repair"))
    _append_ids(root, repair.repair_id, repair.order_ref)
    if not repair.changes:
        return root
    last = repair.changes[-1]
    ET.SubElement(root, _ts("Status"), {"code": last.code, "at": last.at})
    quote, visit, tracking = None, None, None
    parts: tuple[Part, ...] = ()
    for change in repair.changes:
        quote = change.quote or quote
        visit = change.visit or visit
        tracking = change.tracking or tracking
        parts = change.parts or parts
    current = Change(
        seq=last.seq,
        repair_id=repair.repair_id,
        order_ref=repair.order_ref,
        code=last.code,
        at=last.at,
        quote=quote,
        visit=visit,
        parts=parts,
        tracking=tracking,
        note=last.note,
    )
    _append_details(root, current)
    return root


# -- validating a repair order against the sheet's XSD -----------------------------------


class InvalidOrderError(ValueError):
    """A repair order the XSD would reject; ``field`` names where, as in the 422 body."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


_ORDER_SEQUENCE = ("OrderRef", "Service", "Product", "Warranty", "Fault", "Customer")
_ENUMERATIONS = {"Service": ("HOME", "WORKSHOP"), "Warranty": ("LEGAL", "COMMERCIAL", "NONE")}
_ATTRIBUTES = {
    "Product": {"brand": True, "model": True, "serial": False, "purchaseDate": False},
    "Customer": {"name": True, "phone": False, "postcode": True},
}


def _simple_text(element: ET.Element, name: str) -> str:
    if len(element) or element.attrib:
        raise InvalidOrderError(name, f"{name} takes text only")
    return element.text or ""


def _attributes(element: ET.Element, name: str) -> dict[str, str]:
    if len(element) or (element.text or "").strip():
        raise InvalidOrderError(name, f"{name} takes attributes only")
    allowed = _ATTRIBUTES[name]
    for key in element.attrib:
        if key not in allowed:
            raise InvalidOrderError(f"{name}/@{key}", f"unexpected attribute {key}")
    for key, required in allowed.items():
        if required and key not in element.attrib:
            raise InvalidOrderError(f"{name}/@{key}", f"{name}/@{key} is required")
    return dict(element.attrib)


def _is_xs_date(text: str) -> bool:
    """An ``xs:date``: a calendar date, optionally followed by Z or an offset."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\d)(Z|[+-]\d\d:\d\d)?", text)
    if match is None:
        return False
    try:
        date.fromisoformat(match.group(1))
    except ValueError:
        return False
    return True


def read_order(root: ET.Element) -> dict[str, str | None]:
    """The order's fields, checked like the XSD checks them (sequence, enumerations, dates)."""
    if root.tag != _ts("RepairOrder"):
        raise InvalidOrderError("RepairOrder", f"root element must be ts:RepairOrder in {TS_NS}")
    children = list(root)
    fields: dict[str, str | None] = {}
    for position, name in enumerate(_ORDER_SEQUENCE):
        if position >= len(children) or children[position].tag != _ts(name):
            raise InvalidOrderError(name, f"{name} is missing or out of order")
        element = children[position]
        if name in _ATTRIBUTES:
            for key, value in _attributes(element, name).items():
                fields[f"{name}/@{key}"] = value
        else:
            text = _simple_text(element, name)
            allowed = _ENUMERATIONS.get(name)
            if allowed is not None and text not in allowed:
                raise InvalidOrderError(name, f"{name} must be one of {', '.join(allowed)}")
            fields[name] = text
    if len(children) > len(_ORDER_SEQUENCE):
        extra = children[len(_ORDER_SEQUENCE)].tag
        raise InvalidOrderError(extra.rpartition("}")[2], f"unexpected element {extra}")
    if not (fields["OrderRef"] or "").strip():
        raise InvalidOrderError("OrderRef", "OrderRef must not be empty")
    purchase = fields.get("Product/@purchaseDate")
    if purchase is not None and not _is_xs_date(purchase):
        raise InvalidOrderError("Product/@purchaseDate", "purchaseDate must be a date (YYYY-MM-DD)")
    return fields


# -- the simulator -----------------------------------------------------------------------


def encode_token(seq: int) -> str:
    """``base64("seq=N")`` like the sheet's sample; clients must treat it as opaque."""
    return base64.b64encode(f"seq={seq}".encode("ascii")).decode("ascii")


def decode_token(token: str) -> int | None:
    """The seq a token stands for, or ``None`` if it is not one of ours."""
    try:
        text = base64.b64decode(token.encode("ascii"), validate=True).decode("ascii")
    except (binascii.Error, UnicodeError):
        return None
    match = _TOKEN_TEXT.fullmatch(text)
    return int(match.group(1)) if match else None


class TechniServiceSimulator(Simulator):
    """TechniService's API on loopback, with its faults behind switches.

    Fault switches (all off unless said):

    - ``api_key``: change it to make the hub's key wrong (401 with ``<Error>``).
    - ``rate_limit`` / ``rate_window``: 5 requests per second by default (429 and
      Retry-After); ``None`` turns it off.
    - :meth:`start_maintenance` / :meth:`end_maintenance`: 503 with Retry-After.
    - ``duplicate_at_page_boundary``: each page fetched with a token starts with the last
      change of the previous page again (same ``seq``), within ``page_size`` (a page of
      one then carries the repeat and one new change).
    - :meth:`expire_tokens`, or move the clock past ``token_ttl``: 410 Gone.
    """

    path_prefix = "/api/v2"

    def __init__(
        self,
        *,
        api_key: str = "ts-test-key",
        seed: int = 0,
        clock: Clock | None = None,
        page_size: int = 200,
        rate_limit: int | None = 5,
        rate_window: float = 1.0,
        token_ttl: float = SEVEN_DAYS,
        first_seq: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._initial = (api_key, seed, page_size, rate_limit, token_ttl, first_seq)
        self.rate_limiter = RateLimiter(rate_limit, rate_window)
        self.maintenance = Maintenance()
        self.reset()

    def reset(self) -> None:
        """Back to as constructed: no repairs, changes or tokens, every fault off.

        The server keeps running, so a test suite can share one simulator and still start
        each case clean (a uvicorn shutdown costs a few tenths of a second).
        """
        api_key, seed, page_size, rate_limit, token_ttl, first_seq = self._initial
        with self._lock:
            self.api_key = api_key
            self.page_size = page_size
            self.token_ttl = token_ttl
            self.duplicate_at_page_boundary = False
            self.rate_limit = rate_limit
            self.maintenance.end()
            # Not for secrets: a seeded generator makes ids reproducible from run to run.
            self._random = random.Random(seed)  # noqa: S311
            self._next_repair_number = self._random.randrange(10_000, 90_000)
            self._next_seq = first_seq
            self._changes: list[Change] = []
            self._seqs: list[int] = []
            self._repairs: dict[str, Repair] = {}
            self._by_order_ref: dict[str, str] = {}
            self._orders: list[ReceivedOrder] = []
            self._tokens: dict[str, float] = {}
            self.clear_requests()

    # -- fault switches ----------------------------------------------------------------

    @property
    def rate_limit(self) -> int | None:
        """Accepted requests per ``rate_window`` seconds; ``None`` for no limit."""
        return self.rate_limiter.limit

    @rate_limit.setter
    def rate_limit(self, limit: int | None) -> None:
        self.rate_limiter.limit = limit
        self.rate_limiter.reset()

    def start_maintenance(
        self,
        *,
        requests: int | None = None,
        seconds: float | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer 503 to the next ``requests`` calls and/or for ``seconds`` on the clock.

        Retry-After announces ``retry_after`` if given, else what is left of the span, else 1.
        """
        self.maintenance.start(
            self.clock(), requests=requests, seconds=seconds, retry_after=retry_after
        )

    def end_maintenance(self) -> None:
        """Back in service at once."""
        self.maintenance.end()

    def expire_tokens(self) -> None:
        """Make every token issued so far answer 410 Gone, as if seven days had passed."""
        with self._lock:
            self._tokens.clear()

    # -- driving state -----------------------------------------------------------------

    def _new_repair_id(self) -> str:
        while True:
            repair_id = f"TS-{self._next_repair_number}"
            self._next_repair_number += 1
            if repair_id not in self._repairs:
                return repair_id

    def add_repair(self, order_ref: str, repair_id: str | None = None) -> str:
        """Make TechniService know a repair without an order having been posted."""
        with self._lock:
            if order_ref in self._by_order_ref:
                raise ValueError(f"OrderRef {order_ref} already has a repair")
            repair_id = repair_id or self._new_repair_id()
            if repair_id in self._repairs:
                raise ValueError(f"repair {repair_id} already exists")
            self._repairs[repair_id] = Repair(repair_id, order_ref)
            self._by_order_ref[order_ref] = repair_id
            return repair_id

    def add_change(
        self,
        repair_id: str,
        order_ref: str | None,
        code: int | str,
        at: datetime | str,
        *,
        quote: Quote | None = None,
        visit: Visit | None = None,
        parts: Sequence[Part] = (),
        tracking: Tracking | None = None,
        note: str | None = None,
    ) -> Change:
        """Append a status change to the log (the repair is created if new) and return it.

        ``order_ref`` may be ``None`` for a repair the simulator already knows.
        """
        with self._lock:
            repair = self._repairs.get(repair_id)
            if repair is None:
                if order_ref is None:
                    raise ValueError(f"unknown repair {repair_id}: give its order_ref")
                self.add_repair(order_ref, repair_id)
                repair = self._repairs[repair_id]
            elif order_ref is not None and order_ref != repair.order_ref:
                raise ValueError(f"{repair_id} belongs to {repair.order_ref}, not {order_ref}")
            change = Change(
                seq=self._next_seq,
                repair_id=repair_id,
                order_ref=repair.order_ref,
                code=str(code),
                at=format_at(at),
                quote=quote,
                visit=visit,
                parts=tuple(parts),
                tracking=tracking,
                note=note,
            )
            self._next_seq += 1
            self._changes.append(change)
            self._seqs.append(change.seq)
            repair.changes.append(change)
            return change

    def repair_id_for(self, order_ref: str) -> str | None:
        """The RepairId TechniService gave an order, if any."""
        with self._lock:
            return self._by_order_ref.get(order_ref)

    def repair(self, repair_id: str) -> Repair:
        """A copy of a repair's record (raises KeyError if unknown)."""
        with self._lock:
            repair = self._repairs[repair_id]
            return Repair(repair.repair_id, repair.order_ref, repair.order, list(repair.changes))

    @property
    def changes(self) -> list[Change]:
        """The whole change log, oldest first (a copy)."""
        with self._lock:
            return list(self._changes)

    @property
    def received_orders(self) -> list[ReceivedOrder]:
        """Orders accepted with 201, in arrival order (a copy)."""
        with self._lock:
            return list(self._orders)

    # -- HTTP --------------------------------------------------------------------------

    def _gate(self, request: Request) -> Response | None:
        """What every call goes through first: maintenance, then the key, then the rate."""
        now = self.clock()
        wait = self.maintenance.check(now)
        if wait is not None:
            return _plain_error(503, "MAINTENANCE", "Service under maintenance", wait)
        given = request.headers.get("x-api-key", "")
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            return _plain_error(401, "UNAUTHORIZED", "Missing or invalid X-Api-Key")
        wait = self.rate_limiter.check(now)
        if wait is not None:
            return _plain_error(429, "RATE_LIMITED", "Too many requests", wait)
        return None

    def _page(self, since: str | None) -> Response:
        now = self.clock()
        with self._lock:
            after = 0
            if since is not None:
                seq = decode_token(since)
                if seq is None:
                    return _plain_error(400, "BAD_TOKEN", "Unreadable since token")
                issued = self._tokens.get(since)
                if issued is None or now - issued > self.token_ttl:
                    return _plain_error(410, "TOKEN_EXPIRED", "Token expired: resynchronise")
                after = seq
            start = bisect.bisect_right(self._seqs, after)
            page: list[Change] = []
            # The fault repeats the boundary change only on a page that has news: an idle
            # poll stays empty, as a client looping on `more` would expect.
            boundary = since is not None and 0 < start < len(self._changes)
            if boundary and self.duplicate_at_page_boundary:
                previous = self._changes[start - 1]
                if previous.seq == after:
                    page.append(previous)
            room = max(self.page_size - len(page), 1)
            page.extend(self._changes[start : start + room])
            last_seq = page[-1].seq if page else after
            more = bisect.bisect_right(self._seqs, last_seq) < len(self._seqs)
            token = encode_token(last_seq)
            self._tokens[token] = now
        root = ET.Element(_ts("Changes"), {"next": token, "more": "true" if more else "false"})
        for change in page:
            render_change(root, change)
        return _xml_response(root, 200)

    async def _changes_endpoint(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        return self._page(request.query_params.get("since"))

    async def _repair_endpoint(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        repair_id = str(request.path_params["repair_id"])
        with self._lock:
            repair = self._repairs.get(repair_id)
            if repair is None:
                return _plain_error(404, "NOT_FOUND", f"No repair {repair_id}")
            root = render_repair(repair)
        return _xml_response(root, 200)

    async def _order_endpoint(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        raw = await request.body()
        try:
            fields = read_order(parse_xml(raw))
        except (UnsafeXMLError, pyexpat.ExpatError) as error:
            return _plain_error(400, "MALFORMED", f"Not a well-formed, DTD-free document: {error}")
        except InvalidOrderError as error:
            body = ET.Element(_ts("Error"), {"field": error.field})
            body.text = str(error)
            return _xml_response(body, 422)
        order_ref = fields["OrderRef"] or ""
        with self._lock:
            existing = self._by_order_ref.get(order_ref)
            if existing is None:
                repair_id = self.add_repair(order_ref)
                order = self._received(repair_id, fields, raw)
                self._repairs[repair_id].order = order
                self._orders.append(order)
        if existing is not None:
            conflict = ET.Element(_ts("Conflict"))
            ET.SubElement(conflict, _ts("RepairId")).text = existing
            ET.SubElement(conflict, _ts("Message")).text = f"OrderRef {order_ref} already exists"
            return _xml_response(conflict, 409)
        created = ET.Element(_ts("Created"))
        ET.SubElement(created, _ts("RepairId")).text = order.repair_id
        location = f"{self.path_prefix}/repairs/{order.repair_id}"
        return _xml_response(created, 201, {"Location": location})

    def _received(self, repair_id: str, fields: dict[str, str | None], raw: bytes) -> ReceivedOrder:
        return ReceivedOrder(
            repair_id=repair_id,
            order_ref=fields["OrderRef"] or "",
            service=fields["Service"] or "",
            brand=fields["Product/@brand"] or "",
            model=fields["Product/@model"] or "",
            serial=fields.get("Product/@serial"),
            purchase_date=fields.get("Product/@purchaseDate"),
            warranty=fields["Warranty"] or "",
            fault=fields["Fault"] or "",
            customer_name=fields["Customer/@name"] or "",
            customer_phone=fields.get("Customer/@phone"),
            customer_postcode=fields["Customer/@postcode"] or "",
            raw=raw,
            received_at=self.clock(),
        )

    def build_app(self) -> ASGIApp:
        prefix = self.path_prefix
        return Starlette(
            routes=[
                Route(f"{prefix}/repairs/changes", self._changes_endpoint, methods=["GET"]),
                Route(f"{prefix}/repairs/{{repair_id}}", self._repair_endpoint, methods=["GET"]),
                Route(f"{prefix}/repairs", self._order_endpoint, methods=["POST"]),
            ]
        )


def load_sheet_sample(simulator: TechniServiceSimulator) -> None:
    """The two changes of the sheet's sample, for a manual run or a demo."""
    simulator.add_change(
        "TS-88120",
        "BM-000045",
        25,
        "2026-11-03T10:41:00+01:00",
        quote=Quote(Decimal("212.00")),
        note="Compresseur à remplacer",
    )
    simulator.add_change(
        "TS-88121",
        "ME-000130",
        12,
        "2026-11-03T10:45:00+01:00",
        visit=Visit("2026-11-05", "AM", "T-041"),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simulators.techniservice``: serve in the foreground for manual runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--api-key", default="ts-demo-key")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--rate-limit", type=int, default=5, help="requests/second; 0 for none")
    parser.add_argument("--empty", action="store_true", help="start without the sheet's sample")
    arguments = parser.parse_args(argv)
    simulator = TechniServiceSimulator(
        api_key=arguments.api_key,
        seed=arguments.seed,
        page_size=arguments.page_size,
        rate_limit=arguments.rate_limit or None,
        first_seq=4411,
        host=arguments.host,
        port=arguments.port,
    )
    if not arguments.empty:
        load_sheet_sample(simulator)
    simulator.serve_forever()


if __name__ == "__main__":
    main()
