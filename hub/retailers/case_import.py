"""Importing a retailer's cases from a CSV file (BricoMarket's nightly ERP export).

The file is UTF-8 (a BOM is tolerated), comma-separated, with a header naming the
columns below in any order. It is archived byte for byte first; then each row becomes a
canonical Case and is opened for the tenant, or rejected alone with its line, field and
reason (also kept in ``rejects`` for the operator). A row for a case that exists with the
same content is ``unchanged``, so importing the same file twice is harmless. A file the
hub cannot read as a whole (encoding, header) is refused with ``InvalidFieldError``.

Times must carry their offset (``2026-10-28T09:40:00+01:00``): the tenant has no
configured zone to read a local time in, and a guessed zone would be a wrong time.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from hub.errors import HubError
from hub.model.case import Case
from hub.ports import MessageRef, RawMessage
from hub.retailers.cases import InvalidFieldError, open_case_for
from hub.retailers.tenants import Retailer
from hub.store.archive import ArchivedMessage, archive_message
from hub.store.cases import retry_if_opened_concurrently
from hub.store.db import Connection, Database
from hub.store.events import StoredHook
from hub.store.rejects import NewReject, RejectKey, keep_rejects, kept_reject_keys
from hub.sync.requirements import CaseNotWorkable, RouteCheck

MAX_ROWS = 10_000
FILE_FIELD = "file"
MAX_NAME = 200
CHUNK_ROWS = 500
CHUNK_SECONDS = 0.5
"""A chunk ends at whichever comes first: the longest any other writer waits for it."""

COLUMNS: dict[str, tuple[str | int, ...]] = {
    "reference": ("reference",),
    "opened_at": ("opened_at",),
    "brand": ("product", "brand"),
    "model": ("product", "model"),
    "serial_number": ("product", "serial_number"),
    "category": ("product", "category"),
    "purchase_date": ("product", "purchase_date"),
    "delivery_date": ("product", "delivery_date"),
    "coverage": ("coverage",),
    "service": ("service",),
    "fault": ("fault",),
    "customer_name": ("customer", "name"),
    "customer_phone": ("customer", "phone"),
    "customer_email": ("customer", "email"),
    "address_line1": ("customer", "address", "line1"),
    "address_line2": ("customer", "address", "line2"),
    "postcode": ("customer", "address", "postcode"),
    "city": ("customer", "address", "city"),
    "country": ("customer", "address", "country"),
    "contract_level": ("contract_level",),
    "promised_by": ("promised_by",),
    "repairer": ("references", 0, "party"),
    "repairer_reference": ("references", 0, "reference"),
}
"""CSV column -> where its value goes in the canonical Case."""

REQUIRED = (
    "reference",
    "opened_at",
    "brand",
    "model",
    "coverage",
    "service",
    "fault",
    "customer_name",
)
_PATHS = {path: column for column, path in COLUMNS.items()}


class RowOutcome(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RowResult:
    """What became of one row: its first line in the file, and why if rejected."""

    line: int
    reference: str | None
    outcome: RowOutcome
    field: str | None = None
    reason: str | None = None


@dataclass
class ImportReport:
    source: str
    duplicate_file: bool
    rows: list[RowResult] = field(default_factory=list)

    def count(self, outcome: RowOutcome) -> int:
        return sum(1 for row in self.rows if row.outcome is outcome)


@dataclass(frozen=True)
class _Row:
    line: int
    raw: str
    values: dict[str, str]


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidFieldError(
            FILE_FIELD, f"the file is not UTF-8 (byte {exc.start} cannot be read)"
        ) from exc


def _rows(content: bytes) -> Iterator[_Row]:
    """The data rows with the line each starts on (quoted fields may span lines)."""
    text = _text(content)
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InvalidFieldError(FILE_FIELD, f"line 1: the header cannot be read: {exc}") from exc
    if header is None or not any(cell.strip() for cell in header):
        raise InvalidFieldError(FILE_FIELD, "the file is empty: a header line is required")
    names = [cell.strip().lower() for cell in header]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise InvalidFieldError(
            unknown[0], f"unknown column {unknown[0]!r}; known: {', '.join(COLUMNS)}"
        )
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise InvalidFieldError(missing[0], f"required column {missing[0]!r} is missing")
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise InvalidFieldError(twice, f"column {twice!r} appears twice")
    count = 0
    while True:
        first_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Row(first_line, _raw(lines, first_line, reader.line_num), {"": str(exc)})
            continue
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        if count > MAX_ROWS:
            raise InvalidFieldError(FILE_FIELD, f"more than {MAX_ROWS} rows: split the file")
        raw = _raw(lines, first_line, reader.line_num)
        if len(cells) != len(names):
            message = f"{len(cells)} cells where the header has {len(names)}"
            yield _Row(first_line, raw, {"": message})
            continue
        yield _Row(first_line, raw, dict(zip(names, cells, strict=True)))


def _raw(lines: list[str], first: int, last: int) -> str:
    return "".join(lines[first - 1 : max(first, last)]).rstrip("\r\n")


def _storable(text: str) -> str:
    """Text PostgreSQL can store: NUL (refused by its text type) becomes U+FFFD."""
    return text.replace("\x00", "\ufffd")


def _document(values: dict[str, str], retailer: Retailer) -> dict[str, Any]:
    """The row as a canonical Case document; empty cells are absent values."""
    document: dict[str, Any] = {"retailer": retailer.id}
    for column, value in values.items():
        if not value.strip():
            continue
        node: Any = document
        path = COLUMNS[column]
        for step, next_step in pairwise(path):
            if isinstance(step, int):
                while len(node) <= step:
                    node.append({})
                node = node[step]
            else:
                node = node.setdefault(step, [] if isinstance(next_step, int) else {})
        node[path[-1]] = value.strip()
    return document


def _field_of(location: tuple[int | str, ...]) -> str | None:
    """The CSV column a validation error points at, else the model's dotted path."""
    if location in _PATHS:
        return _PATHS[location]
    return ".".join(str(part) for part in location) or None


def _case_or_reason(row: _Row, retailer: Retailer) -> Case | RowResult:
    if "" in row.values:
        return RowResult(row.line, None, RowOutcome.REJECTED, None, row.values[""])
    reference = row.values.get("reference", "").strip() or None
    try:
        return Case.model_validate(_document(row.values, retailer))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _field_of(tuple(error["loc"]))
        return RowResult(row.line, reference, RowOutcome.REJECTED, where, error["msg"])


def import_cases_csv(
    database: Database,
    retailer: Retailer,
    content: bytes,
    *,
    name: str,
    now: datetime | None = None,
    source: str | None = None,
    run_id: int | None = None,
    on_stored: StoredHook | None = None,
    route_check: RouteCheck | None = None,
) -> ImportReport:
    """Archive the file, then open its good rows' cases chunk by chunk; report every row.

    ``source`` names where the file came from (the API by default; a drop-folder
    connector's name otherwise) and ``run_id`` the run its rejects belong to.

    Each chunk is a short transaction of its own and the import steps aside between
    chunks, so pushes and API calls never wait for the whole file (SQLite has one writer
    at a time). A file is read whole before anything is kept, so a file refused as a
    whole keeps nothing. An import stopped half-way is finished by importing the file
    again: the rows it committed come back ``unchanged`` and their rejects are not kept
    twice, so the store ends as if the first import had finished.
    """
    now = now or datetime.now(UTC)
    name = _storable(name.strip()[:MAX_NAME]) or "upload.csv"
    source = source or f"api:{retailer.id}:cases-import"
    rows = list(_rows(content))
    with database.transaction() as connection:
        archived = archive_message(
            connection, source, RawMessage(MessageRef(name, size=len(content)), content), now=now
        )
        kept = kept_reject_keys(connection, archived.id) if archived.duplicate else set()
    job = _Job(database, retailer, archived, name, run_id, now, on_stored, kept, route_check)
    report = ImportReport(source=name, duplicate_file=archived.duplicate)
    done = 0
    while done < len(rows):
        if done:
            database.let_writers_in()
        results = job.chunk(rows[done : done + CHUNK_ROWS])
        report.rows.extend(results)
        done += len(results)
    return report


@dataclass
class _Job:
    """One file's import: what every chunk needs, and the rejects already kept."""

    database: Database
    retailer: Retailer
    archived: ArchivedMessage
    name: str
    run_id: int | None
    now: datetime
    on_stored: StoredHook | None
    kept: set[RejectKey]
    route_check: RouteCheck | None = None

    def chunk(self, rows: list[_Row]) -> list[RowResult]:
        """The rows from the first, one transaction, until CHUNK_ROWS or CHUNK_SECONDS.

        A case opened elsewhere between a row's check and its insert rolls the chunk
        back whole; once more, that row is unchanged or a conflict like any other.
        """
        fresh: list[NewReject] = []

        def store(connection: Connection) -> list[RowResult]:
            fresh.clear()
            return self._store(connection, rows, fresh)

        results = retry_if_opened_concurrently(self.database, store)
        self.kept.update(reject.key for reject in fresh)
        return results

    def _store(
        self, connection: Connection, rows: list[_Row], fresh: list[NewReject]
    ) -> list[RowResult]:
        deadline = time.monotonic() + CHUNK_SECONDS
        results: list[RowResult] = []
        for row in rows:
            result = self._row(connection, row)
            results.append(result)
            if result.outcome is RowOutcome.REJECTED:
                reject = NewReject(
                    row.line, result.field, result.reason or "rejected", _storable(row.raw)
                )
                if reject.key not in self.kept:
                    fresh.append(reject)
            if time.monotonic() >= deadline:
                break
        keep_rejects(
            connection,
            fresh,
            connector=self.archived.source,
            source=self.name,
            message_id=self.archived.id,
            run_id=self.run_id,
            now=self.now,
        )
        return results

    def _row(self, connection: Connection, row: _Row) -> RowResult:
        parsed = _case_or_reason(row, self.retailer)
        if isinstance(parsed, RowResult):
            return parsed
        try:
            opened = open_case_for(
                connection,
                self.retailer,
                parsed,
                on_stored=self.on_stored,
                route_check=self.route_check,
            )
        except CaseNotWorkable as exc:
            first = exc.missing[0]
            column = _field_of(tuple(first.problem_field.split(".")))
            reason = "; ".join(f"{m.problem_field} {m.sentence()}" for m in exc.missing)
            return RowResult(row.line, parsed.reference, RowOutcome.REJECTED, column, reason)
        except InvalidFieldError as exc:
            column = _field_of(tuple(int(p) if p.isdigit() else p for p in exc.field.split(".")))
            return RowResult(row.line, parsed.reference, RowOutcome.REJECTED, column, exc.message)
        except HubError as exc:  # a conflict: the reference exists with other content
            return RowResult(row.line, parsed.reference, RowOutcome.REJECTED, None, exc.message)
        outcome = RowOutcome.CREATED if opened.created else RowOutcome.UNCHANGED
        return RowResult(row.line, parsed.reference, outcome)
