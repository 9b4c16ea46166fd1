"""TechniService's HTTP API: the change feed, a repair's current state and the repair
orders posted to it, over the simulated repairs and behind the fault switches."""

from __future__ import annotations

import bisect
import pyexpat
import xml.etree.ElementTree as ET
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from simulators.server import Clock, Maintenance, RateLimiter
from simulators.techniservice.documents import (
    InvalidOrderError,
    UnsafeXMLError,
    parse_xml,
    plain_error,
    read_order,
    render_change,
    render_repair,
    ts,
    xml_response,
)
from simulators.techniservice.faults import SEVEN_DAYS, FaultSwitches
from simulators.techniservice.repairs import (
    Change,
    Quote,
    ReceivedOrder,
    Visit,
    decode_token,
    encode_token,
)


class TechniServiceSimulator(FaultSwitches):
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
            self._reset_faults(api_key, page_size, rate_limit, token_ttl)
            self._reset_log(seed, first_seq)
            self.clear_requests()

    def _page(self, since: str | None) -> Response:
        now = self.clock()
        with self._lock:
            after = 0
            if since is not None:
                seq = decode_token(since)
                if seq is None:
                    return plain_error(400, "BAD_TOKEN", "Unreadable since token")
                issued = self._tokens.get(since)
                if issued is None or now - issued > self.token_ttl:
                    return plain_error(410, "TOKEN_EXPIRED", "Token expired: resynchronise")
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
        root = ET.Element(ts("Changes"), {"next": token, "more": "true" if more else "false"})
        for change in page:
            render_change(root, change)
        return xml_response(root, 200)

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
                return plain_error(404, "NOT_FOUND", f"No repair {repair_id}")
            root = render_repair(repair)
        return xml_response(root, 200)

    async def _order_endpoint(self, request: Request) -> Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        raw = await request.body()
        try:
            fields = read_order(parse_xml(raw))
        except (UnsafeXMLError, pyexpat.ExpatError) as error:
            return plain_error(400, "MALFORMED", f"Not a well-formed, DTD-free document: {error}")
        except InvalidOrderError as error:
            body = ET.Element(ts("Error"), {"field": error.field})
            body.text = str(error)
            return xml_response(body, 422)
        order_ref = fields["OrderRef"] or ""
        with self._lock:
            existing = self._by_order_ref.get(order_ref)
            if existing is None:
                repair_id = self.add_repair(order_ref)
                order = self._received(repair_id, fields, raw)
                self._repairs[repair_id].order = order
                self._orders.append(order)
        if existing is not None:
            conflict = ET.Element(ts("Conflict"))
            ET.SubElement(conflict, ts("RepairId")).text = existing
            ET.SubElement(conflict, ts("Message")).text = f"OrderRef {order_ref} already exists"
            return xml_response(conflict, 409)
        created = ET.Element(ts("Created"))
        ET.SubElement(created, ts("RepairId")).text = order.repair_id
        location = f"{self.path_prefix}/repairs/{order.repair_id}"
        return xml_response(created, 201, {"Location": location})

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
