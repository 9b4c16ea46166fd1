"""What operators list: connector names, a connector's runs and rejected records, and the
partner codes no mapping knows yet. Each call reads in one transaction.

Runs and rejects are also told in words here (a run's outcome, a reject's where and
why), once for the console and the CLI alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.operators.run_words import known_names, outcome_text, require_known
from hub.partners.rejection import WHOLE_MESSAGE_REJECTED
from hub.partners.runs import RunOutcome, RunRecord, run_record
from hub.store import file_warnings, rejects, run_history, unmapped
from hub.store.db import Database
from hub.store.listing_rows import FileWarning, Reject
from hub.store.rejects import ReplayTries
from hub.store.run_history import RunsShown
from hub.store.unmapped import REMAPPED_SUFFIX, UnmappedCode, remapped_id

__all__ = [
    "REMAPPED_SUFFIX",
    "FileWarning",
    "Reject",
    "RejectLine",
    "RejectsPage",
    "RunLine",
    "RunsPage",
    "RunsShown",
    "UnmappedCode",
    "acknowledge_file_warnings",
    "describe_reject",
    "known_names",
    "outcome_text",
    "recent_file_warnings",
    "recent_rejects",
    "recent_runs",
    "rejects_page",
    "remapped_id",
    "replay_run_ids",
    "require_known",
    "runs_page",
    "unmapped_codes",
]


# --- reading runs, rejects and codes ----------------------------------------------------


def recent_runs(database: Database, connector: str, limit: int = 50) -> list[RunRecord]:
    """The connector's runs, newest first, replays included."""
    with database.reading() as connection:
        rows = run_history.runs_of(connection, connector, limit=limit)
    return [run_record(row) for row in rows]


def replay_run_ids(database: Database, run_ids: list[int]) -> set[int]:
    """Which of these runs were replays."""
    if not run_ids:
        return set()
    with database.reading() as connection:
        return run_history.replay_run_ids(connection, run_ids)


def recent_rejects(database: Database, connector: str, *, limit: int = 100) -> list[Reject]:
    """The connector's rejected records, newest first."""
    with database.reading() as connection:
        return rejects.recent_rejects(connection, connector, limit=limit)


def recent_file_warnings(
    database: Database, connector: str, *, limit: int = 100
) -> list[FileWarning]:
    """The connector's file warnings (a sequence gap between files), newest first."""
    with database.reading() as connection:
        return file_warnings.recent_warnings(connection, connector, limit=limit)


def acknowledge_file_warnings(database: Database, connector: str, *, now: datetime) -> int:
    """An operator saw the connector's warnings (and asked the partner): no longer flagged."""
    with database.transaction() as connection:
        return file_warnings.acknowledge_warnings(connection, connector, now=now)


def unmapped_codes(database: Database) -> list[UnmappedCode]:
    """Codes to add to a mapping, by reporting party and raw code, most frequent first."""
    with database.reading() as connection:
        return unmapped.unmapped_codes(connection)


# --- runs and rejects in words -------------------------------------------------------


def outcome_tone(run: RunRecord) -> str:
    """The console's colour for an outcome: ok, warn (left records out), failed, idle."""
    if run.outcome is RunOutcome.FAILED:
        return "failed"
    if run.outcome is RunOutcome.RUNNING:
        return "running"
    if run.counts.rejected or run.counts.unmapped:
        return "partial"
    return "succeeded" if run.counts.messages_read or run.counts.events_stored else "idle"


def describe_reject(reject: Reject) -> str:
    """Where a record was refused and why, as a sentence."""
    if reject.reason.startswith(WHOLE_MESSAGE_REJECTED):
        at = f" (at line {reject.line})" if reject.line is not None else ""
        return (
            f"{reject.source} was refused whole{at}: {reject.reason[len(WHOLE_MESSAGE_REJECTED) :]}"
        )
    if reject.line is None and reject.field is None:
        return f"{reject.source} was refused whole: {reject.reason}"
    where = f"Line {reject.line} of {reject.source}" if reject.line is not None else reject.source
    field = f" (field {reject.field})" if reject.field else ""
    return f"{where}{field} was left out: {reject.reason}"


@dataclass(frozen=True)
class RunLine:
    """A run as a list shows it."""

    run: RunRecord
    outcome: str
    tone: str
    replay: bool


@dataclass(frozen=True)
class RunsPage:
    lines: list[RunLine]
    newer: int | None
    older: int | None
    empty_polls: int
    """Runs that found nothing new, left out unless every run is asked for."""


def runs_page(
    database: Database,
    *,
    connector: str | None,
    shown: RunsShown,
    count: int,
    before: int | None = None,
    after: int | None = None,
) -> RunsPage:
    """A page of runs, newest first, as the console lists them."""
    with database.reading() as connection:
        found = run_history.run_page(
            connection, connector=connector, shown=shown, count=count, before=before, after=after
        )
        records = [run_record(row) for row in found.rows]
        replays = run_history.replay_run_ids(connection, [record.id for record in records])
        empty = run_history.empty_polls(connection, connector)
    lines = [
        RunLine(record, outcome_text(record), outcome_tone(record), record.id in replays)
        for record in records
    ]
    return RunsPage(lines, found.newer, found.older, empty)


@dataclass(frozen=True)
class RejectLine:
    """A rejected record as the console lists it: in words, with its case when a word of
    its raw line names one, and what replays of its file did."""

    reject: Reject
    sentence: str
    case_ref: str | None
    replays: ReplayTries | None


@dataclass(frozen=True)
class RejectsPage:
    lines: list[RejectLine]
    newer: int | None
    older: int | None
    open: int
    fixed: int


def rejects_page(
    database: Database,
    *,
    connector: str | None,
    state: str | None,
    count: int,
    partners: dict[str, str],
    before: int | None = None,
    after: int | None = None,
) -> RejectsPage:
    """A page of rejected records, newest first; ``partners``: each connector's partner,
    whose own references for cases a raw line may carry."""
    with database.reading() as connection:
        found = rejects.reject_page(
            connection, connector=connector, state=state, count=count, before=before, after=after
        )
        totals = rejects.count_rejects(connection, connector)
        tries = rejects.replay_tries(
            connection, sorted({r.message_id for r in found.rejects if r.message_id is not None})
        )
        named: dict[str, dict[str, str]] = {}
        for name in sorted({reject.connector for reject in found.rejects}):
            raw = [r.raw for r in found.rejects if r.connector == name and r.raw]
            named[name] = rejects.cases_named_in(connection, raw, partners.get(name))
    lines = []
    for reject in found.rejects:
        words = rejects.words_of(reject.raw or "")
        case_ref = next(
            (
                named[reject.connector][w.upper()]
                for w in words
                if w.upper() in named[reject.connector]
            ),
            None,
        )
        lines.append(
            RejectLine(
                reject,
                describe_reject(reject),
                case_ref,
                None if reject.message_id is None else tries.get(reject.message_id),
            )
        )
    return RejectsPage(lines, found.newer, found.older, totals[rejects.OPEN], totals[rejects.FIXED])
