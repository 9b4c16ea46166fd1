"""Benchmark of the console's cases list: a page and its count under each filter and
each kind of search, against a floor measured in the same run.

Run it from the repository root::

    .venv/bin/python bench/case_list.py [--cases N] [--repeats N]
                                        [--postgres-url URL | --skip-postgres]

On SQLite (a fresh file) and on PostgreSQL (a private ``hub_bench_<random>`` database
beside the given URL, dropped at the end) it stores N cases (20,000 by default; one in
three with a partner's reference, one in five with a parcel, one in a hundred with a
dead letter, one in ten closed), straight into the tables in chunks; then it times, R
times each (median), the first page of 25 of the operator's list and its count under
each filter and search, and the page after the 10,000th case (keyset, not offset). The
floor is opening one case by its reference (``stored_reference``), the cheapest thing
the console does; each figure is printed as milliseconds and as a ratio to that floor.
It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_postgres, scratch_sqlite
from hub.model import Party, PartyRole
from hub.store.case_lists import OPEN, CaseFilter, count_operator_cases, operator_cases
from hub.store.case_search import stored_reference
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.parties import save_party
from hub.store.tables import case_references, cases, outbox, parcels

POSTGRES_VARIABLE = "HUB_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
CHUNK = 5_000
PARTIES = [
    Party(id="maison-electro", role=PartyRole.RETAILER, name="Maison Électro"),
    Party(id="bricomarket", role=PartyRole.RETAILER, name="BricoMarket"),
    Party(id="atelier-dupont", role=PartyRole.REPAIRER, name="Atelier Dupont"),
]
FIRST = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


def reference_of(index: int) -> str:
    return f"BM-{index:07d}" if index % 10 == 9 else f"ME-{index:07d}"


def document(index: int) -> dict[str, object]:
    reference = reference_of(index)
    return {
        "reference": reference,
        "retailer": "bricomarket" if reference.startswith("BM-") else "maison-electro",
        "product": {"brand": "Seb", "model": "Actifry", "serial_number": f"SN{index:08d}"},
        "coverage": "legal_conformity",
        "service": "workshop_repair",
        "fault": "Ne chauffe plus",
        "customer": {"name": "Hélène Quintard" if index % 2000 == 7 else "Claire Durand"},
        "contract_level": "gold",
        "opened_at": (FIRST + timedelta(minutes=index)).isoformat(),
    }


def fill(database: Database, count: int) -> None:
    """``count`` cases, their references, parcels and dead letters, chunk by chunk."""
    upgrade(database)
    with database.transaction() as connection:
        for party in PARTIES:
            save_party(connection, party)
    now = datetime.now(UTC)
    for start in range(0, count, CHUNK):
        indexes = range(start, min(start + CHUNK, count))
        with database.transaction() as connection:
            connection.execute(
                cases.insert(),
                [
                    {
                        "id": index + 1,
                        "reference": reference_of(index),
                        "retailer_id": str(document(index)["retailer"]),
                        "document": document(index),
                        "content_hash": f"{index:064d}",
                        "serial_number": f"SN{index:08d}",
                        "opened_at": FIRST + timedelta(minutes=index),
                        "created_at": now,
                        "updated_at": now - timedelta(days=index % 30),
                        "status": "closed" if index % 10 == 3 else "diagnosing",
                    }
                    for index in indexes
                ],
            )
            connection.execute(
                case_references.insert(),
                [
                    {
                        "case_id": index + 1,
                        "party_id": "atelier-dupont",
                        "reference": f"AD-{index:07d}",
                        "recorded_by": "partner",
                    }
                    for index in indexes
                    if index % 3 == 0
                ],
            )
            connection.execute(
                parcels.insert(),
                [
                    {
                        "tracking_number": f"CX{index:09d}FR",
                        "case_id": index + 1,
                        "carrier": None,
                        "leg": None,
                        "learned_from": f"ev-{index}",
                        "recorded_at": now,
                    }
                    for index in indexes
                    if index % 5 == 0
                ],
            )
            connection.execute(
                outbox.insert(),
                [
                    {
                        "target": "atelier-dupont-orders",
                        "kind": "repair_order",
                        "case_ref": reference_of(index),
                        "ordering_key": reference_of(index),
                        "idempotency_key": f"order-{index}",
                        "payload": {},
                        "created_at": now,
                        "state": "dead" if index % 100 == 7 else "delivered",
                        "attempts": 1,
                        "next_attempt_at": now,
                    }
                    for index in indexes
                ],
            )
    if database.dialect == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with database.transaction() as connection:
            connection.exec_driver_sql("ANALYZE")


def median_ms(work: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(database: Database, count: int, repeats: int, console: Console) -> None:
    middle = min(10_000, count // 2)
    probes: list[tuple[str, CaseFilter, int | None]] = [
        ("every case, first page", CaseFilter(), None),
        (f"every case, page after the {middle:,}th", CaseFilter(), count - middle),
        ("open", CaseFilter(status=OPEN), None),
        ("one retailer, open", CaseFilter(retailer="bricomarket", status=OPEN), None),
        ("partner", CaseFilter(partner="atelier-dupont"), None),
        ("dead letter", CaseFilter(dead_letters=True), None),
        ("stale (7 d)", CaseFilter(quiet_since=datetime.now(UTC) - timedelta(days=7)), None),
        ("search: reference prefix", CaseFilter(text="bm-00001"), None),
        ("search: serial", CaseFilter(text="SN0000123"), None),
        ("search: partner reference", CaseFilter(text="ad-00012"), None),
        ("search: tracking number", CaseFilter(text="CX00000"), None),
        ("search: customer name", CaseFilter(text="quintard"), None),
    ]
    with database.transaction() as connection:
        floor = median_ms(lambda: stored_reference(connection, reference_of(count // 2)), repeats)
        table = Table(
            "list",
            "page ms",
            "× floor",
            "count ms",
            "× floor",
            "found",
            title=f"{database.dialect}: {count:,} cases; floor (one case by reference) "
            f"{floor:.2f} ms",
        )
        for name, where, before in probes:
            page = median_ms(
                partial(operator_cases, connection, where, count=25, before=before), repeats
            )
            counted = median_ms(partial(count_operator_cases, connection, where), repeats)
            found = count_operator_cases(connection, where)
            table.add_row(
                name,
                f"{page:.2f}",
                f"{page / floor:.0f}",
                f"{counted:.2f}",
                f"{counted / floor:.0f}",
                f"{found:,}",
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_VARIABLE, DEFAULT_POSTGRES_URL),
    )
    parser.add_argument("--skip-postgres", action="store_true")
    options = parser.parse_args()
    console = Console(width=120)
    with scratch_sqlite() as sqlite:
        fill(sqlite, options.cases)
        measure(sqlite, options.cases, options.repeats, console)
    if not options.skip_postgres:
        with scratch_postgres(options.postgres_url) as postgres:
            fill(postgres, options.cases)
            measure(postgres, options.cases, options.repeats, console)


if __name__ == "__main__":
    main()
