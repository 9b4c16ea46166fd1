"""PiècesPlus, simulated: reads the purchase orders on its SFTP server and answers each,
one event a round, in answer files.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from demo.partners.common import (
    SUPPLIER_OFFSET,
    write_then_rename,
)
from demo.story import PARIS, DemoCase, PartAnswer
from simulators.sftp import SftpServer
from simulators.techniservice.documents import parse_xml

_PP_NS = "http://schemas.piecesplus.example/po/1"


_ANSWERS = {
    PartAnswer.SHIPPED: ("ACK", "SHIPPED", "DELIVERED"),
    PartAnswer.BACKORDERED: ("ACK", "BACKORDER", "SHIPPED", "DELIVERED"),
    PartAnswer.OBSOLETE: ("CANCELLED",),
}


BACKORDER_DELAY = timedelta(days=6)
"""How long a backordered part takes: longer than the contracts allow (Gold two business
days, Silver three), so the service levels have a breach to show."""


@dataclass
class PurchaseOrder:
    order_id: str
    case_ref: str
    lines: list[str]
    answered: int = 0
    not_before: datetime | None = None
    """A backordered part ships when it is back in stock, not before."""


class PartsSupplier:
    """PiècesPlus: reads the orders on its server and answers each, one event a round."""

    def __init__(self, server: SftpServer, cases: dict[str, DemoCase]) -> None:
        self.server = server
        self.cases = cases
        self.orders: dict[str, PurchaseOrder] = {}
        self.files_read: set[str] = set()
        self.received: Counter[str] = Counter()
        """Order ids, once per order file found on the server."""
        self._files_written = 0

    def _read_orders(self) -> None:
        for path in sorted(self.server.path("/orders/in").glob("PO_*.xml")):
            if path.name in self.files_read:
                continue
            self.files_read.add(path.name)
            root = parse_xml(path.read_bytes())
            case_ref = root.findtext(f"{{{_PP_NS}}}CaseRef") or ""
            lines = [line.get("no", "1") for line in root.iter(f"{{{_PP_NS}}}Line")]
            order_id = root.get("id", "")
            self.received[order_id] += 1
            self.orders.setdefault(order_id, PurchaseOrder(order_id, case_ref, lines))

    def act(self, now: datetime) -> int:
        self._read_orders()
        at = (now + SUPPLIER_OFFSET).astimezone(PARIS)
        rows: list[list[str]] = []
        for order in self.orders.values():
            events = self._answers(order)
            if order.answered >= len(events):
                continue
            if order.not_before is not None and now < order.not_before:
                continue
            event = events[order.answered]
            order.answered += 1
            if event == "BACKORDER":
                order.not_before = now + BACKORDER_DELAY
            when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            eta = (at + BACKORDER_DELAY).date().isoformat() if event == "BACKORDER" else ""
            carrier = "ColisExpress" if event == "SHIPPED" else ""
            tracking = f"CE7{order.order_id[-8:]}FR" if event == "SHIPPED" else ""
            reason = "REF_OBSOLETE" if event == "CANCELLED" else ""
            for line in order.lines:
                rows.append([order.order_id, line, event, when, eta, carrier, tracking, reason])
        if rows:
            self._write_answers(at, rows)
        return len(rows)

    def _write_answers(self, at: datetime, rows: list[list[str]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            ["order_id", "line_no", "event", "event_time", "eta", "carrier", "tracking", "reason"]
        )
        writer.writerows(rows)
        self._files_written += 1
        name = f"ANS_{at.astimezone(UTC):%Y%m%d%H%M%S}_{self._files_written}.csv"
        write_then_rename(
            self.server.path("/orders/out") / name, buffer.getvalue().encode("utf-8-sig"), ".part"
        )

    def waiting_until(self) -> datetime | None:
        """When the next backordered part comes back in stock, if one is awaited."""
        dates = [
            order.not_before
            for order in self.orders.values()
            if order.not_before is not None and order.answered < len(self._answers(order))
        ]
        return min(dates) if dates else None

    def part_delivered(self, case_ref: str) -> bool:
        """Whether a part ordered for the case has reached the repairer."""
        return any(
            order.case_ref == case_ref and self._last_answer(order) == "DELIVERED"
            for order in self.orders.values()
        )

    def _answers(self, order: PurchaseOrder) -> tuple[str, ...]:
        """The answers the story gives this order, in order."""
        case = self.cases.get(order.case_ref)
        return _ANSWERS[(case.part_answer if case is not None else None) or PartAnswer.SHIPPED]

    def _last_answer(self, order: PurchaseOrder) -> str | None:
        return self._answers(order)[order.answered - 1] if order.answered else None

    def held(self) -> Counter[str]:
        """Every purchase order on the server, by the id written in it."""
        return Counter(self.received)
