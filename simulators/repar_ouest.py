"""Répar'Ouest's IBM i, as its sheet describes it, on the disk behind an SFTP server.

It writes one fixed-width status file per round into ``sortie/`` (ISO-8859-15, 90
characters a line, header/status/part/trailer records, sequence numbers +1 per file and
back to 0001 each 1 January), then the empty ``.done`` marker; and it reads the repair
orders the hub puts in ``entree/`` (Atelier Dupont's CSV columns). Its faults are the
sheet's: a file caught half written before its marker, a trailer that does not add up
(then the same records re-sent under the next number), a file lost at its end (a gap in
the numbers), a line without comment shorter than 90 characters.

It works on the server's folders, not over SFTP, so the same partner sits behind the
asyncssh server of :mod:`simulators.sftp` and behind OpenSSH's sshd.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "PARIS",
    "PartUsed",
    "RepairOrder",
    "ReparOuestSimulator",
    "StatusLine",
    "Trailer",
    "status_file",
]

PARIS = ZoneInfo("Europe/Paris")
ENCODING = "iso-8859-15"
WIDTH = 90

Trailer = Literal["good", "bad_total", "missing"]
"""The trailer written: right, with a control total that leaves out the parts, or none."""


@dataclass(frozen=True)
class PartUsed:
    """A ``03`` record: a part the workshop used, after its status line."""

    sku: str
    quantity: int = 1
    unit_cents: int = 0


@dataclass(frozen=True)
class StatusLine:
    """A ``02`` record: one status of a workshop job, with the parts used."""

    job: str
    case_ref: str | None
    serial: str
    at: datetime
    code: str
    amount_cents: int = 0
    comment: str = ""
    parts: tuple[PartUsed, ...] = ()

    def records(self) -> list[str]:
        local = self.at.astimezone(PARIS) if self.at.tzinfo else self.at
        sign = "-" if self.amount_cents < 0 else "+"
        line = (
            f"02{self.job:<10.10}{(self.case_ref or ''):<15.15}{self.serial:<20.20}"
            f"{local:%d%m%Y%H%M%S}{self.code:<4.4}{abs(self.amount_cents):09d}{sign}"
        )
        if self.comment:  # the IBM i cuts the comment mid-word, and writes none when empty
            line += f"{self.comment:<15.15}"
        parts = [
            f"03{self.job:<10.10}{p.sku:<18.18}{p.quantity:03d}{p.unit_cents:09d}".ljust(WIDTH)
            for p in self.parts
        ]
        return [line, *parts]

    def total_cents(self) -> int:
        return self.amount_cents + sum(p.quantity * p.unit_cents for p in self.parts)


def status_file(
    on: date, sequence: int, lines: Sequence[StatusLine], *, trailer: Trailer = "good"
) -> bytes:
    """A status file's bytes as the IBM i writes them."""
    records = [f"01REPAROUEST{on:%Y%m%d}{sequence:04d}".ljust(WIDTH)]
    for line in lines:
        records.extend(line.records())
    count = len(records) - 1
    total = sum(line.total_cents() for line in lines)
    if trailer == "bad_total":  # the control total leaves out the parts used
        total = sum(line.amount_cents for line in lines)
        if total == sum(line.total_cents() for line in lines):
            total += 1
    if trailer != "missing":
        records.append(f"09{count:07d}{total:012d}".ljust(WIDTH))
    return "".join(record + "\n" for record in records).encode(ENCODING)


@dataclass(frozen=True)
class RepairOrder:
    """One line of an ``ORDRES_*.csv`` file the hub wrote."""

    file: str
    reference: str
    retailer: str
    brand: str
    model: str
    serial: str
    fault: str
    customer: str


@dataclass
class _Published:
    on: date
    lines: tuple[StatusLine, ...]


@dataclass
class ReparOuestSimulator:
    """The partner's side of the two folders: ``sortie`` (its status files, with ``lu``
    where the hub moves them) and ``entree`` (the hub's repair orders)."""

    sortie: Path
    entree: Path
    last_sequence: int = 0
    last_date: date | None = None
    published: dict[str, _Published] = field(default_factory=dict)
    read_orders: set[str] = field(default_factory=set)

    def _next(self, on: date) -> int:
        if self.last_date is not None and on.year > self.last_date.year:
            self.last_sequence = 0  # back to 0001 each 1 January
        self.last_sequence += 1
        self.last_date = on
        return self.last_sequence

    def publish(
        self,
        lines: Sequence[StatusLine],
        *,
        on: date,
        trailer: Trailer = "good",
        half_written: bool = False,
    ) -> str:
        """Write the next status file, then its ``.done`` marker; with ``half_written``,
        only the first part of it and no marker (:meth:`complete` finishes it)."""
        sequence = self._next(on)
        name = f"RO_STAT_{on:%Y%m%d}_{sequence:04d}.txt"
        content = status_file(on, sequence, lines, trailer=trailer)
        self.published[name] = _Published(on, tuple(lines))
        if half_written:
            (self.sortie / name).write_bytes(content[: max(1, len(content) // 2)])
            return name
        (self.sortie / name).write_bytes(content)
        (self.sortie / f"{name}.done").write_bytes(b"")
        return name

    def complete(self, name: str) -> None:
        """Finish a half-written file, then write its marker."""
        kept = self.published[name]
        sequence = int(name.removesuffix(".txt").rsplit("_", 1)[1])
        (self.sortie / name).write_bytes(status_file(kept.on, sequence, kept.lines))
        (self.sortie / f"{name}.done").write_bytes(b"")

    def lose_a_file(self, on: date) -> int:
        """A file lost at the partner's end: its number is used, nothing is written."""
        return self._next(on)

    def resend_corrected(self, name: str, *, on: date | None = None) -> str:
        """The records of a refused file again, with a right trailer, under the next number."""
        kept = self.published[name]
        return self.publish(kept.lines, on=on or kept.on)

    def moved_to_lu(self) -> list[str]:
        """What the hub moved to ``sortie/lu`` (files and markers)."""
        folder = self.sortie / "lu"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def new_orders(self) -> list[RepairOrder]:
        """The repair orders in files not read yet (a name still ending ``.tmp`` is being
        written and waits); the IBM i reads them and deletes nothing."""
        found: list[RepairOrder] = []
        for path in sorted(self.entree.glob("ORDRES_*.csv")):
            if path.name in self.read_orders:
                continue
            self.read_orders.add(path.name)
            text = path.read_bytes().decode(ENCODING)
            for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=";"):
                found.append(
                    RepairOrder(
                        file=path.name,
                        reference=row["Réf. client"],
                        retailer=row["Enseigne"],
                        brand=row["Marque"],
                        model=row["Modèle"],
                        serial=row["N° série"],
                        fault=row["Panne déclarée"],
                        customer=row["Nom client"],
                    )
                )
        return found
