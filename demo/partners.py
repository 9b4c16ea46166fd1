"""The partners' simulated behaviour: each reacts to what the hub sent it, as its sheet says.

Every round, each partner looks at what it holds (the repair orders in its SFTP folder or
posted to its API, the purchase orders on its server, the pickups it was asked for) and
reports the next step of each piece of work in its own format: Atelier Dupont writes a
Latin-1 status export on its SFTP server, TechniService appends to its change feed,
PiècesPlus writes answer files, ColisExpress records tracking events and pushes them,
signed. What happens is the story's (demo.story); when it happens depends on the world:
a workshop cannot receive a parcel the carrier has not delivered, nor repair without the
part the supplier has not delivered.
"""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path as FilePath

from demo.story import PARIS, DemoCase, PartAnswer, Path, Step
from simulators.colis_express import ColisExpressSimulator, PushFaults
from simulators.sftp import SftpServer
from simulators.techniservice import (
    Part,
    Quote,
    TechniServiceSimulator,
    Tracking,
    Visit,
    parse_xml,
)

CARRIER_OFFSET = timedelta(minutes=5)
REPAIRER_OFFSET = timedelta(minutes=40)
SUPPLIER_OFFSET = timedelta(minutes=20)
"""Within a round the carrier moves first, then the supplier, then the repairers, so a
step that follows another in the world also follows it in time."""

PUSH_FAULTS = PushFaults(skip_rate=0.15, duplicate_rate=0.1)
"""Best-effort pushes, as the carrier's sheet warns: some never come, some come twice."""

_PP_NS = "http://schemas.piecesplus.example/po/1"


@dataclass(frozen=True)
class BadRow:
    """A line of a partner file that the hub must reject, and why the story broke it."""

    file: str
    line: int
    why: str


# -- the carrier -------------------------------------------------------------------------


_INBOUND_CODES = ("ENR", "PCH", "TRI", "LIV")
_LOST_CODES = ("ENR", "PCH", "ANO")
_LABELS = {"ANO": "Anomalie : colis perdu au centre de tri"}


class Carrier:
    """ColisExpress: every pickup it accepted travels (or gets lost), one scan a round."""

    def __init__(self, simulator: ColisExpressSimulator, cases: dict[str, DemoCase]) -> None:
        self.simulator = simulator
        self.cases = cases
        self._scans: dict[str, int] = {}
        simulator.push_faults = PUSH_FAULTS

    def _codes(self, reference: str) -> tuple[str, ...]:
        case = self.cases.get(reference)
        if case is not None and case.path is Path.LOST_PARCEL:
            return _LOST_CODES
        return _INBOUND_CODES

    def act(self, now: datetime) -> int:
        moved = 0
        for pickup in self.simulator.received_pickups:
            codes = self._codes(pickup.reference)
            done = self._scans.get(pickup.reference, 0)
            if done >= len(codes):
                continue
            code = codes[done]
            self.simulator.add_event(
                pickup.tracking_number, code, now + CARRIER_OFFSET, label=_LABELS.get(code)
            )
            self._scans[pickup.reference] = done + 1
            moved += 1
        if self.simulator.push_url is not None:
            self.simulator.push_pending()
        return moved

    def scanned(self, reference: str, code: str) -> bool:
        """Whether the parcel of ``reference`` has had this scan (the world's truth)."""
        codes = self._codes(reference)
        done = self._scans.get(reference, 0)
        return code in codes[:done]

    def tracking_number(self, reference: str) -> str | None:
        return self.simulator.tracking_number_for(reference)


# -- the parts supplier ------------------------------------------------------------------


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
        _write_then_rename(
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

    def delivered(self, case_ref: str) -> bool:
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


def _write_then_rename(final: FilePath, content: bytes, suffix: str) -> None:
    """As the partners' software does: a temporary name, then the final one."""
    partial = final.with_name(final.name + suffix)
    partial.write_bytes(content)
    partial.rename(final)


# -- the repairers -----------------------------------------------------------------------


class Repairer(ABC):
    """A repairer working through the repair orders it received, one step a round.

    A step waits for the world: the product must have arrived (workshop), the part must
    have been delivered (after waiting for parts), the parcel back must have been
    picked up (before reporting it shipped).
    """

    def __init__(
        self, cases: dict[str, DemoCase], carrier: Carrier, supplier: PartsSupplier
    ) -> None:
        self.cases = cases
        self.carrier = carrier
        self.supplier = supplier
        self._done: dict[str, int] = {}

    @abstractmethod
    def orders(self) -> list[str]:
        """The case references of the repair orders received so far, in arrival order."""

    @abstractmethod
    def held(self) -> Counter[str]:
        """Each case reference as many times as its repair order was received."""

    def _ready(self, case: DemoCase, step: Step, previous: Step | None) -> bool:
        if previous is None and case.service == "workshop_repair":
            return self.carrier.scanned(case.reference, "LIV")
        if previous is Step.WAITING_PARTS:
            return self.supplier.delivered(case.reference)
        if step is Step.SHIPPED_BACK:
            return self.carrier.scanned(f"{case.reference}-R", "PCH")
        return True

    def next_steps(self) -> list[tuple[DemoCase, Step]]:
        """The step each case can take now, marked as taken."""
        due = []
        for reference in dict.fromkeys(self.orders()):
            case = self.cases.get(reference)
            if case is None:
                continue
            done = self._done.get(reference, 0)
            if done >= len(case.steps):
                continue
            previous = case.steps[done - 1] if done else None
            step = case.steps[done]
            if self._ready(case, step, previous):
                self._done[reference] = done + 1
                due.append((case, step))
        return due


_WORKSHOP_CODES = {
    Step.RECEIVED: ("REC", "Reçu atelier"),
    Step.DIAGNOSING: ("DIA", "Diagnostic en cours"),
    Step.QUOTE: ("DEV", "Devis émis"),
    Step.QUOTE_ACCEPTED: ("ACC", "Devis accepté"),
    Step.QUOTE_DECLINED: ("REF", "Devis refusé"),
    Step.WAITING_PARTS: ("ATP", "Attente pièce"),
    Step.IN_REPAIR: ("REP", "En réparation"),
    Step.REPAIRED: ("TER", "Réparation terminée"),
    Step.NOT_REPAIRABLE: ("IRR", "Irréparable"),
    Step.SHIPPED_BACK: ("EXP", "Expédié"),
}
WORKSHOP_HEADER = (
    "N° dossier",
    "Réf. client",
    "Date statut",
    "Heure",
    "Code statut",
    "Libellé",
    "Commentaire",
    "N° série",
    "Montant devis TTC",
    "Réf. pièce",
)


class Workshop(Repairer):
    """Atelier Dupont: repair-order files in /in, a status export in /out each round.

    As its sheet says: Latin-1, `;`, CRLF, `dd/mm/yyyy` and `HH:MM` in Paris time, and
    each export re-sends the lines of the previous one. Once, the export comes out with
    broken lines (a missing column, an impossible date, a stray quote); the next export
    re-sends them whole, so the hub rejects exactly those lines and loses nothing.
    """

    def __init__(
        self,
        server: SftpServer,
        cases: dict[str, DemoCase],
        carrier: Carrier,
        supplier: PartsSupplier,
    ) -> None:
        super().__init__(cases, carrier, supplier)
        self.server = server
        self.received: list[str] = []
        self._files_read: set[str] = set()
        self._previous: list[list[str]] = []
        self.bad_rows: list[BadRow] = []
        self.exports = 0

    def _read_orders(self) -> None:
        for path in sorted(self.server.path("/in").glob("ORDRES_*.csv")):
            if path.name in self._files_read:
                continue
            self._files_read.add(path.name)
            text = path.read_bytes().decode("latin-1")
            for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=";"):
                self.received.append(row["Réf. client"])

    def orders(self) -> list[str]:
        self._read_orders()
        return list(self.received)

    def held(self) -> Counter[str]:
        self._read_orders()
        return Counter(self.received)

    def _row(self, case: DemoCase, step: Step, at: datetime) -> list[str]:
        code, label = _WORKSHOP_CODES[step]
        local = at.astimezone(PARIS)
        serial = case.document()["product"]["serial_number"]
        comment = "Carte mère HS; remplacement conseillé" if step is Step.QUOTE else ""
        return [
            f"AD-2026-{4600 + case.index:06d}",
            case.reference,
            local.strftime("%d/%m/%Y"),
            local.strftime("%H:%M"),
            code,
            label,
            comment,
            serial,
            case.quote_amount.replace(".", ",") if step is Step.QUOTE else "",
            case.part_sku if step is Step.WAITING_PARTS else "",
        ]

    def act(self, now: datetime) -> int:
        at = now + REPAIRER_OFFSET
        rows = [self._row(case, step, at) for case, step in self.next_steps()]
        if not rows and not self._previous:
            return 0
        resent, self._previous = self._previous, rows
        name = f"STATUTS_{at.astimezone(PARIS):%Y%m%d_%H%M}.csv"
        lines = [_csv_line(WORKSHOP_HEADER)] + [_csv_line(row) for row in resent]
        if len(rows) >= 3 and not self.bad_rows:
            lines += self._broken(name, rows, first_line=len(lines) + 1)
        else:
            lines += [_csv_line(row) for row in rows]
        self.exports += 1
        content = "".join(lines).encode("latin-1")
        _write_then_rename(self.server.path("/out") / name, content, ".tmp")
        return len(rows)

    def _broken(self, name: str, rows: list[list[str]], first_line: int) -> list[str]:
        """The export with its first three new lines broken, as a faulty export writes them."""
        short = rows[0][:6] + rows[0][7:]  # the comment column left out
        impossible = [*rows[1][:2], "31/02/2026", *rows[1][3:]]
        quoted = [*rows[2][:6], '"Urgent" selon client', *rows[2][7:]]
        broken = [";".join(short) + "\r\n", _csv_line(impossible), ";".join(quoted) + "\r\n"]
        why = ("a column missing", "an impossible date", "text after a closing quote")
        self.bad_rows = [BadRow(name, first_line + n, reason) for n, reason in enumerate(why)]
        return broken + [_csv_line(row) for row in rows[3:]]


def _csv_line(fields: list[str] | tuple[str, ...]) -> str:
    """One line the way the workshop writes it: quoted only when a field holds `;`."""
    return ";".join(f'"{f}"' if ";" in f else f for f in fields) + "\r\n"


_TECHNISERVICE_CODES = {
    Step.RECEIVED: "10",
    Step.VISIT_SCHEDULED: "12",
    Step.ON_SITE: "14",
    Step.DIAGNOSING: "20",
    Step.QUOTE: "25",
    Step.QUOTE_ACCEPTED: "27",
    Step.QUOTE_DECLINED: "28",
    Step.WAITING_PARTS: "30",
    Step.IN_REPAIR: "40",
    Step.REPAIRED: "50",
    Step.NOT_REPAIRABLE: "55",
    Step.SHIPPED_BACK: "60",
    Step.HOME_DONE: "70",
}


class RepairNetwork(Repairer):
    """TechniService: the orders posted to its API, each step a change in its feed."""

    def __init__(
        self,
        simulator: TechniServiceSimulator,
        cases: dict[str, DemoCase],
        carrier: Carrier,
        supplier: PartsSupplier,
    ) -> None:
        super().__init__(cases, carrier, supplier)
        self.simulator = simulator

    def orders(self) -> list[str]:
        return [order.order_ref for order in self.simulator.received_orders]

    def held(self) -> Counter[str]:
        return Counter(self.orders())

    def act(self, now: datetime) -> int:
        at = (now + REPAIRER_OFFSET).astimezone(PARIS)
        steps = self.next_steps()
        for case, step in steps:
            repair_id = self.simulator.repair_id_for(case.reference)
            assert repair_id is not None, "a repair this simulator was given has an id"
            tracking = None
            if step is Step.SHIPPED_BACK:
                number = self.carrier.tracking_number(f"{case.reference}-R")
                tracking = Tracking("ColisExpress", number) if number else None
            self.simulator.add_change(
                repair_id,
                None,
                _TECHNISERVICE_CODES[step],
                at,
                quote=Quote(case.quote_amount) if step is Step.QUOTE else None,
                visit=(
                    Visit((at + timedelta(days=2)).date(), "AM", "T-041")
                    if step is Step.VISIT_SCHEDULED
                    else None
                ),
                parts=[Part(case.part_sku, 1)] if step is Step.WAITING_PARTS else (),
                tracking=tracking,
            )
        return len(steps)


@dataclass
class Partners:
    """Every simulated partner, in the order they act within a round."""

    carrier: Carrier
    supplier: PartsSupplier
    workshop: Workshop
    repair_network: RepairNetwork
    activity: list[int] = field(default_factory=list)

    def waiting_until(self) -> datetime | None:
        """The story's next date, when nothing else can happen before it."""
        return self.supplier.waiting_until()

    def act(self, now: datetime) -> int:
        """One round of the partners' work; how many things they reported."""
        done = self.carrier.act(now)
        done += self.supplier.act(now)
        done += self.workshop.act(now)
        done += self.repair_network.act(now)
        self.activity.append(done)
        return done
