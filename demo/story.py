"""The demo's fifty cases and the path each one takes through the network.

A path is what happens in the real world: what the repairer finds and does, whether the
customer accepts the quote, whether the part exists, whether the parcel arrives. The
simulated partners read it to know what to report next; the hub knows nothing of it and
learns everything from the partners' own messages. Which partner does the work is the
hub's routing (connectors.yaml), not the story's: the story only says workshop or home.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 11, 2, 8, 0, tzinfo=PARIS)
"""Monday morning: the story's first round (the partners' clocks, not the machine's)."""
ROUND = timedelta(hours=2)
"""How much of the story's time passes between two rounds of partner activity."""


class Path(StrEnum):
    """What happens to a case after it is opened."""

    REPAIRED = "repaired under warranty"
    QUOTE_ACCEPTED = "quote accepted"
    QUOTE_DECLINED = "quote declined"
    WAITING_PARTS = "waiting for a part"
    BACKORDERED_PART = "part backordered"
    OBSOLETE_PART = "obsolete part"
    NOT_REPAIRABLE = "beyond repair"
    LOST_PARCEL = "parcel lost"
    BAD_ADDRESS = "address the carrier refuses"
    HOME_REPAIR = "home repair"
    HOME_QUOTE_ACCEPTED = "home repair, quote accepted"
    HOME_QUOTE_DECLINED = "home repair, quote declined"
    HOME_WAITING_PARTS = "home repair, waiting for a part"


HOME_PATHS = frozenset(
    {Path.HOME_REPAIR, Path.HOME_QUOTE_ACCEPTED, Path.HOME_QUOTE_DECLINED, Path.HOME_WAITING_PARTS}
)


class Step(StrEnum):
    """What a repairer reports, whoever the repairer is (each says it in its own codes)."""

    RECEIVED = "received"
    VISIT_SCHEDULED = "visit_scheduled"
    ON_SITE = "technician_on_site"
    DIAGNOSING = "diagnosing"
    QUOTE = "quote"
    QUOTE_ACCEPTED = "quote_accepted"
    QUOTE_DECLINED = "quote_declined"
    WAITING_PARTS = "waiting_parts"
    IN_REPAIR = "in_repair"
    REPAIRED = "repaired"
    NOT_REPAIRABLE = "not_repairable"
    SHIPPED_BACK = "shipped_back"
    HOME_DONE = "home_done"


_WORKSHOP_END = (Step.REPAIRED, Step.SHIPPED_BACK)
STEPS: dict[Path, tuple[Step, ...]] = {
    Path.REPAIRED: (Step.RECEIVED, Step.DIAGNOSING, Step.IN_REPAIR, *_WORKSHOP_END),
    Path.QUOTE_ACCEPTED: (
        Step.RECEIVED,
        Step.DIAGNOSING,
        Step.QUOTE,
        Step.QUOTE_ACCEPTED,
        *_WORKSHOP_END,
    ),
    Path.QUOTE_DECLINED: (
        Step.RECEIVED,
        Step.DIAGNOSING,
        Step.QUOTE,
        Step.QUOTE_DECLINED,
        Step.SHIPPED_BACK,
    ),
    Path.WAITING_PARTS: (
        Step.RECEIVED,
        Step.DIAGNOSING,
        Step.WAITING_PARTS,
        Step.IN_REPAIR,
        *_WORKSHOP_END,
    ),
    Path.BACKORDERED_PART: (
        Step.RECEIVED,
        Step.DIAGNOSING,
        Step.WAITING_PARTS,
        Step.IN_REPAIR,
        *_WORKSHOP_END,
    ),
    Path.OBSOLETE_PART: (Step.RECEIVED, Step.DIAGNOSING, Step.WAITING_PARTS),
    Path.NOT_REPAIRABLE: (
        Step.RECEIVED,
        Step.DIAGNOSING,
        Step.NOT_REPAIRABLE,
        Step.SHIPPED_BACK,
    ),
    Path.LOST_PARCEL: (),
    Path.BAD_ADDRESS: (),
    Path.HOME_REPAIR: (Step.VISIT_SCHEDULED, Step.ON_SITE, Step.DIAGNOSING, Step.HOME_DONE),
    Path.HOME_QUOTE_ACCEPTED: (
        Step.VISIT_SCHEDULED,
        Step.ON_SITE,
        Step.QUOTE,
        Step.QUOTE_ACCEPTED,
        Step.HOME_DONE,
    ),
    Path.HOME_QUOTE_DECLINED: (
        Step.VISIT_SCHEDULED,
        Step.ON_SITE,
        Step.QUOTE,
        Step.QUOTE_DECLINED,
    ),
    Path.HOME_WAITING_PARTS: (
        Step.VISIT_SCHEDULED,
        Step.ON_SITE,
        Step.WAITING_PARTS,
        Step.IN_REPAIR,
        Step.HOME_DONE,
    ),
}
"""Each path's steps at the repairer, in order (a lost parcel never reaches one)."""


class PartAnswer(StrEnum):
    """How the parts supplier answers a purchase order."""

    SHIPPED = "shipped"
    BACKORDERED = "backordered"
    OBSOLETE = "obsolete"


PART_ANSWERS = {
    Path.WAITING_PARTS: PartAnswer.SHIPPED,
    Path.HOME_WAITING_PARTS: PartAnswer.SHIPPED,
    Path.BACKORDERED_PART: PartAnswer.BACKORDERED,
    Path.OBSOLETE_PART: PartAnswer.OBSOLETE,
}

_PRODUCTS = (
    ("Seb", "Actifry Genius XL", "small_appliance"),
    ("Samsung", "UE55AU7105", "tv"),
    ("Bosch", "WAN28209FF", "large_appliance"),
    ("Dyson", "V11 Absolute", "small_appliance"),
    ("HP", "15s-fq5000", "laptop"),
    ("Whirlpool", "FFB 8448", "large_appliance"),
    ("Liebherr", "CNd 5203", "large_appliance"),
    ("Philips", "EP2231", "small_appliance"),
)
_BAD_ADDRESS_PRODUCT = ("HP", "15s-fq5000", "laptop")
"""The product of the case whose address the parcel carrier refuses (not bulky)."""
_CUSTOMERS = (
    ("Julie Martin", "4 rue des Lilas", "69003", "Lyon"),
    ("Karim Benali", "12 impasse des Tilleuls", "38300", "Bourgoin-Jallieu"),
    ("Léa Roux", "8 rue Paul Bert", "69003", "Lyon"),
    ("Jean Dupuis", "3 cours Émile Zola", "69100", "Villeurbanne"),
    ("Chloé Garnier", "27 avenue Jean Jaurès", "38000", "Grenoble"),
    ("Hugo Lefèvre", "5 place Bellecour", "69002", "Lyon"),
    ("Inès Moreau", "14 chemin des Vignes", "26000", "Valence"),
)
_FAULTS = (
    "Ne chauffe plus, affiche E3",
    "Écran noir, le son fonctionne",
    "Fuite sous la machine",
    "Ne s'allume plus; odeur de brûlé",
    'Bruit de claquement "très fort" au démarrage',
    "Ne refroidit plus",
)
_COVERAGES = ("legal_conformity", "commercial_warranty", "none")


@dataclass(frozen=True)
class DemoCase:
    """One case of the story: who opens it, how, and what happens to it."""

    reference: str
    retailer: str
    path: Path
    index: int
    references: tuple[tuple[str, str], ...] = ()
    """Partners' references the retailer records when it opens the case (a relay's
    counter receipt), as (party, reference)."""

    @property
    def service(self) -> str:
        return "home_intervention" if self.path in HOME_PATHS else "workshop_repair"

    @property
    def steps(self) -> tuple[Step, ...]:
        return STEPS[self.path]

    @property
    def part_answer(self) -> PartAnswer | None:
        return PART_ANSWERS.get(self.path)

    @property
    def part_sku(self) -> str:
        return f"PP-{77100 + self.index}"

    @property
    def quote_amount(self) -> str:
        return f"{89 + 7 * self.index}.90"

    @property
    def opened_at(self) -> datetime:
        return START - timedelta(hours=2) + timedelta(minutes=3 * self.index)

    @property
    def coverage(self) -> str:
        if self.path in (Path.QUOTE_ACCEPTED, Path.QUOTE_DECLINED, Path.HOME_QUOTE_ACCEPTED):
            return "none"
        if self.path is Path.HOME_QUOTE_DECLINED:
            return "none"
        return _COVERAGES[self.index % 2]

    def document(self) -> dict[str, Any]:
        """The case in canonical JSON, as the retailer's software sends it."""
        brand, model, category = _PRODUCTS[self.index % len(_PRODUCTS)]
        name, line1, postcode, city = _CUSTOMERS[self.index % len(_CUSTOMERS)]
        if self.path is Path.BAD_ADDRESS:
            postcode = "6900"  # a digit short: the carrier refuses it, as its sheet says
            # A laptop: the parcel carrier checks addresses when the pickup is ordered;
            # bulky goods go with Alpes Fret, booked by phone, where nothing refuses it.
            brand, model, category = _BAD_ADDRESS_PRODUCT
        return {
            "reference": self.reference,
            "retailer": self.retailer,
            "product": {
                "brand": brand,
                "model": model,
                "serial_number": f"SN{self.index:03d}-{brand[:2].upper()}{4410 + self.index}",
                "category": category,
                "purchase_date": "2025-06-14",
            },
            "coverage": self.coverage,
            "service": self.service,
            "fault": _FAULTS[self.index % len(_FAULTS)],
            "customer": {
                "name": name,
                "phone": f"+336{12000000 + self.index:08d}",
                "address": {"line1": line1, "postcode": postcode, "city": city, "country": "FR"},
            },
            "contract_level": "gold" if self.retailer == "maison-electro" else "silver",
            "opened_at": self.opened_at.isoformat(),
        } | (
            {"references": [{"party": p, "reference": r} for p, r in self.references]}
            if self.references
            else {}
        )


_MAISON_ELECTRO = (
    [Path.REPAIRED] * 6
    + [Path.QUOTE_ACCEPTED] * 3
    + [Path.QUOTE_DECLINED] * 2
    + [Path.WAITING_PARTS] * 3
    + [Path.BACKORDERED_PART, Path.OBSOLETE_PART, Path.NOT_REPAIRABLE, Path.LOST_PARCEL]
    + [Path.BAD_ADDRESS]
    + [Path.HOME_REPAIR] * 4
    + [Path.HOME_QUOTE_ACCEPTED] * 2
    + [Path.HOME_QUOTE_DECLINED, Path.HOME_WAITING_PARTS]
)
_BRICOMARKET = (
    [Path.REPAIRED] * 3
    + [Path.BACKORDERED_PART, Path.OBSOLETE_PART]
    + [Path.QUOTE_ACCEPTED] * 3
    + [Path.QUOTE_DECLINED] * 2
    + [Path.WAITING_PARTS] * 3
    + [Path.NOT_REPAIRABLE]
    + [Path.HOME_REPAIR] * 5
    + [Path.HOME_QUOTE_ACCEPTED] * 2
    + [Path.HOME_QUOTE_DECLINED, Path.HOME_WAITING_PARTS]
)


def story() -> list[DemoCase]:
    """The fifty cases: Maison Électro's through the API, BricoMarket's by CSV import."""
    cases = [
        DemoCase(f"ME-{201 + n:06d}", "maison-electro", path, n)
        for n, path in enumerate(_MAISON_ELECTRO)
    ]
    offset = len(cases)
    cases += [
        DemoCase(f"BM-{301 + n:06d}", "bricomarket", path, offset + n)
        for n, path in enumerate(_BRICOMARKET)
    ]
    return cases


IMPORT_COLUMNS = (
    "reference",
    "opened_at",
    "brand",
    "model",
    "serial_number",
    "category",
    "purchase_date",
    "coverage",
    "service",
    "fault",
    "customer_name",
    "customer_phone",
    "address_line1",
    "postcode",
    "city",
    "country",
    "contract_level",
)


def import_row(case: DemoCase) -> list[str]:
    """The case as a row of the hub's case import CSV (BricoMarket's nightly export)."""
    document = case.document()
    product, customer = document["product"], document["customer"]
    address = customer["address"]
    values = {
        "reference": document["reference"],
        "opened_at": document["opened_at"],
        "brand": product["brand"],
        "model": product["model"],
        "serial_number": product["serial_number"],
        "category": product["category"],
        "purchase_date": product["purchase_date"],
        "coverage": document["coverage"],
        "service": document["service"],
        "fault": document["fault"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "address_line1": address["line1"],
        "postcode": address["postcode"],
        "city": address["city"],
        "country": address["country"],
        "contract_level": document["contract_level"],
    }
    return [values[column] for column in IMPORT_COLUMNS]
