"""bench/ingest.py's large file, its storing side counted under callgrind, part by part.

Instruction counts do not move with the machine's load, as the wall clock does. A run
generates the benchmark's file (``generate(rows)``, 20,000 rows by default: two chunks),
opens its cases (``prepare``, 2,000), parses it to a list, and then counts
``ingest_message`` given the parsed items (archive, resolution, references, heads,
insert, statuses, rejects, read mark, commits): the storing side alone. ``--postgres-url
URL`` stores into a scratch PostgreSQL database instead: the client side only is counted
(the server is another process). Callgrind is started without instrumentation and
switched on around the counted parts by a small C library this script builds with gcc
(``--callgrind-lib LIB`` names one built already)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/cg/out .venv/bin/python -P bench/ingest_count.py \\
        [--rows 20000] [--postgres-url URL] [--parts] [--floor]
    .venv/bin/python bench/ingest_count.py --summarise /tmp/cg --rows 20000

The library dumps callgrind's counts at every boundary, named by the part that ran since
the previous dump (``CALLGRIND_DUMP_STATS_AT``: one file each, ``/tmp/cg/out.N``), and
``--summarise`` adds the files up by name, in thousands of instructions a row. Without
``--parts`` the storing side is one figure (``store``); with it, the store's functions are
wrapped, and each figure is a part's own instructions, without the parts inside it (the
wrappers and their dumps add about 5 %: compare parts with parts, and count totals without
``--parts``). ``parse`` is the parse to a list; ``--floor`` counts on
SQLite the store floor of bench/ingest.py too, its reading (``floor reading``) and its
executemany and commit (``floor insert``), in the same process. The directory must hold
one run's files only; start each run in an empty one.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import importlib
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import _floor_rows, generate, prepare
from bench.scratch import prepared_sqlite_file, scratch_postgres, scratch_sqlite
from hub.partners.connectors import open_network
from hub.partners.ingest.message import ingest_message
from hub.ports import MessageRef, RawMessage

LIBRARY = """
#include <valgrind/callgrind.h>
void cg_on(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_off(void) { CALLGRIND_STOP_INSTRUMENTATION; }
void cg_dump(const char *why) { CALLGRIND_DUMP_STATS_AT(why); }
"""

PARTS = (
    # (module, attribute, part): each wrapped where the code calling it finds it.
    ("hub.partners.ingest.message", "archive_message", "archive"),
    ("hub.partners.ingest.message", "_store_chunk", "_store_chunk own"),
    ("hub.partners.ingest.message", "resolve_cases", "resolve_cases own"),
    ("hub.partners.resolve", "learn_from_reports", "learning references, cases given"),
    ("hub.store.case_links", "_known_links", "the named cases and links read"),
    ("hub.store.case_links", "_record_given", "cases given written"),
    ("hub.store.case_links", "_learn_partner_references", "references learned written"),
    ("hub.partners.ingest.message", "append_events", "append_events own"),
    ("hub.store.events", "_case_heads", "the cases' heads"),
    ("hub.store.events", "insert_events", "the insert (bound, sent, the driver)"),
    ("hub.store.bulk", "_rows", "the insert's rows built"),
    ("hub.store.events", "_move_cases_forward", "the cases' status updates"),
    ("hub.partners.ingest.message", "link_waiting", "parcels taught (link_waiting)"),
    ("hub.partners.ingest.message", "record_rejects", "rejects"),
    ("hub.store.rejects", "mark_fixed_by_later_file", "the later file's fixes"),
    ("hub.store.inbound", "mark_read", "the read mark"),
)


class Counter:
    """Callgrind's switch and dumps, each dump named by the part open since the last."""

    def __init__(self, library: ctypes.CDLL | None) -> None:
        self._library = library
        self._open: list[str] = []

    def on(self, part: str) -> None:
        self._open = [part]
        if self._library is not None:
            self._library.cg_on()

    def off(self) -> None:
        self._dump()
        self._open = []
        if self._library is not None:
            self._library.cg_off()

    def enter(self, part: str) -> None:
        if self._open:  # counting: outside, a wrapped part (a case opened) is not counted
            self._dump()
            self._open.append(part)

    def leave(self) -> None:
        if self._open:
            self._dump()
            self._open.pop()

    def _dump(self) -> None:
        if self._library is not None:
            self._library.cg_dump(self._open[-1].encode())


def _wrapped(counter: Counter, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def counted(*args: Any, **kwargs: Any) -> Any:
        counter.enter(part)
        try:
            result = function(*args, **kwargs)
            if part == "the insert's rows built":
                # A generator: its rows are built here, in the part, not where read.
                result = iter(list(result))
            return result
        finally:
            counter.leave()

    return counted


def wrap_parts(counter: Counter) -> None:
    for module_name, attribute, part in PARTS:
        module = importlib.import_module(module_name)
        setattr(module, attribute, _wrapped(counter, part, getattr(module, attribute)))


class _Parsed:
    """The pipeline, its parse answered from the list parsed before the count."""

    def __init__(self, pipeline: Any, items: list[Any]) -> None:
        self._pipeline = pipeline
        self._items = items

    def parse(self, content: bytes, *, source: str, recorded_at: datetime) -> Iterator[Any]:
        return iter(self._items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)


def library_path(given: str | None, folder: Path) -> str:
    if given is not None:
        return given
    source = folder / "cg.c"
    source.write_text(LIBRARY)
    built = folder / "libcg.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(built), str(source)], check=True)
    return str(built)


def floor(counter: Counter, content: bytes) -> None:
    """bench/ingest.py's store floor on SQLite (``store_floor``'s statement), its two
    halves counted apart."""
    with prepared_sqlite_file(prepare) as path:
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA foreign_keys=ON")
        case_ids = dict(connection.execute("SELECT reference, id FROM cases"))
        recorded = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        counter.on("floor reading")
        rows = _floor_rows(content)
        values = [
            (f"{r[0]}:{n}", case_ids.get(r[1]), r[1], r[0], r[2], r[3], recorded, r[2], r[4])
            for n, r in enumerate(rows)
        ]
        counter.enter("floor insert")
        connection.executemany(
            "INSERT INTO events (event_id, case_id, case_ref, partner_ref, type, status, "
            "unmapped, occurred_at, occurred_offset_minutes, recorded_at, reported_by, "
            "raw_code, raw_label) "
            "VALUES (?, ?, ?, ?, 'case_status', ?, 0, ?, 60, ?, 'atelier-dupont', ?, ?)",
            values,
        )
        connection.commit()
        counter.leave()
        counter.off()
        connection.close()


def count(args: argparse.Namespace, library: ctypes.CDLL | None) -> None:
    counter = Counter(library)
    content = generate(args.rows)
    scratch = scratch_sqlite() if args.postgres_url is None else scratch_postgres(args.postgres_url)
    with scratch as database:
        prepare(database)
        connector = open_network(ROOT / "connectors.yaml").connector("atelier-dupont-status")
        pipeline = connector.pipeline()
        now = datetime.now(UTC)
        counter.on("parse")
        items = list(pipeline.parse(content, source="bench.csv", recorded_at=now))
        counter.off()
        if args.parts:
            wrap_parts(counter)
        message = RawMessage(MessageRef("STATUTS_20261103_1415.csv", len(content)), content)
        parsed: Any = _Parsed(pipeline, items)
        counter.on("store")
        outcome = ingest_message(database, "bench", parsed, message, now=now)
        counter.off()
    print(f"{args.rows} rows: {outcome.counts}")
    if args.floor and args.postgres_url is None:
        floor(counter, content)


def summarise(folder: Path, rows: int) -> None:
    """The dumps' counts added up by part, in thousands of instructions a row."""
    totals: dict[str, int] = {}
    for path in sorted(folder.iterdir()):
        text = path.read_text(errors="replace")
        reason = re.search(r"^desc: Trigger: Client Request: (.*)$", text, re.MULTILINE)
        summary = re.search(r"^totals: (\d+)", text, re.MULTILINE)  # "summary" may wrap
        if reason is None or summary is None:
            continue
        totals[reason.group(1)] = totals.get(reason.group(1), 0) + int(summary.group(1))
    store = sum(n for part, n in totals.items() if not part.startswith(("parse", "floor")))
    for part, instructions in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"{part:45} {instructions / rows / 1000:8.1f} k  ({instructions / 1e6:,.1f} M)")
    print(f"{'the storing side':45} {store / rows / 1000:8.1f} k  ({store / 1e6:,.1f} M)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--parts", action="store_true", help="the storing side part by part")
    parser.add_argument("--floor", action="store_true", help="SQLite's store floor too")
    parser.add_argument("--callgrind-lib", default=None, help="cg_on/cg_off/cg_dump, built")
    parser.add_argument("--no-callgrind", action="store_true", help="run without counting")
    parser.add_argument("--summarise", type=Path, default=None, help="a run's dump folder")
    args = parser.parse_args()
    if args.summarise is not None:
        summarise(args.summarise, args.rows)
        return
    with tempfile.TemporaryDirectory() as folder:
        library = None
        if not args.no_callgrind:
            library = ctypes.CDLL(library_path(args.callgrind_lib, Path(folder)))
        count(args, library)


if __name__ == "__main__":
    main()
