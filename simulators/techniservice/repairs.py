"""The simulated data: the repairs TechniService knows, the append-only change log the
feed pages through, the orders it accepted, and the feed's opaque tokens."""

from __future__ import annotations

import base64
import binascii
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from simulators.server import Simulator, format_at

_TOKEN_TEXT = re.compile(r"seq=(\d{1,18})")


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


class RepairLog(Simulator):
    """The state tests drive: repairs, their changes and the orders received.

    A layer of :class:`~simulators.techniservice.app.TechniServiceSimulator`, kept
    apart from HTTP and faults; every method holds the simulator's lock.
    """

    def _reset_log(self, seed: int, first_seq: int) -> None:
        """No repairs, changes, orders or tokens; ids drawn again from ``seed``."""
        with self._lock:
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
