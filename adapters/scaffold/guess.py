"""Which record field is the time, the status code, the references: guessed from the
values the sample holds and from the fields' names, for any format.

Every guess is only a start: the draft marks it, and what cannot be guessed is left out
so that loading the mapping names it (`fields must say where occurred_at comes from`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Guesses", "TimeGuess", "guess_targets"]

Records = list[dict[str, str | None]]

_MOST = 0.6
"""The share of a field's values that must fit a format for the draft to guess it."""
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_\-]{1,12}$")

_INSTANTS = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M",
    "%Y%m%d%H%M%S", "%Y%m%d%H%M", "%d%m%Y%H%M%S", "%d%m%Y%H%M",
)  # fmt: skip
_DAYS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", "%d%m%Y")
_CLOCKS = ("%H:%M:%S", "%H:%M", "%H%M%S", "%H%M")

# Words in a field's name that say what it holds (lower case, accents kept).
_TIME_WORDS = ("date", "time", "heure", "horodat", "timestamp", "when", "at", "dtm")
_CODE_WORDS = ("code", "status", "statut", "etat", "état", "evt", "event", "type", "sts")
_NAME_TARGETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tracking_number", ("tracking", "parcel", "colis", "shipment_n", "awb", "waybill",
                         "consignment", "barcode", "numcolis", "num_colis", "shipmentnumber",
                         "num", "numero", "nocolis")),
    ("partner_ref", ("dossier", "job", "repair_order", "ticket")),
    ("case_ref", ("client", "customer", "case", "commande", "order", "reference", "réf", "ref")),
    ("serial_number", ("série", "serie", "serial")),
    ("raw_label", ("label", "libell", "description", "wording")),
    ("note", ("comment", "remark", "remarque", "note", "ftx")),
    ("location_city", ("city", "ville", "town")),
    ("location_postcode", ("postcode", "postal", "zip", "cp")),
    ("location_country", ("country", "pays")),
    ("signed_by", ("signed", "signataire", "signatory", "signature")),
)  # fmt: skip
_EVENT_ID = re.compile(r"^(id|event_?id|evt_?id|uuid|event_?uuid)$", re.IGNORECASE)


@dataclass(frozen=True)
class TimeGuess:
    """Where occurred_at comes from: one field or a date and a time, and their format."""

    fields: tuple[str, ...]
    format: str
    has_offset: bool


@dataclass
class Guesses:
    """Canonical target -> the record field it is read from."""

    time: TimeGuess | None = None
    code: str | None = None
    codes: Counter[str] = field(default_factory=Counter)
    targets: dict[str, str] = field(default_factory=dict)

    @property
    def used(self) -> set[str]:
        taken = set(self.targets.values())
        if self.time:
            taken.update(self.time.fields)
        if self.code:
            taken.add(self.code)
        return taken


def _values(records: Records, name: str) -> list[str]:
    return [v.strip() for r in records if (v := r.get(name)) and v.strip()]


def _share(values: list[str], fits: Callable[[str], bool]) -> float:
    return sum(1 for value in values if fits(value)) / len(values) if values else 0.0


def _fits_one(value: str, fmt: str) -> bool:
    """The value parses with ``fmt`` to a plausible year; digit-only formats need the
    exact width (20261104 is a date, 2026114 is not)."""
    compact = not any(c in fmt for c in "/.:- ")
    if compact and len(value) != len(datetime(2026, 11, 4, 10, 15, 30).strftime(fmt)):
        return False
    try:
        parsed = datetime.strptime(value, fmt)
    except ValueError:
        return False
    return "%Y" not in fmt or 1990 <= parsed.year <= 2100


def _fits(values: list[str], fmt: str) -> bool:
    """Most values fit (a sample may hold the bad rows the partner sends: they become
    rejects, which `hub adapters test` shows)."""
    return _share(values, lambda v: _fits_one(v, fmt)) >= _MOST


def _iso_one(value: str) -> datetime | None:
    if len(value) < 16 or value[4:5] != "-" or value[10:11] not in "T ":
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(values: list[str]) -> bool | None:
    """None: not ISO 8601 instants; else whether they carry their offset."""
    parsed = [p for v in values if (p := _iso_one(v)) is not None]
    if not values or len(parsed) < _MOST * len(values):
        return None
    return all(p.tzinfo is not None for p in parsed)


def _named(name: str, words: tuple[str, ...]) -> bool:
    """Whether a field's name holds one of the words: a short word (ref, at, cp) must be
    a whole piece of it (refClient, event_at), a longer one may be inside (trackingNo)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()
    pieces = set(re.split(r"[^0-9a-zà-ÿ]+", spaced))
    return any(word in pieces if len(word) <= 3 else word in spaced for word in words)


def _time(
    records: Records, order: list[str], hinted: str | None, inherited: set[str]
) -> TimeGuess | None:
    """The record's own fields first (an event's Date and Heure before the batch's time of
    sending), a whole instant before a date and a time, named fields first."""
    for group in ([n for n in order if n not in inherited], [n for n in order if n in inherited]):
        found = _time_in(records, group, hinted)
        if found is not None:
            return found
    return None


def _time_in(records: Records, order: list[str], hinted: str | None) -> TimeGuess | None:
    def rank(name: str) -> tuple[bool, bool, int]:
        return (name == hinted, _named(name, _TIME_WORDS), len(_values(records, name)))

    candidates = [
        name
        for name in sorted(order, key=rank, reverse=True)
        if len(_values(records, name)) >= 0.5 * len(records)  # on most records
    ]
    for name in candidates:
        values = _values(records, name)
        offsets = _iso(values)
        if offsets is not None:
            return TimeGuess((name,), "iso8601", offsets)
        for fmt in _INSTANTS:
            if _fits(values, fmt):
                return TimeGuess((name,), fmt, False)
    for name in candidates:
        day = next((f for f in _DAYS if _fits(_values(records, name), f)), None)
        if day is None:
            continue
        # The time of day: the next field first (Date;Heure), then any other.
        after = order[order.index(name) + 1 :] + order[: order.index(name)]
        for other in after:
            clock = next((f for f in _CLOCKS if _fits(_values(records, other), f)), None)
            if clock is not None:
                return TimeGuess((name, other), f"{day} {clock}", False)
        return TimeGuess((name,), day, False)
    return None


def _code(records: Records, order: list[str], hinted: str | None, skip: set[str]) -> str | None:
    """Few distinct short values, present on most records: a status code."""
    best: tuple[tuple[int, int, int, int], str] | None = None
    for name in order:
        if name in skip or _EVENT_ID.match(name):
            continue
        values = _values(records, name)
        distinct = set(values)
        if not values or len(values) < 0.5 * len(records) or len(distinct) > 40:
            continue
        if not all(_CODE_SHAPE.match(v) for v in distinct):
            continue
        named = _named(name, _CODE_WORDS)
        unique = len(records) > 2 and len(distinct) == len(values)
        if unique and not named and name != hinted:
            continue  # every value different: an id, not a code
        score = (
            int(name == hinted),
            int(named) - int(unique),
            -max(map(len, distinct)),
            len(distinct),
        )
        if best is None or score > best[0]:
            best = (score, name)
    return best[1] if best else None


def guess_targets(
    records: Records,
    order: list[str],
    hints: dict[str, str],
    inherited: frozenset[str] = frozenset(),
) -> Guesses:
    """The time, the code and the other targets the sample's fields and names suggest.

    ``order`` holds the record's fields (a fixed-width header's, trailer's or child's,
    ``header.x``, ``part.x``, are left out by its reader); ``inherited`` those read from
    the enclosing object: never the code, the time only when the record has none."""
    own = order
    by_target = {target: name for name, target in hints.items()}
    guesses = Guesses()
    guesses.time = _time(records, own, by_target.get("occurred_at"), set(inherited))
    skip = (set(guesses.time.fields) if guesses.time else set()) | inherited
    guesses.code = _code(records, own, by_target.get("raw_code"), skip)
    if guesses.code:
        guesses.codes = Counter(_values(records, guesses.code))
    for name, target in hints.items():
        if target not in ("occurred_at", "raw_code") and name not in guesses.used:
            guesses.targets.setdefault(target, name)
    for name in own:
        if name in guesses.used or not _values(records, name):
            continue
        values = _values(records, name)
        if (
            "partner_event_id" not in guesses.targets
            and _EVENT_ID.match(name)
            and len(set(values)) == len(values) == len(records)
        ):
            guesses.targets["partner_event_id"] = name
            continue
        for target, words in _NAME_TARGETS:
            if target not in guesses.targets and _named(name, words):
                guesses.targets[target] = name
                break
    return guesses
