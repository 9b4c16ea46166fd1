"""Benchmark of the event store: appending events, and deriving a case's status.

Run it from the repository root::

    .venv/bin/python bench/events.py [--events N] [--cases N]
                                     [--postgres-url URL | --skip-postgres] [--profile]

On SQLite (a fresh file in a temporary directory) and on PostgreSQL (a private
``hub_bench_<random>`` database beside the given URL, dropped at the end) it measures:

1. events appended per second for one batch of N events (100,000 by default) in one
   transaction through ``hub.store.events.append_events``, then for the same batch again
   (all duplicates: the cost of idempotency);
2. the time to derive the status of a case with 50 events: the pure function
   ``derive_case_state`` and ``hub.store.cases.case_state`` reading it from the store.

Building the Event objects happens before any clock starts, but is timed on its own
because an ingestion pays it too. This prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import random
import sqlite3
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from math import ceil
from pathlib import Path
from time import perf_counter, process_time
from zoneinfo import ZoneInfo

import pydantic
import sqlalchemy
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import private_postgres
from hub.model import (
    Case,
    CaseStatus,
    Event,
    EventDetails,
    EventType,
    PartsOrderStatus,
    Party,
    PartyRole,
    Shipment,
    ShipmentLeg,
    ShipmentStatus,
    derive_case_state,
    stable_event_id,
)
from hub.store.cases import case_state, open_case, opening_event
from hub.store.db import Database
from hub.store.events import AppendResult, append_events, count_events
from hub.store.migrate import current_revision, upgrade
from hub.store.parties import save_party

POSTGRES_VARIABLE = "HUB_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_EVENTS = 100_000
DEFAULT_CASES = 2_000
STATE_EVENTS = 50
"""Events in the case whose status is derived (its ``created`` event included)."""
DERIVE_RUNS = 2_000
STORE_RUNS = 200
SEED = 20261103

Status = CaseStatus | ShipmentStatus | PartsOrderStatus

# --- The network -------------------------------------------------------------------

RETAILER = Party(id="maison-electro", role=PartyRole.RETAILER, name="Maison Électro")
REPAIRERS = (
    Party(id="atelier-dupont", role=PartyRole.REPAIRER, name="Atelier Dupont Réparation"),
    Party(id="techniservice", role=PartyRole.REPAIRER, name="TechniService Antilles"),
)
CARRIERS = (
    Party(id="colis-express", role=PartyRole.CARRIER, name="ColisExpress"),
    Party(id="relais-france", role=PartyRole.CARRIER, name="Relais France"),
)
SUPPLIER = Party(id="pieces-plus", role=PartyRole.PARTS_SUPPLIER, name="PiècesPlus")
NETWORK = (RETAILER, *REPAIRERS, *CARRIERS, SUPPLIER)

ZONES: dict[str, tzinfo] = {
    "maison-electro": ZoneInfo("Europe/Paris"),
    "atelier-dupont": ZoneInfo("Europe/Paris"),
    "techniservice": ZoneInfo("America/Martinique"),
    "colis-express": UTC,
    "relais-france": ZoneInfo("Europe/Paris"),
    "pieces-plus": ZoneInfo("Europe/London"),
}
"""Each partner reports in its own zone, so offsets are mixed: -04:00 to +02:00."""

FIRST_OPENING = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CASE_SPACING = timedelta(minutes=211)
"""2,000 cases opened 211 minutes apart span ten months, across both DST changes."""
STEP_SPACING_MINUTES = 40

BRANDS = (
    ("Seb", "Actifry Genius", "small_appliance"),
    ("Bosch", "Serie 6 WAU28", "washing_machine"),
    ("Samsung", "QE55Q80C", "television"),
    ("Dyson", "V15 Detect", "vacuum"),
    ("De'Longhi", "Magnifica S", "coffee_machine"),
)
COVERAGES = ("legal_conformity", "commercial_warranty", "insurance", "legal_conformity")
LEVELS = ("bronze", "silver", "gold", "platinum")


def local_time(instant: datetime, zone: tzinfo) -> datetime:
    """The instant as the partner writes it: its local time with a fixed offset."""
    local = instant.astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None
    return local.astimezone(timezone(offset))


# --- One case's story: fifty things partners report ---------------------------------


@dataclass(frozen=True)
class Step:
    """One report in a case's life: who says what, in the partner's own code."""

    type: EventType
    status: Status | None
    code: str
    label: str
    actor: str
    """retailer, repairer, carrier or supplier."""
    subject: str | None = None
    """out (parcel to the workshop), back (parcel to the customer), part, or None."""
    note: str | None = None
    reason: str | None = None
    parcel: bool = False
    """Whether the event carries the shipment in its details."""


def _scans(leg: str, sites: Sequence[str]) -> list[Step]:
    steps = []
    for site in sites:
        for code, verb in (("ARR", "Arrivé sur le site"), ("DEP", "Parti du site")):
            steps.append(
                Step(
                    EventType.SHIPMENT_STATUS,
                    ShipmentStatus.IN_TRANSIT,
                    code,
                    f"{verb} {site}",
                    "carrier",
                    leg,
                )
            )
    return steps


def _story() -> tuple[Step, ...]:
    case, parcel, parts = (
        EventType.CASE_STATUS,
        EventType.SHIPMENT_STATUS,
        EventType.PARTS_ORDER_STATUS,
    )
    sites = ("Lyon-Corbas", "Chilly-Mazarin", "Orléans-Saran", "Tours-Nord", "Wissous")
    return (
        Step(case, CaseStatus.PICKUP_REQUESTED, "ENL", "Enlèvement demandé", "retailer"),
        Step(
            parcel,
            ShipmentStatus.INFO_RECEIVED,
            "PCH",
            "Prise en charge annoncée",
            "carrier",
            "out",
            parcel=True,
        ),
        Step(case, CaseStatus.IN_TRANSIT_TO_REPAIRER, "ACH", "Colis remis", "carrier"),
        *_scans("out", sites),
        Step(parcel, ShipmentStatus.OUT_FOR_DELIVERY, "LIV", "En livraison", "carrier", "out"),
        Step(parcel, ShipmentStatus.DELIVERED, "DLV", "Livré", "carrier", "out"),
        Step(case, CaseStatus.RECEIVED, "REC", "Réception atelier", "repairer"),
        Step(case, None, "RLC", "Relance client", "repairer", note="Client relancé par SMS"),
        Step(case, CaseStatus.DIAGNOSING, "DIA", "Diagnostic", "repairer"),
        Step(case, CaseStatus.QUOTE_PENDING, "DEV", "Devis envoyé", "repairer"),
        Step(case, None, "DVA", "Devis accepté par téléphone", "repairer"),
        Step(case, CaseStatus.WAITING_PARTS, "ATP", "Attente pièce", "repairer"),
        Step(parts, PartsOrderStatus.PLACED, "CMD", "Commande reçue", "supplier", "part"),
        Step(parts, PartsOrderStatus.ACKNOWLEDGED, "ACK", "Commande validée", "supplier", "part"),
        Step(
            parts,
            PartsOrderStatus.BACKORDERED,
            "RUP",
            "Rupture, réassort sous 5 jours",
            "supplier",
            "part",
            reason="RUPTURE",
        ),
        Step(parts, PartsOrderStatus.SHIPPED, "EXP", "Expédiée", "supplier", "part"),
        Step(parts, PartsOrderStatus.DELIVERED, "LVR", "Livrée à l'atelier", "supplier", "part"),
        Step(case, CaseStatus.IN_REPAIR, "REP", "En réparation", "repairer"),
        Step(case, None, "TST", "Test qualité en cours", "repairer"),
        Step(case, CaseStatus.REPAIRED, "RPR", "Réparé", "repairer"),
        Step(
            parcel,
            ShipmentStatus.INFO_RECEIVED,
            "PCH",
            "Retour annoncé",
            "carrier",
            "back",
            parcel=True,
        ),
        Step(case, CaseStatus.RETURN_IN_TRANSIT, "RET", "Retour client", "carrier"),
        Step(
            parcel, ShipmentStatus.IN_TRANSIT, "AGC", "Pris en charge en agence", "carrier", "back"
        ),
        *_scans("back", tuple(reversed(sites))),
        Step(parcel, None, "X47", "Retenu au centre de tri", "carrier", "back"),
        Step(parcel, ShipmentStatus.OUT_FOR_DELIVERY, "LIV", "En livraison", "carrier", "back"),
        Step(
            parcel,
            ShipmentStatus.FAILED_ATTEMPT,
            "AVS",
            "Destinataire absent, avis déposé",
            "carrier",
            "back",
            reason="ABSENT",
        ),
        Step(
            parcel,
            ShipmentStatus.AVAILABLE_FOR_PICKUP,
            "REL",
            "Disponible en relais",
            "carrier",
            "back",
        ),
        Step(parcel, ShipmentStatus.DELIVERED, "DLV", "Livré", "carrier", "back"),
        Step(case, CaseStatus.DELIVERED, "LIV", "Produit rendu au client", "retailer"),
        Step(case, None, "SAT", "Enquête de satisfaction envoyée", "retailer"),
        Step(case, CaseStatus.CLOSED, "CLO", "Dossier clos", "retailer"),
    )


STORY = _story()


# --- Builders ------------------------------------------------------------------------


@dataclass(frozen=True)
class CasePlan:
    """Who works on one case and under which references."""

    index: int
    reference: str
    opened_at: datetime
    repairer: str
    repairer_ref: str
    carrier: str
    tracking_out: str
    tracking_back: str
    part_line: str

    def party(self, actor: str) -> str:
        return {
            "retailer": RETAILER.id,
            "repairer": self.repairer,
            "carrier": self.carrier,
            "supplier": SUPPLIER.id,
        }[actor]

    def subject(self, kind: str | None) -> str | None:
        return {
            None: None,
            "out": self.tracking_out,
            "back": self.tracking_back,
            "part": self.part_line,
        }[kind]


def plan_case(index: int, reference: str | None = None) -> CasePlan:
    repairer = REPAIRERS[1 if index % 3 == 2 else 0]  # two thirds to the mainland workshop
    carrier = CARRIERS[1 if index % 4 == 3 else 0]  # three quarters with ColisExpress
    prefix = "AD" if repairer.id == "atelier-dupont" else "TS"
    opened = FIRST_OPENING + index * CASE_SPACING
    return CasePlan(
        index=index,
        reference=reference or f"ME-{index + 1:06d}",
        opened_at=local_time(opened, ZONES[RETAILER.id]),
        repairer=repairer.id,
        repairer_ref=f"{prefix}-{26000 + index}",
        carrier=carrier.id,
        tracking_out=f"CX{index:09d}FR",
        tracking_back=f"CX{index:09d}RT",
        part_line=f"PP-{index:06d}-1",
    )


def build_case(plan: CasePlan) -> Case:
    brand, model, category = BRANDS[plan.index % len(BRANDS)]
    return Case.model_validate(
        {
            "reference": plan.reference,
            "retailer": RETAILER.id,
            "product": {
                "brand": brand,
                "model": model,
                "category": category,
                "serial_number": f"SN{plan.index:08d}",
            },
            "coverage": COVERAGES[plan.index % len(COVERAGES)],
            "service": "workshop_repair",
            "fault": "Ne s'allume plus après deux semaines d'utilisation",
            "customer": {"name": f"Client {plan.index}", "phone": "+33612345678"},
            "contract_level": LEVELS[plan.index % len(LEVELS)],
            "opened_at": plan.opened_at,
            "references": [{"party": plan.repairer, "reference": plan.repairer_ref}],
        }
    )


def build_event(plan: CasePlan, k: int) -> Event:
    """The k-th thing reported on the case, in the reporting partner's words and zone."""
    step = STORY[k % len(STORY)]
    by = plan.party(step.actor)
    jitter = (plan.index * 131 + k * 17) % 30
    instant = plan.opened_at + timedelta(minutes=STEP_SPACING_MINUTES * (k + 1) + jitter)
    occurred_at = local_time(instant, ZONES[by])
    subject = plan.subject(step.subject)
    partner_ref = plan.repairer_ref if step.actor == "repairer" else None
    if step.actor == "carrier":
        # Carriers number their scans: their id wins over a hash.
        event_id = stable_event_id(
            reported_by=by,
            partner_event_id=f"{subject or plan.tracking_out}-{k:04d}",
            type=step.type,
            raw_code=step.code,
            occurred_at=occurred_at,
        )
    else:
        event_id = stable_event_id(
            reported_by=by,
            case_ref=plan.reference,
            partner_ref=partner_ref,
            type=step.type,
            raw_code=step.code,
            occurred_at=occurred_at,
            subject=subject,
        )
    details = EventDetails(
        note=step.note,
        reason=step.reason,
        shipment=(
            Shipment(
                carrier=by,
                tracking_number=subject,
                leg=ShipmentLeg.TO_REPAIRER if step.subject == "out" else ShipmentLeg.TO_CUSTOMER,
            )
            if step.parcel and subject
            else None
        ),
    )
    return Event(
        id=event_id,
        case_ref=plan.reference,
        partner_ref=partner_ref,
        type=step.type,
        status=step.status,
        occurred_at=occurred_at,
        recorded_at=(instant + timedelta(minutes=3 + k % 50)).astimezone(UTC),
        reported_by=by,
        raw_code=step.code,
        raw_label=step.label,
        subject=subject,
        details=details,
    )


@dataclass
class Workload:
    """Everything built before the clocks start."""

    plans: list[CasePlan]
    cases: list[Case]
    events: list[Event]
    build_seconds: float
    state_case: Case
    state_events: list[Event]
    """The events appended to ``state_case`` after its ``created`` event."""
    derive_input: list[Event]
    """``state_case``'s whole timeline (``created`` included), in arrival disorder."""


def build_workload(n_events: int, n_cases: int) -> Workload:
    plans = [plan_case(index) for index in range(n_cases)]
    cases = [build_case(plan) for plan in plans]
    start = perf_counter()
    built = [build_event(plans[i % n_cases], i // n_cases) for i in range(n_events)]
    build_seconds = perf_counter() - start
    shuffler = random.Random(SEED)
    shuffler.shuffle(built)  # late and out of order, as partners send them

    state_plan = plan_case(n_cases, reference="ME-STATE-50")
    state_case = build_case(state_plan)
    state_events = [build_event(state_plan, k) for k in range(STATE_EVENTS - 1)]
    created = opening_event(state_case, recorded_at=state_case.opened_at.astimezone(UTC))
    derive_input = [created, *state_events]
    shuffler.shuffle(derive_input)
    return Workload(plans, cases, built, build_seconds, state_case, state_events, derive_input)


def describe(events: Sequence[Event]) -> str:
    """The workload's mix, so a figure can be read with what it measured."""
    types = Counter(event.type for event in events)
    total = len(events) or 1
    shares = ", ".join(
        f"{100 * types[kind] / total:.0f}% {kind.value}" for kind in EventType if types[kind]
    )
    unmapped = sum(1 for event in events if event.status is None)
    offsets = sorted({_offset(event.occurred_at) for event in events})
    return (
        f"{shares}; {100 * unmapped / total:.0f}% unmapped; "
        f"offsets {' '.join(offsets)}; arrival order shuffled"
    )


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# --- Measuring -----------------------------------------------------------------------


@dataclass
class Distribution:
    """Repeated timings, in seconds."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        """Nearest-rank 99th percentile."""
        ordered = sorted(self.samples)
        return ordered[max(1, ceil(0.99 * len(ordered))) - 1]


@dataclass
class BackendFigures:
    name: str
    version: str
    revision: str = ""
    """The schema revision the figures were taken on (others add migrations)."""
    open_cases_seconds: float = 0.0
    append_seconds: float = 0.0
    append_cpu: float = 0.0
    """This process's CPU seconds during the append: the rest is the database or waiting."""
    appended: AppendResult = field(default_factory=AppendResult)
    reappend_seconds: float = 0.0
    reappend_cpu: float = 0.0
    reappended: AppendResult = field(default_factory=AppendResult)
    stored_total: int = 0
    state: Distribution = field(default_factory=Distribution)
    state_timeline: int = 0
    state_status: str = ""


def timed_append(database: Database, batch: Sequence[Event]) -> tuple[float, float, AppendResult]:
    """One transaction, commit included: wall seconds, this process's CPU seconds."""
    cpu = process_time()
    start = perf_counter()
    with database.transaction() as connection:
        result = append_events(connection, batch)
    return perf_counter() - start, process_time() - cpu, result


def prepare(database: Database, workload: Workload, figures: BackendFigures) -> None:
    """Migrate, register the network, open the cases; warm the append path up once."""
    upgrade(database)
    figures.revision = current_revision(database) or "none"
    with database.transaction() as connection:
        for party in NETWORK:
            save_party(connection, party)
    start = perf_counter()
    with database.transaction() as connection:
        for case in workload.cases:
            open_case(connection, case)
    figures.open_cases_seconds = perf_counter() - start
    # The warm-up: the 50-event case read back later gets its events the same way.
    with database.transaction() as connection:
        open_case(connection, workload.state_case)
        append_events(connection, workload.state_events)


def measure_backend(
    database: Database, workload: Workload, figures: BackendFigures, progress: Console
) -> None:
    progress.log(f"{figures.name}: migrating, opening {len(workload.cases):,} cases")
    prepare(database, workload, figures)
    progress.log(f"{figures.name}: appending {len(workload.events):,} events")
    figures.append_seconds, figures.append_cpu, figures.appended = timed_append(
        database, workload.events
    )
    progress.log(f"{figures.name}: appending them again (all duplicates)")
    figures.reappend_seconds, figures.reappend_cpu, figures.reappended = timed_append(
        database, workload.events
    )
    with database.transaction() as connection:
        figures.stored_total = count_events(connection)
    progress.log(f"{figures.name}: case_state x {STORE_RUNS}")
    reference = workload.state_case.reference
    with database.engine.connect() as connection:
        state = case_state(connection, reference)  # warm-up
        figures.state_timeline = len(state.timeline)
        figures.state_status = "none" if state.status is None else state.status.value
        for _ in range(STORE_RUNS):
            start = perf_counter()
            case_state(connection, reference)
            figures.state.samples.append(perf_counter() - start)


def measure_derive(events: Sequence[Event]) -> Distribution:
    derive_case_state(events)  # warm-up
    result = Distribution()
    for _ in range(DERIVE_RUNS):
        start = perf_counter()
        derive_case_state(events)
        result.samples.append(perf_counter() - start)
    return result


def sqlite_version_of(database: Database) -> str:
    with database.engine.connect() as connection:
        return str(connection.execute(text("select sqlite_version()")).scalar_one())


def run_sqlite(workload: Workload, progress: Console) -> BackendFigures:
    with tempfile.TemporaryDirectory(prefix="hub_bench_") as directory:
        database = Database(f"sqlite:///{Path(directory) / 'hub.db'}")
        try:
            figures = BackendFigures("SQLite", sqlite_version_of(database))
            measure_backend(database, workload, figures, progress)
        finally:
            database.dispose()
    return figures


def run_postgres(base_url: str, workload: Workload, progress: Console) -> BackendFigures:
    with private_postgres(base_url) as (url, version):
        database = Database(url)
        progress.log(f"PostgreSQL {version}: private database {make_url(url).database}")
        try:
            figures = BackendFigures("PostgreSQL", version)
            measure_backend(database, workload, figures, progress)
        finally:
            database.dispose()
    return figures


def profile_sqlite_append(workload: Workload, top: int, console: Console) -> None:
    """cProfile one SQLite append on a fresh file; its timing is not a figure."""
    with tempfile.TemporaryDirectory(prefix="hub_bench_profile_") as directory:
        database = Database(f"sqlite:///{Path(directory) / 'hub.db'}")
        try:
            prepare(database, workload, BackendFigures("SQLite", ""))
            profiler = cProfile.Profile()
            profiler.enable()
            with database.transaction() as connection:
                append_events(connection, workload.events)
            profiler.disable()
        finally:
            database.dispose()
    console.rule("cProfile of one SQLite append (sorted by own time)")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    console.rule("the same, sorted by cumulative time")
    stats.sort_stats("cumulative").print_stats(top)


# --- Reporting ------------------------------------------------------------------------


def load_average() -> str:
    """Other work on the machine skews every figure: say how busy it was."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min)"


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def report(
    console: Console,
    workload: Workload,
    derive: Distribution,
    backends: Sequence[BackendFigures],
    context: str,
) -> None:
    n = len(workload.events)
    build_us = 1e6 * workload.build_seconds / max(n, 1)

    pure = Table(title="Without a database", title_justify="left")
    pure.add_column("figure")
    pure.add_column("value", justify="right")
    pure.add_row(
        f"build {n:,} Event objects",
        f"{workload.build_seconds:.2f} s ({build_us:.1f} µs/event)",
    )
    pure.add_row(
        f"derive_case_state, {STATE_EVENTS} events",
        f"median {1e6 * derive.median:.0f} µs · p99 {1e6 * derive.p99:.0f} µs",
    )
    console.print(pure)

    table = Table(title="Event store", title_justify="left")
    table.add_column("figure")
    for backend in backends:
        table.add_column(f"{backend.name} {backend.version}", justify="right")
    rows: list[tuple[str, list[str]]] = [
        (
            f"append {n:,} (1 txn)",
            [f"{rate(n, b.append_seconds):,.0f} ev/s ({b.append_seconds:.2f} s)" for b in backends],
        ),
        (
            f"re-append {n:,} duplicates",
            [
                f"{rate(n, b.reappend_seconds):,.0f} ev/s ({b.reappend_seconds:.2f} s)"
                for b in backends
            ],
        ),
        (
            f"case_state, {STATE_EVENTS} events",
            [f"{1e3 * b.state.median:.2f} / {1e3 * b.state.p99:.2f} ms" for b in backends],
        ),
        (
            f"set-up: open {len(workload.cases):,} cases",
            [f"{b.open_cases_seconds:.2f} s" for b in backends],
        ),
    ]
    for label, cells in rows:
        table.add_row(label, *cells)
    console.print(table)
    console.print(
        "case_state: median / p99 over "
        f"{STORE_RUNS} runs on one open connection; derive_case_state over {DERIVE_RUNS} runs.",
        highlight=False,
    )
    for backend in backends:
        console.print(
            f"check {backend.name} (schema revision {backend.revision}): first append "
            f"stored {backend.appended.stored:,} "
            f"({backend.appended.unmapped:,} unmapped, {backend.appended.orphans} orphans, "
            f"{len(backend.appended.cases_changed):,} cases moved); re-append stored "
            f"{backend.reappended.stored}, {backend.reappended.duplicates:,} duplicates; "
            f"{backend.stored_total:,} events in the table; the 50-event case reads back "
            f"{backend.state_timeline} events, status {backend.state_status}; Python CPU "
            f"during append {backend.append_cpu:.2f} s of {backend.append_seconds:.2f} s, "
            f"re-append {backend.reappend_cpu:.2f} s of {backend.reappend_seconds:.2f} s",
            highlight=False,
        )

    print()
    print(
        f"Event objects: built {n:,} (stable_event_id + validation) in "
        f"{workload.build_seconds:.2f} s = {build_us:.1f} µs per event {context}"
    )
    print(
        f"derive_case_state over {STATE_EVENTS} events: median {1e6 * derive.median:.0f} µs, "
        f"p99 {1e6 * derive.p99:.0f} µs ({DERIVE_RUNS} runs) {context}"
    )
    for b in backends:
        print(
            f"{b.name} {b.version}: append_events of {n:,} events over "
            f"{len(workload.cases):,} cases in one transaction: "
            f"{rate(n, b.append_seconds):,.0f} events/s ({b.append_seconds:.2f} s) {context}"
        )
        print(
            f"{b.name} {b.version}: append_events of the same {n:,} again (all duplicates): "
            f"{rate(n, b.reappend_seconds):,.0f} events/s ({b.reappend_seconds:.2f} s) {context}"
        )
        print(
            f"{b.name} {b.version}: case_state of a case with {STATE_EVENTS} events: "
            f"median {1e3 * b.state.median:.2f} ms, p99 {1e3 * b.state.p99:.2f} ms "
            f"({STORE_RUNS} runs) {context}"
        )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark appending events and deriving a case's status."
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_VARIABLE) or DEFAULT_POSTGRES_URL,
        help=f"server to create a temporary database on (default: ${POSTGRES_VARIABLE} "
        f"or {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--events", type=int, default=DEFAULT_EVENTS, help="events in the batch (100000)"
    )
    parser.add_argument(
        "--cases", type=int, default=DEFAULT_CASES, help="open cases they spread over (2000)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, cProfile one more SQLite append and print its top functions",
    )
    arguments = parser.parse_args(argv)
    if arguments.events < 1 or arguments.cases < 1:
        parser.error("--events and --cases must be positive")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 110  # a file or a pipe: wide enough for the tables
    progress = Console(stderr=True, highlight=False, log_path=False)
    cores = os.cpu_count() or 0
    context = f"[Python {platform.python_version()}, {cores} cores]"

    console.rule("hub event store benchmark")
    console.print(
        f"Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.platform(terse=True)}, {platform.machine()}, {cores} cores"
    )
    console.print(
        f"SQLAlchemy {sqlalchemy.__version__}, pydantic {pydantic.VERSION}, "
        f"sqlite3 library {sqlite3.sqlite_version}; {load_average()}"
    )
    if arguments.skip_postgres:
        console.print("PostgreSQL: skipped (--skip-postgres)")
    else:
        safe = make_url(arguments.postgres_url).render_as_string(hide_password=True)
        console.print(f"PostgreSQL: temporary database beside {safe}")

    progress.log(f"building {arguments.events:,} events over {arguments.cases:,} cases")
    workload = build_workload(arguments.events, arguments.cases)
    console.print(
        f"Workload: {len(workload.events):,} events over {len(workload.cases):,} open cases "
        f"(+1 case of {STATE_EVENTS}); {describe(workload.events)}"
    )

    progress.log(f"derive_case_state x {DERIVE_RUNS}")
    derive = measure_derive(workload.derive_input)

    backends = [run_sqlite(workload, progress)]
    failed = False
    if not arguments.skip_postgres:
        try:
            backends.append(run_postgres(arguments.postgres_url, workload, progress))
        except (SQLAlchemyError, OSError) as exc:
            failed = True
            console.print(
                f"[red]PostgreSQL not measured[/red]: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0]} (use --skip-postgres to measure SQLite only)"
            )
        except Exception as exc:  # noqa: BLE001 - still report SQLite, show the cause
            failed = True
            progress.print_exception()
            console.print(f"[red]PostgreSQL not measured[/red]: {type(exc).__name__}: {exc}")

    report(console, workload, derive, backends, context)
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    warning = "; busier than its cores: expect noisy figures" if busy > cores else ""
    console.print(f"At the end: {load_average()}{warning}")
    if arguments.profile:
        progress.log("profiling one SQLite append")
        profile_sqlite_append(workload, 25, console)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
