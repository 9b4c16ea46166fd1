"""TechniService changes: parsed, mapped and stored per second, pages of 200.

Beside it, in the same run, the raw floor: lxml parsing the same pages and validating
them against the same XSD, and nothing else (the hub may not skip either). The floor and
the XML path alone (no store) are timed in turns, their medians kept, in CPU time (both
are pure computation in this process: wall time would also count the neighbours on a
shared machine, and more so for the longer run); the stores run once, in wall time,
beside a store floor: the same parse and XSD, four values per change, and one
executemany into the hub's events table (what storing costs at the least on this schema).

    .venv/bin/python bench/xml.py [--pages 50] [--postgres-url URL] [--skip-postgres]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named after the wording; run as a script, its folder would come
# first on sys.path and hide the standard library's `xml` package from every import.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).parent]

import argparse
import os
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta, timezone
from xml.sax.saxutils import escape

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import prepared_sqlite_file, scratch_postgres, scratch_sqlite
from hub.config.network import load_network
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.model import Case
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.ports import MessageRef, RawMessage
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.parties import save_party

PAGE = 200
REPAIRS = 1_000
TRIES = 7
"""The floor and the XML path alone take a few tens of milliseconds a run: they are timed
in turns, this many times, and the median of each is kept, so that both meet the same
neighbours on the shared machine (one run's floor alone varied from 170k to 380k
changes/s)."""
CODES = ["10", "20", "25", "27", "30", "40", "50", "60"]
PARIS = timezone(timedelta(hours=1))


def pages(count: int) -> list[bytes]:
    """Pages as TechniService sends them: quotes, parts, notes with entities, tracking."""
    start = datetime(2026, 10, 1, 8, 0, tzinfo=PARIS)
    documents = []
    seq = 1
    for page in range(count):
        more = "true" if page < count - 1 else "false"
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ts:Changes xmlns:ts="urn:techniservice:repairs:v2" next="tok{page + 1}" '
            f'more="{more}">'
        ]
        for _ in range(PAGE):
            repair = seq % REPAIRS
            code = CODES[seq % len(CODES)]
            at = (start + timedelta(minutes=seq)).isoformat()
            extra = ""
            if code == "25":
                extra = '<ts:Quote currency="EUR" amountInclTax="212.00"/>'
            elif code == "30":
                extra = '<ts:Part ref="PP-77120" qty="1"/><ts:Part ref="PP-45001" qty="2"/>'
            elif code == "60":
                extra = f'<ts:Tracking carrier="ColisExpress" number="CE{seq:09d}FR"/>'
            note = f"<ts:Note>{escape('Relais <K2> & carte')}</ts:Note>" if seq % 5 == 0 else ""
            parts.append(
                f'<ts:Change seq="{seq}"><ts:RepairId>TS-{repair:06d}</ts:RepairId>'
                f"<ts:OrderRef>ME-{repair:06d}</ts:OrderRef>"
                f'<ts:Status code="{code}" at="{at}"/>{extra}{note}</ts:Change>'
            )
            seq += 1
        parts.append("</ts:Changes>")
        documents.append("".join(parts).encode())
    return documents


def pipeline() -> InboundPipeline:
    mapping = load_mapping(ROOT / "mappings" / "techniservice.yaml")
    spec = mapping.inbound("changes")
    return InboundPipeline(build_codec(spec), InboundMapping(mapping, "changes"))


def prepare(database: Database) -> None:
    upgrade(database)
    template = Case.model_validate_json((ROOT / "fixtures/cases/ME-000130.json").read_bytes())
    with database.transaction() as connection:
        for party in load_network(ROOT / "connectors.yaml").parties:
            save_party(connection, party)
        for repair in range(REPAIRS):
            open_case(
                connection,
                template.model_copy(update={"reference": f"ME-{repair:06d}", "references": ()}),
            )


def store(database: Database, documents: list[bytes]) -> float:
    flow = pipeline()
    start = time.perf_counter()
    for number, document in enumerate(documents):
        message = RawMessage(MessageRef(f"changes?since=tok{number}", len(document)), document)
        ingest_message(database, "bench-ts", flow, message)
    return time.perf_counter() - start


def parse_only(documents: list[bytes]) -> float:
    """The XML path alone, as a dry run reads it: guard, parse, XSD, fields, mapping,
    events built; nothing stored."""
    flow = pipeline()
    recorded_at = datetime.now(UTC)
    start = time.process_time()
    for number, document in enumerate(documents):
        for _ in flow.parse(document, source=f"changes?since=tok{number}", recorded_at=recorded_at):
            pass
    return time.process_time() - start


def floor(documents: list[bytes]) -> float:
    """lxml's parse and XSD validation of every page: the work no XML ingestion can skip."""
    schema = etree.XMLSchema(etree.parse(str(ROOT / "mappings/techniservice/repairs-v2.xsd")))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    start = time.process_time()
    for document in documents:
        if not schema.validate(etree.fromstring(document, parser)):
            raise SystemExit(f"a bench page breaks the XSD: {schema.error_log.last_error}")
    return time.process_time() - start


def store_floor(documents: list[bytes]) -> float:
    """The least any XML ingestion on this schema pays to store the changes: the floor's
    parse and XSD validation, each change's four values read by ElementPath, and the rows
    into the hub's own events table (each with its case's id: its indexes, foreign keys and
    feed trigger) in one executemany; nothing else (no id hashing, no details, no archive).
    In wall time, like the stores."""
    schema = etree.XMLSchema(etree.parse(str(ROOT / "mappings/techniservice/repairs-v2.xsd")))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    codes = load_mapping(ROOT / "mappings" / "techniservice.yaml").inbound("changes").codes
    ns = {"ts": "urn:techniservice:repairs:v2"}
    with prepared_sqlite_file(prepare) as path:
        start = time.perf_counter()
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA foreign_keys=ON")
        case_ids = dict(connection.execute("SELECT reference, id FROM cases"))
        recorded = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        rows = []
        for document in documents:
            root = etree.fromstring(document, parser)
            if not schema.validate(root):
                raise SystemExit(f"a bench page breaks the XSD: {schema.error_log.last_error}")
            for change in root.iterfind("ts:Change", ns):
                repair = change.findtext("ts:RepairId", namespaces=ns)
                order = change.findtext("ts:OrderRef", namespaces=ns)
                status = change.find("ts:Status", ns)
                assert status is not None
                code, at = status.get("code"), datetime.fromisoformat(status.get("at") or "")
                rows.append(
                    (
                        f"techniservice:{change.get('seq')}",
                        case_ids.get(order),
                        order,
                        repair,
                        codes.get(code or ""),
                        at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
                        recorded,
                        code,
                    )
                )
        connection.executemany(
            "INSERT INTO events (event_id, case_id, case_ref, partner_ref, type, status, "
            "unmapped, occurred_at, occurred_offset_minutes, recorded_at, reported_by, "
            "raw_code) VALUES (?, ?, ?, ?, 'case_status', ?, 0, ?, 60, ?, 'techniservice', ?)",
            rows,
        )
        connection.commit()
        connection.close()
        return time.perf_counter() - start


def on_postgres(url: str, documents: list[bytes]) -> float:
    with scratch_postgres(url) as database:
        prepare(database)
        return store(database, documents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "HUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    documents = pages(args.pages)
    changes = args.pages * PAGE
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}")
    print(f"{args.pages} pages of {PAGE} changes, {sum(map(len, documents)) / 1e6:.1f} MB")
    floors, paths = [], []
    for _ in range(TRIES):
        floors.append(floor(documents))
        paths.append(parse_only(documents))
    raw = changes / statistics.median(floors)
    print(f"raw floor (lxml parse + XSD validation, CPU time): {raw:,.0f} changes/s")
    parsed = changes / statistics.median(paths)
    print(
        f"hub parsing (XSD, mapping, events built, no store, CPU time): {parsed:,.0f} changes/s, "
        f"{parsed / raw:.3f} of the raw floor"
    )
    store_rate = changes / store_floor(documents)
    print(
        f"store floor (parse, XSD, four values, one executemany into the events table): "
        f"{store_rate:,.0f} changes/s, {store_rate / raw:.3f} of the raw floor"
    )
    with scratch_sqlite() as database:
        prepare(database)
        rate = changes / store(database, documents)
    print(
        f"hub on SQLite (XSD, mapping, store): {rate:,.0f} changes/s, "
        f"{rate / raw:.3f} of the raw floor, {rate / store_rate:.2f} of the store floor"
    )
    if not args.skip_postgres:
        pg_rate = changes / on_postgres(args.postgres_url, documents)
        print(f"hub on PostgreSQL: {pg_rate:,.0f} changes/s, {pg_rate / raw:.3f} of the raw floor")


if __name__ == "__main__":
    main()
