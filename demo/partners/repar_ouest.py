"""Répar'Ouest, simulated: the bulky goods' workshops. The repair orders the hub put in
``/entree/``, each step a ``02`` record of a fixed-width status file in ``/sortie/``,
numbered and completed by its ``.done`` marker (simulators.repar_ouest).

Once in the story each of the sheet's faults: a file caught half written (its marker
comes the next round: the hub must not read it before), a file whose trailer does not
add up (refused whole; its records come again, corrected, under the next number), and
a lost file (a number skipped: the hub flags the gap). The demo expects exactly that
reject and that warning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from demo.partners.common import REPAIRER_OFFSET, BadRow
from demo.partners.repairer import Repairer
from demo.partners.world import World
from demo.story import PARIS, DemoCase, Step
from simulators.repar_ouest import PartUsed, ReparOuestSimulator, StatusLine
from simulators.sftp import SftpServer

_CODES = {
    Step.RECEIVED: "RECU",
    Step.DIAGNOSING: "DIAG",
    Step.QUOTE: "DEVI",
    Step.QUOTE_ACCEPTED: "DVOK",
    Step.QUOTE_DECLINED: "DVKO",
    Step.WAITING_PARTS: "ATPC",
    Step.IN_REPAIR: "REPA",
    Step.REPAIRED: "TERM",
    Step.NOT_REPAIRABLE: "IREP",
    Step.SHIPPED_BACK: "EXPE",
}


@dataclass(frozen=True)
class FileWarning:
    """A warning the hub must raise about one of the partner's files."""

    file: str
    kind: str


class ReparOuest(Repairer):
    """Répar'Ouest's IBM i: one status file per round with news, faults once each."""

    def __init__(self, server: SftpServer, cases: dict[str, DemoCase], world: World) -> None:
        super().__init__(cases, world)
        self.simulator = ReparOuestSimulator(server.path("/sortie"), server.path("/entree"))
        self.received: list[str] = []
        self.bad_files: list[BadRow] = []
        self.warnings: list[FileWarning] = []
        self._half_written: str | None = None
        self._refused: str | None = None
        self._faults = ["half_written", "bad_trailer", "lost_file"]

    def orders(self) -> list[str]:
        self.received += [order.reference for order in self.simulator.new_orders()]
        return list(self.received)

    def held(self) -> Counter[str]:
        return Counter(self.orders())

    def _line(self, case: DemoCase, step: Step, at: datetime) -> StatusLine:
        serial = case.document()["product"]["serial_number"]
        cents = int(Decimal(case.quote_amount) * 100) if step is Step.QUOTE else 0
        parts = (PartUsed(case.part_sku, 1, 0),) if step is Step.WAITING_PARTS else ()
        return StatusLine(
            job=f"RO-{45000 + case.index:07d}",
            case_ref=case.reference,
            serial=serial,
            at=at.astimezone(PARIS),
            code=_CODES[step],
            amount_cents=cents,
            comment="devis moteur" if step is Step.QUOTE else "",
            parts=parts,
        )

    def act(self, now: datetime) -> int:
        at = now + REPAIRER_OFFSET
        on = at.astimezone(PARIS).date()
        done = 0
        if self._half_written is not None:  # the marker comes with the file's end
            self.simulator.complete(self._half_written)
            self._half_written, done = None, done + 1
        if self._refused is not None:  # the same records, corrected, under the next number
            self.simulator.resend_corrected(self._refused, on=on)
            self._refused, done = None, done + 1
        lines = [self._line(case, step, at) for case, step in self.next_steps()]
        if not lines:
            return done
        fault = self._faults[0] if self._faults else None
        if fault == "half_written":
            self._half_written = self.simulator.publish(lines, on=on, half_written=True)
        elif fault == "bad_trailer":
            name = self.simulator.publish(lines, on=on, trailer="bad_total")
            trailer_line = 2 + sum(1 + len(line.parts) for line in lines)
            self.bad_files.append(BadRow(name, trailer_line, "a control total without the parts"))
            self._refused = name
        elif fault == "lost_file":
            self.simulator.lose_a_file(on)
            name = self.simulator.publish(lines, on=on)
            self.warnings.append(FileWarning(name, "sequence_gap"))
        else:
            self.simulator.publish(lines, on=on)
            fault = None
        if fault is not None:
            self._faults.remove(fault)
        return done + len(lines)
