"""Atelier Dupont, simulated: the repair orders on its SFTP server, each step a line of its
Latin-1 status export (with the bad lines the story asks for).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime

from demo.partners.common import (
    REPAIRER_OFFSET,
    BadRow,
    write_then_rename,
)
from demo.partners.repairer import Repairer
from demo.partners.world import World
from demo.story import PARIS, DemoCase, Step
from simulators.sftp import SftpServer

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
        world: World,
    ) -> None:
        super().__init__(cases, world)
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
        write_then_rename(self.server.path("/out") / name, content, ".tmp")
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
