"""Ingestion throughput: a generated Atelier Dupont status file through the whole pipeline.

Prints rows per second for the hub (codec -> mapping -> case resolution -> store, in one
transaction, with the raw archive), the cases of the file opened first as in production,
beside floors measured in the same run: the raw floor (the same file through csv.reader,
the same date parsing, and one SQLite executemany) and the store floors (the same rows
into the hub's own events table: one executemany on SQLite, one COPY on PostgreSQL),
and the duties floors (the store floors with the duties the hub must do and they skip,
each the least way: the file archived, its id on every event, ids by a hash, the
details' JSON, the touched cases' status; ``--duty-steps`` adds them one at a time). On
PostgreSQL, this process's CPU and the server backends' (/proc) for the floors and the hub.
Then the dry run (`hub ingest --dry-run`: parse, map, write JSON lines; nothing stored)
against the raw floor, the overhead of 1,000 small files of 10 rows beyond their rows,
the same small files as a user has them taken (one `hub run` process reading them from a
folder, the shipped sync rules on) beside the small-files floor of each database, and a
1,000,000-row file streamed in a child process with its peak memory.

    .venv/bin/python bench/ingest.py [--rows 200000] [--postgres-url URL] [--skip-postgres]
                                     [--small-files 1000] [--duty-steps]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import (
    prepared_sqlite_file,
    private_postgres,
    scratch_postgres,
    scratch_sqlite,
)
from commands.common import settle_collector_for_batch
from hub.config.network import load_network
from hub.mapping.values import localize
from hub.model import Case, Event
from hub.partners.connectors import open_network
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import dry_run_line
from hub.ports import MessageRef, RawMessage
from hub.store.cases import open_case
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.parties import save_party
from hub.store.urls import sqlite_pragmas

HEADER = (
    "N° dossier;Réf. client;Date statut;Heure;Code statut;Libellé;Commentaire;N° série;"
    "Montant devis TTC;Réf. pièce"
)
CODES = [
    ("REC", "Reçu atelier"),
    ("DIA", "Diagnostic en cours"),
    ("DEV", "Devis émis"),
    ("ACC", "Devis accepté"),
    ("ATP", "Attente pièce"),
    ("REP", "En réparation"),
    ("TER", "Réparation terminée"),
    ("EXP", "Expédié"),
]
CASES = 2_000
NOW = datetime(2026, 11, 3, 14, 15, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def generate(rows: int, seed: int = 7) -> bytes:
    """A Latin-1, CRLF status file: realistic comments, amounts, parts, a few bad rows."""
    rng = random.Random(seed)
    out = io.StringIO(newline="")
    out.write(HEADER + "\r\n")
    for number in range(rows):
        case = rng.randrange(CASES)
        reference = f"ME-{case:06d}" if case % 2 else f"BM-{case:06d}"
        code, label = CODES[number % len(CODES)]
        minute = number % (60 * 24 * 28)
        day, rest = divmod(minute, 60 * 24)
        hour, mins = divmod(rest, 60)
        comment = ""
        if number % 7 == 0:
            comment = '"Pièce HS; remplacement conseillé"'
        elif number % 11 == 0:
            comment = '"Client prévenu\r\nrappel demain"'
        amount = f"{rng.randrange(20, 900)},{rng.randrange(100):02d}" if code == "DEV" else ""
        part = f"PP-{rng.randrange(10000, 99999)}" if code == "ATP" else ""
        if number % 500 == 499:
            out.write(f"AD-2026-{case:06d};{reference};31/02/2026;{hour:02d}:{mins:02d};{code}\r\n")
            continue
        out.write(
            f"AD-2026-{case:06d};{reference};{day + 1:02d}/10/2026;{hour:02d}:{mins:02d};"
            f"{code};{label};{comment};SN{case:08d};{amount};{part}\r\n"
        )
    return out.getvalue().encode("latin-1")


def _floor_rows(content: bytes) -> list[tuple[str, str, str, str, str, str, str]]:
    reader = csv.reader(io.StringIO(content.decode("latin-1"), newline=""), delimiter=";")
    next(reader)
    rows = []
    for row in reader:
        if len(row) != 10:
            continue
        try:
            wall = datetime.strptime(f"{row[2]} {row[3]}", "%d/%m/%Y %H:%M")
        except ValueError:
            continue
        at = localize(wall, PARIS)
        rows.append((row[0], row[1], row[4], at.isoformat(), row[5], row[6], row[7]))
    return rows


_FLOOR_COLUMNS = (
    "event_id, case_id, case_ref, partner_ref, type, status, unmapped, occurred_at, "
    "occurred_offset_minutes, recorded_at, reported_by, raw_code, raw_label"
)
"""The events' columns the store floors write, the store floor's and the small files'."""

_SQLITE_FLOOR_INSERT = (
    f"INSERT INTO events ({_FLOOR_COLUMNS}) "
    "VALUES (?, ?, ?, ?, 'case_status', ?, 0, ?, 60, ?, 'atelier-dupont', ?, ?)"
)
"""The store floors' insert on SQLite (one executemany of it)."""


def _floor_values(
    rows: list[tuple[str, str, str, str, str, str, str]],
    case_ids: dict[str, int],
    recorded: str,
    *,
    prefix: str | None = None,
) -> list[tuple[object, ...]]:
    """``_SQLITE_FLOOR_INSERT``'s values of the rows: each id the row's partner reference
    (or ``prefix``, a small file's name) and its number."""
    return [
        (f"{prefix or r[0]}:{n}", case_ids.get(r[1]), r[1], r[0], r[2], r[3], recorded, r[2], r[4])
        for n, r in enumerate(rows)
    ]


def raw_floor(content: bytes) -> float:
    """The same file through csv.reader, strptime + zone, and one SQLite executemany."""
    start = time.perf_counter()
    rows = _floor_rows(content)
    with tempfile.TemporaryDirectory() as scratch:
        connection = sqlite3.connect(Path(scratch) / "floor.db")
        connection.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, partner_ref TEXT, case_ref TEXT, "
            "code TEXT, occurred_at TEXT, label TEXT, note TEXT, serial TEXT)"
        )
        connection.executemany(
            "INSERT INTO events (partner_ref, case_ref, code, occurred_at, label, note, serial) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.commit()
        connection.close()
    return time.perf_counter() - start


def store_floor(content: bytes) -> float:
    """The same rows into the hub's own events table, each with its case's id: what any
    implementation on this schema pays at the least (its indexes, its foreign keys, the
    feed trigger that gives every retailer's event its place in the feed)."""
    with prepared_sqlite_file(prepare) as path:
        start = time.perf_counter()
        rows = _floor_rows(content)
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA foreign_keys=ON")
        case_ids = dict(connection.execute("SELECT reference, id FROM cases"))
        recorded = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        connection.executemany(_SQLITE_FLOOR_INSERT, _floor_values(rows, case_ids, recorded))
        connection.commit()
        connection.close()
        return time.perf_counter() - start


def postgres_store_floor(url: str, content: bytes) -> PostgresFigures:
    """The store floor on PostgreSQL: the same rows into the hub's events table with one
    COPY (the fastest way in), each with its case's id, in one transaction."""
    with scratch_postgres(url) as database:
        prepare(database)
        before = backends_cpu(database)
        start, cpu = time.perf_counter(), time.process_time()
        rows = _floor_rows(content)
        recorded = datetime.now(UTC).isoformat()
        with database.transaction() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            case_ids = dict(cursor.execute("SELECT reference, id FROM cases").fetchall())
            with cursor.copy(f"COPY events ({_FLOOR_COLUMNS}) FROM STDIN") as copy:
                for n, r in enumerate(rows):
                    case_id = case_ids.get(r[1])
                    row = (f"{r[0]}:{n}", case_id, r[1], r[0], "case_status", r[2], False)
                    copy.write_row((*row, r[3], 60, recorded, "atelier-dupont", r[2], r[4]))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return PostgresFigures(seconds, cpu, _server_cpu(before, backends_cpu(database)))


DUTIES = ("archive", "message id", "stable ids", "details", "case status")
"""What the hub must do beyond the store floor's insert (issue 17: "no target is met by
skipping work the hub must do"), in the order ``--duty-steps`` adds them."""

STATUSES = {
    "REC": "received",
    "DIA": "diagnosing",
    "DEV": "quote_pending",
    "ACC": "in_repair",
    "ATP": "waiting_parts",
    "REP": "in_repair",
    "TER": "repaired",
    "EXP": "return_in_transit",
}
"""The status of each code the file uses, as Atelier Dupont's mapping gives it: the
store floor stores the code itself, the duties floor the status the hub stores."""

DUTY_WORDS = (
    "the file archived (zlib, SHA-256), its id on every event, ids by a hash, the details' "
    "JSON, the touched cases' status"
)

DutyRow = tuple[str, str, str, str, int, str, str, str, str, str]


def _duty_rows(content: bytes) -> list[DutyRow]:
    """The store floor's reading (csv.reader, strptime, the zone), each instant also as
    the UTC text SQLite stores and an id hashes, with its offset in minutes (both worked
    out once an hour, as the hub does), and the columns the details take."""
    reader = csv.reader(io.StringIO(content.decode("latin-1"), newline=""), delimiter=";")
    next(reader)
    hours: dict[tuple[str, str], tuple[str, int]] = {}
    rows: list[DutyRow] = []
    for row in reader:
        if len(row) != 10:
            continue
        try:
            wall = datetime.strptime(f"{row[2]} {row[3]}", "%d/%m/%Y %H:%M")
        except ValueError:
            continue
        hour = (row[2], row[3][:2])
        known = hours.get(hour)
        if known is None:
            at = localize(wall, PARIS)
            offset = at.utcoffset()
            assert offset is not None
            known = (f"{at.astimezone(UTC):%Y-%m-%d %H}:", offset // timedelta(minutes=1))
            hours[hour] = known
        utc = f"{known[0]}{row[3][3:]}:00.000000"
        rows.append((row[0], row[1], row[4], utc, known[1], row[5], row[6], row[7], row[8], row[9]))
    return rows


@dataclass(frozen=True)
class DutyEvents:
    """The duties floor's events, with what its statements take besides."""

    rows: list[tuple[object, ...]]
    latest: dict[int, tuple[str, str, str]]
    """Each touched case's latest event: instant (UTC text), id, status."""


def _duty_events(
    content: bytes,
    case_ids: dict[str, int],
    duties: Collection[str],
    message_id: int | None,
    recorded: str,
) -> DutyEvents:
    """The events' rows, each duty done the least way: an id hashed from what identifies
    the fact (the first of the same id kept, as the hub keeps it), the details' JSON as
    the mapping gives them, each case's latest event kept for one update."""
    stable = "stable ids" in duties
    details = "details" in duties
    latest: dict[int, tuple[str, str, str]] | None = {} if "case status" in duties else None
    rows: list[tuple[object, ...]] = []
    seen: set[str] = set()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for n, (ref, case_ref, code, utc, offset, label, note, serial, amount, part) in enumerate(
        _duty_rows(content)
    ):
        if stable:
            identity = "\x1f".join(("atelier-dupont", case_ref, ref, "case_status", code, utc))
            event_id = f"atelier-dupont:h:{hashlib.sha256(identity.encode()).hexdigest()[:40]}"
            if event_id in seen:
                continue
            seen.add(event_id)
        else:
            event_id = f"{ref}:{n}"
        detail_json = None
        if details:
            given: dict[str, object] = {}
            if amount:
                given["quote"] = {
                    "amount_incl_tax": {"amount": amount.replace(",", "."), "currency": "EUR"}
                }
            if part:
                given["parts"] = [{"line_no": 1, "sku": part}]
            if serial:
                given["serial_number"] = serial
            if note:
                given["note"] = note
            detail_json = dumps(given) if given else None
        status = STATUSES[code]
        case_id = case_ids.get(case_ref)
        if latest is not None and case_id is not None:
            known = latest.get(case_id)
            if known is None or (utc, event_id) > known[:2]:
                latest[case_id] = (utc, event_id, status)
        row = (event_id, case_id, case_ref, ref, status, utc, offset, recorded, code, label)
        rows.append((*row, detail_json, message_id))
    return DutyEvents(rows, latest or {})


def _archive_row(content: bytes, received: str) -> tuple[object, ...]:
    """The raw message as the archive keeps a partner file: zlib level 1, its SHA-256."""
    return (
        "bench",
        "STATUTS_20261103_1415.csv",
        hashlib.sha256(content).hexdigest(),
        len(content),
        zlib.compress(content, 1),
        "zlib",
        received,
        "{}",
    )


_ARCHIVE_INSERT = (
    "INSERT INTO raw_messages (source, name, sha256, size, content, compression, "
    "received_at, meta) VALUES ({0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}) RETURNING id"
)
_EVENT_COLUMNS = (
    "event_id, case_id, case_ref, partner_ref, status, occurred_at, occurred_offset_minutes, "
    "recorded_at, raw_code, raw_label, details, message_id"
)


def duties_floor(content: bytes, duties: Collection[str] = DUTIES) -> float:
    """The store floor with the duties the hub must do, each the least way, on SQLite:
    the file archived (one row), its id on every event, ids by a hash, the details'
    JSON, one statement moving the touched cases' status (or stamping them)."""
    with prepared_sqlite_file(prepare) as path:
        start = time.perf_counter()
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA foreign_keys=ON")
        case_ids = dict(connection.execute("SELECT reference, id FROM cases"))
        recorded = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        message_id = None
        if "archive" in duties:
            archived = connection.execute(
                _ARCHIVE_INSERT.format("?"), _archive_row(content, recorded)
            ).fetchone()
            if "message id" in duties:
                message_id = archived[0]
        made = _duty_events(content, case_ids, duties, message_id, recorded)
        connection.executemany(
            f"INSERT INTO events ({_EVENT_COLUMNS}, type, unmapped, reported_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'case_status', 0, 'atelier-dupont')",
            made.rows,
        )
        if "case status" in duties:
            connection.executemany(
                "UPDATE cases SET status = CASE WHEN status_at IS NULL OR status_at < ?1 "
                "THEN ?3 ELSE status END, status_event_id = CASE WHEN status_at IS NULL OR "
                "status_at < ?1 THEN ?2 ELSE status_event_id END, status_at = CASE WHEN "
                "status_at IS NULL OR status_at < ?1 THEN ?1 ELSE status_at END, "
                "updated_at = ?4 WHERE id = ?5",
                [(*latest, recorded, case_id) for case_id, latest in made.latest.items()],
            )
        connection.commit()
        connection.close()
        return time.perf_counter() - start


@dataclass(frozen=True)
class PostgresFigures:
    """A PostgreSQL run: its wall clock, this process's CPU and the server's backends'
    CPU (None when their /proc entries cannot be read: a server on another machine)."""

    seconds: float
    client_cpu: float
    server_cpu: float | None


def process_cpu(pid: int) -> float | None:
    """A process's user and system CPU seconds so far, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends_cpu(database: Database) -> dict[int, float | None]:
    """CPU so far of every server backend connected to ``database``'s database."""
    with database.transaction() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        pids = driver.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    return {pid: process_cpu(pid) for (pid,) in pids}


def _server_cpu(before: dict[int, float | None], after: dict[int, float | None]) -> float | None:
    """The backends' CPU between two readings (a backend new since the first from zero)."""
    spent = 0.0
    for pid, cpu in after.items():
        earlier = before.get(pid, 0.0)
        if cpu is None or earlier is None:
            return None
        spent += cpu - earlier
    return spent


def postgres_duties_floor(
    url: str, content: bytes, duties: Collection[str] = DUTIES
) -> PostgresFigures:
    """The duties floor on PostgreSQL: the archive's row and one COPY of the events (text,
    as the store floor's), then one UPDATE ... FROM unnest of the touched cases, in one
    transaction."""
    with scratch_postgres(url) as database:
        prepare(database)
        before = backends_cpu(database)
        start, cpu = time.perf_counter(), time.process_time()
        recorded = datetime.now(UTC).isoformat()
        with database.transaction() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            # Instants written as UTC texts without an offset, read as UTC.
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            case_ids = dict(cursor.execute("SELECT reference, id FROM cases").fetchall())
            message_id = None
            if "archive" in duties:
                archived = cursor.execute(
                    _ARCHIVE_INSERT.format("%s"), _archive_row(content, recorded)
                ).fetchone()
                assert archived is not None
                if "message id" in duties:
                    message_id = archived[0]
            made = _duty_events(content, case_ids, duties, message_id, recorded)
            columns = f"{_EVENT_COLUMNS}, type, unmapped, reported_by"
            with cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
                for row in made.rows:
                    copy.write_row((*row, "case_status", False, "atelier-dupont"))
            if "case status" in duties:
                moved = "c.status_at IS NULL OR c.status_at < n.at"
                cursor.execute(
                    f"UPDATE cases AS c SET status = CASE WHEN {moved} THEN n.status "
                    f"ELSE c.status END, status_event_id = CASE WHEN {moved} THEN n.event_id "
                    f"ELSE c.status_event_id END, status_at = CASE WHEN {moved} THEN n.at "
                    "ELSE c.status_at END, updated_at = %s FROM unnest(%s::bigint[], "
                    "%s::timestamptz[], %s::text[], %s::text[]) AS n(id, at, event_id, status) "
                    "WHERE c.id = n.id",
                    (
                        recorded,
                        list(made.latest),
                        [latest[0] for latest in made.latest.values()],
                        [latest[1] for latest in made.latest.values()],
                        [latest[2] for latest in made.latest.values()],
                    ),
                )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return PostgresFigures(seconds, cpu, _server_cpu(before, backends_cpu(database)))


def dry_run(content: bytes) -> tuple[float, int]:
    """`hub ingest --dry-run`: parse and map every row, write each event as a JSON line
    (to memory here, not a terminal, as the command writes them: bytes); store nothing."""
    connector = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status")
    start = time.perf_counter()
    sink = io.BytesIO()
    events = 0
    for item in connector.pipeline().parse(content, source="bench.csv", recorded_at=NOW):
        if isinstance(item, Event):
            events += 1
            sink.write(dry_run_line(item))
    return time.perf_counter() - start, events


def small_files(files: int, rows_each: int) -> tuple[float, int]:
    """Many small files one after the other, each its own message (archived, parsed,
    stored in its transactions), on SQLite with the cases opened: the whole time."""
    contents = [generate(rows_each, seed=seed) for seed in range(files)]
    with scratch_sqlite() as database:
        prepare(database)
        connector = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status")
        pipeline = connector.pipeline()
        stored = 0
        start = time.perf_counter()
        for number, content in enumerate(contents):
            name = f"STATUTS_20261103_{number:05d}.csv"
            message = RawMessage(MessageRef(name, len(content)), content)
            stored += ingest_message(database, "bench", pipeline, message).counts.events_stored
        return time.perf_counter() - start, stored


def prepare(database: Database) -> None:
    """Migrate, register the network and open the cases the file talks about."""
    upgrade(database)
    network = load_network(ROOT / "connectors.yaml")
    template = Case.model_validate_json((ROOT / "fixtures/cases/ME-000123.json").read_bytes())
    with database.transaction() as connection:
        for party in network.parties:
            save_party(connection, party)
        for case in range(CASES):
            reference = f"ME-{case:06d}" if case % 2 else f"BM-{case:06d}"
            retailer = "maison-electro" if case % 2 else "bricomarket"
            product = template.product.model_copy(update={"serial_number": f"SN{case:08d}"})
            open_case(
                connection,
                template.model_copy(
                    update={
                        "reference": reference,
                        "retailer": retailer,
                        "product": product,
                        "references": (),
                    }
                ),
            )


def hub_ingest(database: Database, content: bytes) -> tuple[float, int, int, float]:
    """The hub's ingestion of the file: wall clock, events stored, rows rejected, and this
    process's CPU (its parse-ahead thread's included)."""
    connector = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status")
    message = RawMessage(MessageRef("STATUTS_20261103_1415.csv", len(content)), content)
    start, cpu = time.perf_counter(), time.process_time()
    outcome = ingest_message(database, "bench", connector.pipeline(), message)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, outcome.counts.events_stored, outcome.counts.rejected, cpu


def whole_command(content: bytes, postgres_url: str | None = None) -> float:
    """`hub ingest` of the file as a user runs it: a process of its own, the shipped
    network with its sync rules (the messages they queue for partners and retailers,
    which `hub_ingest` above leaves out), into a SQLite file (or a scratch PostgreSQL
    database beside ``postgres_url``) with the cases opened; its wall time, the
    process's start included."""
    if postgres_url is None:
        with prepared_sqlite_file(prepare) as path:
            return _timed_ingest(content, f"sqlite:///{path}", path.parent)
    with scratch_postgres(postgres_url) as database, tempfile.TemporaryDirectory() as folder:
        prepare(database)
        return _timed_ingest(content, database.url, Path(folder))


def _timed_ingest(content: bytes, url: str, folder: Path) -> float:
    received = folder / "STATUTS_20261103_1415.csv"
    received.write_bytes(content)
    environment = dict(os.environ, HUB_DATABASE_URL=url)
    command = [sys.executable, str(ROOT / "cli.py"), "ingest"]
    command += ["--connector", "atelier-dupont-status", "--file", str(received)]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=environment, check=True, capture_output=True)
    return time.perf_counter() - start


SMALL_CONNECTOR = "atelier-dupont-status"


def small_contents(files: int, rows_each: int) -> list[bytes]:
    """The small files: ``generate(rows_each, seed=n)``, each its own dossiers' rows."""
    return [generate(rows_each, seed=seed) for seed in range(files)]


def _small_name(number: int) -> str:
    return f"STATUTS_20261103_{number:05d}.csv"


def _folder_network(folder: Path) -> Path:
    """The shipped network with one change: Atelier Dupont's status connector reads a
    folder here (``inbox``, read files archived to ``done``, as its SFTP server's
    ``/out/archive``) rather than the workshop's SFTP server. Its mapping, parties,
    routes and sync rules are the shipped ones (mapping paths made absolute: the copy
    lives elsewhere)."""
    import yaml

    document = yaml.safe_load((ROOT / "connectors.yaml").read_text(encoding="utf-8"))
    for spec in document["connectors"]:
        spec["mapping"] = str(ROOT / spec["mapping"])
        if spec["name"] == SMALL_CONNECTOR:
            spec["transport"] = {
                "type": "local-dir",
                "path": str(folder / "inbox"),
                "archive_dir": str(folder / "done"),
            }
    path = folder / "connectors.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def whole_run_small_files(contents: list[bytes], postgres_url: str | None = None) -> float:
    """The small files as a user has the hub take them: one `hub run` process (`hub
    ingest` takes one file; a connector's run reads every file of its inbox), the shipped
    network and its sync rules, the cases opened first, into a SQLite file or a scratch
    PostgreSQL database; its wall time, the process's start included."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "inbox").mkdir()
        for number, content in enumerate(contents):
            (folder / "inbox" / _small_name(number)).write_bytes(content)
        network = _folder_network(folder)
        command = [sys.executable, str(ROOT / "cli.py"), "run", SMALL_CONNECTOR]
        command += ["--network", str(network)]
        with _prepared_url(postgres_url) as url:
            environment = dict(os.environ, HUB_DATABASE_URL=url)
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, env=environment, check=True, capture_output=True)
            elapsed = time.perf_counter() - start
        if len(list((folder / "done").iterdir())) != len(contents):
            raise RuntimeError("the run did not read every small file")
        return elapsed


@contextmanager
def _prepared_url(postgres_url: str | None) -> Iterator[str]:
    """A database with the schema and the cases opened: a SQLite file, or a scratch
    PostgreSQL database; its URL, the database closed (the command opens its own)."""
    if postgres_url is None:
        with prepared_sqlite_file(prepare) as path:
            yield f"sqlite:///{path}"
        return
    with private_postgres(postgres_url) as (url, _version):
        database = Database(url)
        try:
            prepare(database)
        finally:
            database.dispose()
        yield url


def small_files_floor(contents: list[bytes], postgres_url: str | None = None) -> float:
    """The least any implementation pays for the small files: each file read from its
    folder and its rows into the hub's events table as the store floor puts them (one
    executemany on SQLite, one COPY on PostgreSQL), one commit a file, since a file may
    be acknowledged only once its rows are durable; cases opened first, the cases' ids
    read once. In this process: no process start, no sync rules, no archive."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        paths = []
        for number, content in enumerate(contents):
            paths.append(folder / _small_name(number))
            paths[-1].write_bytes(content)
        with _prepared_url(postgres_url) as url:
            if postgres_url is None:
                return _sqlite_files_floor(Path(url.removeprefix("sqlite:///")), paths)
            return _postgres_files_floor(url, paths)


def _sqlite_files_floor(database: Path, paths: list[Path]) -> float:
    start = time.perf_counter()
    connection = sqlite3.connect(database)
    sqlite_pragmas(connection)  # the hub's own: WAL, synchronous=NORMAL, foreign keys
    case_ids = dict(connection.execute("SELECT reference, id FROM cases"))
    for path in paths:
        rows = _floor_rows(path.read_bytes())
        at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        connection.executemany(
            _SQLITE_FLOOR_INSERT, _floor_values(rows, case_ids, at, prefix=path.name)
        )
        connection.commit()
    connection.close()
    return time.perf_counter() - start


def _postgres_files_floor(url: str, paths: list[Path]) -> float:
    import psycopg

    start = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as driver:
        cursor = driver.cursor()
        case_ids: dict[str, int] = dict(
            cursor.execute("SELECT reference, id FROM cases").fetchall()
        )
        driver.commit()
        for path in paths:
            rows = _floor_rows(path.read_bytes())
            recorded = datetime.now(UTC).isoformat()
            with cursor.copy(f"COPY events ({_FLOOR_COLUMNS}) FROM STDIN") as copy:
                for n, r in enumerate(rows):
                    row = (f"{path.name}:{n}", case_ids.get(r[1]), r[1], r[0], "case_status")
                    more = (r[2], False, r[3], 60, recorded, "atelier-dupont", r[2], r[4])
                    copy.write_row((*row, *more))
            driver.commit()
    return time.perf_counter() - start


def sqlite_run(content: bytes) -> tuple[float, int, int]:
    with scratch_sqlite() as database:
        prepare(database)
        return hub_ingest(database, content)[:3]


def postgres_run(url: str, content: bytes) -> tuple[PostgresFigures, int, int]:
    with scratch_postgres(url) as database:
        prepare(database)
        before = backends_cpu(database)
        elapsed, stored, rejected, cpu = hub_ingest(database, content)
        server = _server_cpu(before, backends_cpu(database))
        return PostgresFigures(elapsed, cpu, server), stored, rejected


def peak_memory_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries a
    parent's ru_maxrss over into a child across exec, which would blame the child for
    the parent's peak."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(path: str) -> None:
    """Run in a child: read the file, ingest it into SQLite, print peak RSS in MB."""
    baseline = peak_memory_mb()
    content = Path(path).read_bytes()
    elapsed, stored, rejected = sqlite_run(content)
    peak = peak_memory_mb()
    print(f"{elapsed:.1f} {stored} {rejected} {baseline:.0f} {peak:.0f} {len(content)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "HUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--small-files", type=int, default=1_000, help="0: skip that part.")
    parser.add_argument("--memory-only", action="store_true", help="Only the streaming run.")
    parser.add_argument(
        "--duty-steps",
        action="store_true",
        help="The duties floor with its duties added one by one.",
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Every part under the collector's setting `hub ingest` and `hub run` take, the floors
    # too: a floor is the least any implementation pays, and any can set its collector so;
    # set only before the hub's runs, it gave the floors of SQLite the default's passes.
    settle_collector_for_batch()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}")
    if not args.memory_only:
        throughput(args)
    streaming(args)


def throughput(args: argparse.Namespace) -> None:
    content = generate(args.rows)
    print(f"file: {args.rows} rows, {len(content) / 1e6:.1f} MB (Latin-1, CRLF, 0.2% bad rows)")
    floor = raw_floor(content)
    floor_rate = args.rows / floor
    print(f"raw floor (csv.reader + dates + one SQLite executemany): {floor_rate:,.0f} rows/s")
    store_rate = args.rows / store_floor(content)
    print(
        "store floor (the same rows into the hub's events table: case ids, foreign keys, "
        f"indexes, feed trigger): {store_rate:,.0f} rows/s, {store_rate / floor_rate:.2f} "
        "of the raw floor, the least any implementation on this schema pays"
    )
    duties_rate = args.rows / duties_floor(content)
    print(
        f"duties floor (the store floor and the duties it skips, each the least way: {DUTY_WORDS}):"
        f" {duties_rate:,.0f} rows/s, {duties_rate / store_rate:.2f} of the store floor"
    )
    elapsed, stored, rejected = sqlite_run(content)
    rate = args.rows / elapsed
    print(
        f"hub on SQLite: {rate:,.0f} rows/s ({elapsed:.1f} s; {stored} events stored, "
        f"{rejected} rejected); ratio to the raw floor: {rate / floor_rate:.2f} (target >= 0.5), "
        f"to the store floor: {rate / store_rate:.2f}"
    )
    print(f"hub on SQLite over the duties floor: {rate / duties_rate:.2f}")
    whole = whole_command(content)
    print(
        f"whole `hub ingest` on SQLite (its own process, the shipped sync rules on): "
        f"{args.rows / whole:,.0f} rows/s ({whole:.2f} s); ratio to the store floor: "
        f"{args.rows / whole / store_rate:.2f}"
    )
    if not args.skip_postgres:
        pg_floor = postgres_store_floor(args.postgres_url, content)
        pg_floor_rate = args.rows / pg_floor.seconds
        print(
            f"PostgreSQL store floor (the same rows into its events table with one COPY): "
            f"{pg_floor_rate:,.0f} rows/s"
        )
        pg_duties = postgres_duties_floor(args.postgres_url, content)
        pg_duties_rate = args.rows / pg_duties.seconds
        print(
            f"PostgreSQL duties floor (the same with {DUTY_WORDS}; the events by one COPY, the "
            f"cases by one UPDATE): {pg_duties_rate:,.0f} rows/s, "
            f"{pg_duties_rate / pg_floor_rate:.2f} of its store floor"
        )
        pg_hub, stored, rejected = postgres_run(args.postgres_url, content)
        elapsed = pg_hub.seconds
        pg_rate = args.rows / elapsed
        print(
            f"hub on PostgreSQL: {pg_rate:,.0f} rows/s ({elapsed:.1f} s; {stored} events); "
            f"ratio to the PostgreSQL store floor: {pg_rate / pg_floor_rate:.2f} (target >= 0.8)"
            f", to the SQLite raw floor: {pg_rate / floor_rate:.2f}"
        )
        print(f"hub on PostgreSQL over its duties floor: {pg_rate / pg_duties_rate:.2f}")
        pg_whole = whole_command(content, args.postgres_url)
        print(
            f"whole `hub ingest` on PostgreSQL (its own process, the shipped sync rules on): "
            f"{args.rows / pg_whole:,.0f} rows/s ({pg_whole:.2f} s); ratio to the PostgreSQL "
            f"store floor: {args.rows / pg_whole / pg_floor_rate:.2f}"
        )
        print(
            "PostgreSQL CPU, this process / the server's backends (s): "
            + "; ".join(
                f"{name} {figures.client_cpu:.2f} / {_seconds_or_na(figures.server_cpu)} "
                f"(wall {figures.seconds:.2f})"
                for name, figures in (
                    ("store floor", pg_floor),
                    ("duties floor", pg_duties),
                    ("hub", pg_hub),
                )
            )
        )
    if args.duty_steps:
        duty_steps(args, content)
    seconds, events = dry_run(content)
    dry_rate = args.rows / seconds
    print(
        f"dry run (parse, map, JSON lines; nothing stored): {dry_rate:,.0f} rows/s ({events} "
        f"events); ratio to the raw floor: {dry_rate / floor_rate:.2f} (target >= 0.5)"
    )
    if args.small_files:
        each = 10
        seconds, stored = small_files(args.small_files, each)
        beyond = (seconds - args.small_files * each / rate) / args.small_files
        print(
            f"{args.small_files} files of {each} rows on SQLite: {seconds:.1f} s "
            f"({stored} events); beyond their rows at the big file's rate: "
            f"{beyond * 1000:.1f} ms a file (target <= 2 ms)"
        )
        whole_small_files(args, each)


def whole_small_files(args: argparse.Namespace, each: int) -> None:
    """The small files as a user has them taken (`hub run` of a folder, its own process,
    the shipped sync rules on), beside the small-files floor of the same database: the
    store floor's insert a file, one commit a file. That floor, not the store floor of
    one big insert, since a file's commit before its acknowledgement is a cost of small
    files any implementation pays, and what this line asks is the cost of a file."""
    contents = small_contents(args.small_files, each)
    urls: list[tuple[str, str | None]] = [("SQLite", None)]
    if not args.skip_postgres:
        urls.append(("PostgreSQL", args.postgres_url))
    for name, url in urls:
        floor = small_files_floor(contents, url)
        whole = whole_run_small_files(contents, url)
        print(
            f"whole `hub run` of {args.small_files} files of {each} rows on {name} (one process "
            f"reading a folder, the shipped sync rules on): {whole:.2f} s, "
            f"{whole / args.small_files * 1000:.2f} ms a file; small-files floor (each file's "
            f"rows by the store floor's insert, a commit a file) {floor:.2f} s, "
            f"{floor / args.small_files * 1000:.2f} ms a file; floor / hub: {floor / whole:.2f}"
        )


def _seconds_or_na(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f}"


def duty_steps(args: argparse.Namespace, content: bytes) -> None:
    """The duties floor with its duties added one at a time: what each costs alone."""
    for count in range(len(DUTIES) + 1):
        duties = DUTIES[:count]
        named = " + ".join(duties) or "none (the store floor's rows, the hub's instant texts)"
        line = f"duties floor, {named}: SQLite {args.rows / duties_floor(content, duties):,.0f}"
        if not args.skip_postgres:
            figures = postgres_duties_floor(args.postgres_url, content, duties)
            line += (
                f", PostgreSQL {args.rows / figures.seconds:,.0f} rows/s (CPU this process "
                f"{figures.client_cpu:.2f} s, server {_seconds_or_na(figures.server_cpu)} s)"
            )
        print(line)


def streaming(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        big = Path(scratch) / "STATUTS_big.csv"
        big.write_bytes(generate(args.memory_rows))
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(big)],
            capture_output=True,
            text=True,
            check=True,
        )
    seconds, stored, rejected, baseline, peak, size = child.stdout.split()
    print(
        f"streaming {args.memory_rows} rows ({int(size) / 1e6:.0f} MB) on SQLite: {seconds} s, "
        f"{stored} events stored, {rejected} rejected, peak memory {peak} MB (after imports, "
        "before reading "
        f"the file: {baseline} MB; target < 300 MB)"
    )


if __name__ == "__main__":
    main()
