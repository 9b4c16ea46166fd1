"""Alpes Fret, simulated: the bulky-goods carrier. Its collections are booked by phone,
so what it carries is what the hub's operator booked from the folder the hub writes the
bookings into (the world's truth: the phone call). Each booked parcel moves one scan a
round; the round's scans go out as one IFTSTA interchange on its SFTP server, several
messages in it, and the carrier checks that each interchange got its CONTRL (sending
again, as its sheet says, any that did not within the hour).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from demo.partners.common import CARRIER_OFFSET
from demo.story import DemoCase
from simulators.alpes_fret import AlpesFretSimulator, Scan

CARRIER_NAME = "Alpes Fret"
PARCELS_PER_MESSAGE = 3
"""Scans of at most this many parcels in one IFTSTA message: a round's interchange holds
several messages, as the carrier's do."""

_DEPOTS = {
    "69": ("LYS", "LYON"),
    "38": ("GNB", "GRENOBLE"),
    "26": ("VLN", "VALENCE"),
    "73": ("CBY", "CHAMBERY"),
}
_TO_REPAIRER = ("21", "22", "24", "80")
"""Collected, at the depot, out for delivery, delivered at the workshop."""
_FAILED_ONCE = ("21", "22", "24", "74", "24", "80")
"""The first parcel back to a customer finds nobody home once."""
_REMARKS = {"74": "DESTINATAIRE ABSENT: AVIS DEPOSE"}


@dataclass
class Parcel:
    """A collection booked by phone: its reference (the case's, "-R" for the way back)."""

    reference: str
    tracking_number: str
    codes: tuple[str, ...]
    postcode: str
    signer: str
    scans: int = 0

    def done(self, code: str) -> bool:
        return code in self.codes[: self.scans]


class AlpesFret:
    """The carrier: every booking the operator phoned in travels, one scan a round."""

    def __init__(
        self, simulator: AlpesFretSimulator, bookings: Path, cases: dict[str, DemoCase]
    ) -> None:
        self.simulator = simulator
        self.bookings = bookings
        self.cases = cases
        self.parcels: dict[str, Parcel] = {}
        self.booked: Counter[str] = Counter()
        self._read: set[str] = set()
        self._failed_once = False

    # -- the phone calls ---------------------------------------------------------------

    def _take_bookings(self) -> None:
        """Each booking file the hub wrote is one phone call: the parcel is booked."""
        for path in sorted(self.bookings.glob("BOOKING_*.csv")):
            if path.name in self._read:
                continue
            self._read.add(path.name)
            rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")), delimiter=";")
            for row in rows:
                self._book(row)

    def _book(self, row: dict[str, str]) -> None:
        reference = row["Reference"]
        self.booked[reference] += 1
        if reference in self.parcels:
            return  # booked twice: the same parcel
        back = reference.endswith("-R")
        codes: tuple[str, ...] = _TO_REPAIRER
        if back and not self._failed_once:
            codes, self._failed_once = _FAILED_ONCE, True
        self.parcels[reference] = Parcel(
            reference=reference,
            tracking_number=f"AF77{len(self.parcels) + 1:08d}",
            codes=codes,
            postcode=row["To postcode"],
            signer=row["To name"].upper(),
        )

    # -- a round -----------------------------------------------------------------------

    def act(self, now: datetime) -> int:
        """Read the CONTRLs that came, send again what got none, take the round's
        bookings, move each parcel one scan and send the scans as one interchange."""
        self.simulator.read_contrls()
        self.simulator.resend_overdue(now)
        self._take_bookings()
        at = now + CARRIER_OFFSET
        scans = [scan for parcel in self.parcels.values() if (scan := self._next(parcel, at))]
        if not scans:
            return 0
        messages = [
            scans[start : start + PARCELS_PER_MESSAGE]
            for start in range(0, len(scans), PARCELS_PER_MESSAGE)
        ]
        self.simulator.drop(messages, now=at)
        return len(scans)

    def _next(self, parcel: Parcel, at: datetime) -> Scan | None:
        if parcel.scans >= len(parcel.codes):
            return None
        code = parcel.codes[parcel.scans]
        parcel.scans += 1
        depot, city = _DEPOTS.get(parcel.postcode[:2], ("LYS", "LYON"))
        # At the depot the driver's scanner keys the tracking number only: the hub links
        # that scan by the parcel's number, learnt with the collection's scan.
        reference = None if code == "22" else parcel.reference
        return Scan(
            parcel.tracking_number,
            code,
            at,
            reference=reference,
            depot=depot,
            city=city,
            remark=_REMARKS.get(code),
            signed_by=parcel.signer if code == "80" else None,
        )

    # -- what the world sees -----------------------------------------------------------

    def delivered_to_repairer(self, reference: str) -> bool:
        parcel = self.parcels.get(reference)
        return parcel is not None and parcel.done("80")

    def collected_back(self, reference: str) -> bool:
        parcel = self.parcels.get(f"{reference}-R")
        return parcel is not None and parcel.done("21")

    def return_parcel(self, reference: str) -> tuple[str, str] | None:
        parcel = self.parcels.get(f"{reference}-R")
        return (CARRIER_NAME, parcel.tracking_number) if parcel is not None else None

    def held(self) -> Counter[str]:
        """The bookings phoned in, by reference (one call per booking file)."""
        self._take_bookings()
        return Counter(self.booked)

    def problems(self) -> list[str]:
        """What the carrier would phone the hub about: interchanges never answered, or
        answered with a refusal although they were sound."""
        self.simulator.read_contrls()
        found = [
            f"alpes-fret: interchange {reference} has no CONTRL"
            for reference in sorted(self.simulator.awaiting)
        ]
        found += [
            f"alpes-fret: interchange {answer.interchange} refused by CONTRL"
            for answer in self.simulator.contrls
            if not answer.accepted and not self.simulator.sent[answer.interchange].faulty
        ]
        return found
