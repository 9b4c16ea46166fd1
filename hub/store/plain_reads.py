"""The reads of the commands that read the store alone, on a `PlainStore` (no SQLAlchemy):
each runs the store's statement as hub.store.plain_sql has it compiled and gives its rows
to the store's own conversion, so that both paths say the same (issue 17, tenth pass)."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING

from hub.errors import ConfigurationError, NotFoundError
from hub.store import plain_sql
from hub.store.plain import PlainStore
from hub.store.revisions import MIGRATIONS, VERSION_TABLE, single_head

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from datetime import datetime
    from typing import Any

    from hub.store.case_rows import CaseView, Shown
    from hub.store.figure_rows import Figures
    from hub.store.health_rows import LeaseState, OwnRunSummary, StatusReads
    from hub.store.listing_rows import FileWarning, Reject
    from hub.store.measured_rows import MeasuredCase
    from hub.store.outbox_rows import OutboxRow
    from hub.store.plain import Query, Reader
    from hub.store.retention_rows import KindFigures, RetentionReads
    from hub.store.run_rows import RunRecord
    from hub.store.unlinked_rows import UnlinkedEvent
    from hub.store.unmapped_rows import UnmappedCode

# Each read imports its rows' module itself: a dataclass costs a command's start about
# 3 M instructions to make, and each command runs one of these reads (issue 17).


def current_revision(store: PlainStore) -> str | None:
    """As hub.store.migrate.current_revision: None without Alembic's table; several rows
    (a branch, which the hub never has) go to Alembic through the `Database`."""
    try:
        with store.reading() as reader:
            versions = [str(row[0]) for row in reader.rows(plain_sql.REVISION_READ)]
    except store.driver_errors() as error:
        if _no_version_table(error):
            return None
        raise
    if len(versions) <= 1:
        return versions[0] if versions else None
    from hub.store.migrate import current_revision as alembic_revision
    from hub.store.plain_fallback import database_of

    return alembic_revision(database_of(store.url))


def _no_version_table(error: BaseException) -> bool:
    """Whether the read failed for want of Alembic's table (a database never migrated)."""
    if isinstance(error, sqlite3.OperationalError):
        return str(error) == f"no such table: {VERSION_TABLE}"
    from psycopg.errors import UndefinedTable

    return isinstance(error, UndefinedTable)


def head_revision(store: PlainStore) -> str | None:
    """As hub.store.migrate.head_revision: the migration files' line, else Alembic's."""
    single = single_head(MIGRATIONS / "versions")
    if single is not None:
        return single
    from hub.store.migrate import head_revision as alembic_head
    from hub.store.plain_fallback import database_of

    return alembic_head(database_of(store.url))


def checked_revision(store: PlainStore) -> str | None:
    """The schema's revision; an unreachable database is a passing fault, said in a line
    (as hub.bootstrap says it for the other commands)."""
    try:
        return current_revision(store)
    except store.driver_errors() as error:
        raise store.unreachable(error) from error


def require_schema(store: PlainStore) -> None:
    """As hub.bootstrap.require_schema: refuse, in one line and creating nothing, a
    database without the hub's schema."""
    store.require_file()
    if checked_revision(store) is None:
        raise ConfigurationError(f"{store.safe_url()} has no hub schema: run `hub up`")


def dead_letters(
    store: PlainStore, target: str | None = None
) -> tuple[list[OutboxRow], dict[int, list[OutboxRow]]]:
    """As hub.sync.outbox's ``dead_letters`` and ``held_back_by``: the messages that gave
    up, oldest first, and by each of them the pending messages that wait for it."""
    from hub.store.outbox_rows import OutboxRow, held_back_rows

    with store.reading() as reader:
        if target is None:
            rows = reader.rows(plain_sql.DEAD_LETTERS)
        else:
            rows = reader.rows(plain_sql.DEAD_LETTERS_TO, target=target)
        letters = [OutboxRow.from_row(row) for row in rows]
        if not letters:
            return letters, {}
        awaited = sorted(letter.id for letter in letters)
        return letters, held_back_rows(reader.rows(plain_sql.HELD_BACK, awaited=awaited))


def unlinked_events(
    store: PlainStore, *, party: str | None = None, limit: int = 200
) -> list[UnlinkedEvent]:
    """As hub.store.case_links.unlinked_events: events without a case, newest first."""
    from hub.store.unlinked_rows import unlinked_rows

    with store.reading() as reader:
        if party is None:
            return unlinked_rows(reader.rows(plain_sql.UNLINKED, limit=limit))
        return unlinked_rows(reader.rows(plain_sql.UNLINKED_OF_PARTY, limit=limit, party=party))


def unmapped_codes(store: PlainStore) -> list[UnmappedCode]:
    """As hub.store.unmapped.unmapped_codes: codes to add to a mapping, most frequent first."""
    from hub.store.unmapped_rows import unmapped_rows

    with store.reading() as reader:
        return unmapped_rows(reader.rows(plain_sql.UNMAPPED_CODES))


def overview_figures(store: PlainStore) -> Figures:
    """As hub.store.figures' functions that the overview reads, in one transaction."""
    from hub.store.figure_rows import Figures, counts_by_name, counts_by_status, event_counts_of

    with store.reading() as reader:
        [events] = reader.rows(plain_sql.EVENT_COUNTS)
        [(messages,)] = reader.rows(plain_sql.RAW_MESSAGE_COUNT)
        return Figures(
            parties_by_role=counts_by_name(reader.rows(plain_sql.PARTIES_BY_ROLE)),
            cases_by_status=counts_by_status(reader.rows(plain_sql.CASES_BY_STATUS)),
            events=event_counts_of(events),
            raw_messages=int(messages),
            outbox_by_state=counts_by_name(reader.rows(plain_sql.OUTBOX_BY_STATE)),
        )


def stored_reference(store: PlainStore, text: str) -> str | None:
    """As hub.store.case_search.stored_reference: the stored spelling of a typed one."""
    from hub.store.case_rows import chosen_reference  # `hub cases show` alone

    wanted = text.strip()
    if not wanted:
        return None
    with store.reading() as reader:
        exact = reader.rows(plain_sql.REFERENCE_EXACT, wanted=wanted)
        if exact:
            return chosen_reference(exact[0], [])
        return chosen_reference(
            None, reader.rows(plain_sql.REFERENCE_BY_LETTERS, upper=wanted.upper())
        )


def case_view(
    store: PlainStore, reference: str, event_of: Callable[[Any], Shown]
) -> CaseView[Shown]:
    """As hub.store.cases.case_state, case_links.references_of_case and erasure.erasure_of:
    the timeline (each event's row made by ``event_of``: a stored row,
    hub.store.stored_events, or the validated model, hub.store.event_rows, for what
    writes the model's JSON), the partners' references and the erasure, if any."""
    from hub.model.timeline import derive_case_state
    from hub.store.case_rows import CaseView, ErasureRecord, kept_references

    with store.reading() as reader:
        found = reader.rows(plain_sql.CASE_ID_OF, reference=reference)
        if not found:
            raise NotFoundError(f"no case {reference}")
        case_id = found[0][0]
        events = [
            event_of(row) for row in reader.records(plain_sql.EVENTS_OF_CASE, case_id=case_id)
        ]
        references = kept_references(reader.rows(plain_sql.REFERENCES_OF_CASE, case_ref=reference))
        erased = reader.rows(plain_sql.ERASURE_OF, case_id=case_id)
    return CaseView(
        state=derive_case_state(events),
        references=references,
        erasure=ErasureRecord(*erased[0]) if erased else None,
    )


@contextmanager
def status_reads(store: PlainStore) -> Iterator[StatusReads]:
    """As hub.store.connector_health.ConnectionStatusReads: the network's status reads,
    in one transaction."""
    with store.reading() as reader:
        yield _PlainStatusReads(reader)


class _PlainStatusReads:
    def __init__(self, reader: Reader) -> None:
        self._reader = reader

    def lease_states(self) -> dict[str, LeaseState]:
        from hub.store.health_rows import lease_states_of

        return lease_states_of(self._reader.records(plain_sql.LEASE_STATES))

    def unmapped_codes_by_source(self) -> dict[str, int]:
        from hub.store.figure_rows import counts_by_name

        return counts_by_name(self._reader.rows(plain_sql.UNMAPPED_BY_SOURCE))

    def open_warning_counts(self) -> dict[str, int]:
        from hub.store.figure_rows import counts_by_name

        return counts_by_name(self._reader.rows(plain_sql.OPEN_WARNING_COUNTS))

    def outbox_counts_by_target(self) -> dict[str, dict[str, int]]:
        from hub.store.health_rows import counts_by_target

        return counts_by_target(self._reader.rows(plain_sql.COUNTS_BY_TARGET))

    def oldest_pending_at(self) -> datetime | None:
        [(oldest,)] = self._reader.rows(plain_sql.OLDEST_PENDING_AT)
        return oldest  # type: ignore[no-any-return]

    def own_run_summaries(self, connectors: Sequence[str]) -> dict[str, OwnRunSummary]:
        from hub.store.health_rows import own_run_summaries_of

        if not connectors:
            return {}
        query = plain_sql.OWN_RUN_SUMMARIES
        return own_run_summaries_of(self._reader.records(query, connectors=list(connectors)))

    def last_received(self, sources: Sequence[str]) -> dict[str, datetime]:
        if not sources:
            return {}
        rows = self._reader.rows(plain_sql.LAST_RECEIVED, sources=list(sources))
        return {str(source): received for source, received in rows}


def recent_runs(store: PlainStore, connector: str, limit: int) -> tuple[list[RunRecord], set[int]]:
    """As hub.operators.listings' ``recent_runs`` and ``replay_run_ids``: the connector's
    runs, newest first, replays included, and which of them were replays."""
    from hub.store.run_rows import run_record

    with store.reading() as reader:
        found = reader.records(plain_sql.RUNS_OF, connector=connector, limit=limit)
        records = [run_record(row) for row in found]
        if not records:
            return records, set()
        ids = [record.id for record in records]
        replays = reader.rows(plain_sql.REPLAY_RUN_IDS, run_ids=ids)
    return records, {int(run_id) for (run_id,) in replays}


def recent_rejects(store: PlainStore, connector: str, *, limit: int) -> list[Reject]:
    """As hub.store.rejects.recent_rejects: the connector's rejected records, newest first."""
    from hub.store.listing_rows import reject_of

    with store.reading() as reader:
        found = reader.records(plain_sql.RECENT_REJECTS, connector=connector, limit=limit)
    return [reject_of(row) for row in found]


def recent_file_warnings(store: PlainStore, connector: str, *, limit: int) -> list[FileWarning]:
    """As hub.store.file_warnings.recent_warnings: the connector's warnings, newest first."""
    from hub.store.listing_rows import warning_of

    with store.reading() as reader:
        found = reader.records(plain_sql.RECENT_WARNINGS, connector=connector, limit=limit)
    return [warning_of(row) for row in found]


def measured_case(store: PlainStore, case_ref: str) -> MeasuredCase | None:
    """As hub.store.service_levels.measured_case: the case by its reference with its
    measured events; None if there is no such case."""
    from hub.store.measured_rows import measured_case_of

    with store.reading() as reader:
        found = reader.records(plain_sql.CASE_DOCUMENT, case_ref=case_ref)
        if not found:
            return None
        rows = reader.records(plain_sql.MEASURED_EVENTS_OF_CASE, case_id=found[0].id)
    return measured_case_of(found[0].document, rows)


def measured_open_cases(store: PlainStore, retailer: str | None = None) -> list[MeasuredCase]:
    """As hub.store.service_levels.measured_open_cases: every case not in a final status
    (optionally one retailer's), by id, with its measured events."""
    from hub.store.measured_rows import open_cases_of

    with store.reading() as reader:
        if retailer is None:
            documents = reader.records(plain_sql.OPEN_CASE_DOCUMENTS)
            rows = reader.records(plain_sql.OPEN_CASE_EVENTS)
        else:
            documents = reader.records(plain_sql.OPEN_CASE_DOCUMENTS_OF, retailer=retailer)
            rows = reader.records(plain_sql.OPEN_CASE_EVENTS_OF, retailer=retailer)
    return open_cases_of(documents, rows)


@contextmanager
def retention_reads(store: PlainStore) -> Iterator[RetentionReads]:
    """As hub.store.retention.ConnectionRetentionReads: what `hub retention --dry-run`
    counts, in one transaction."""
    with store.reading() as reader:
        yield _PlainRetentionReads(reader)


class _PlainRetentionReads:
    def __init__(self, reader: Reader) -> None:
        self._reader = reader

    def figures(self, kind: str, cutoff: datetime) -> KindFigures:
        from hub.store.retention_rows import KindFigures, due_name, kept_name

        [(count,)] = self._reader.rows(_named(due_name(kind)), cutoff=cutoff)
        [(oldest,)] = self._reader.rows(_named(kept_name(kind)), cutoff=cutoff)
        return KindFigures(kind, int(count), oldest)

    def closed_cases_to_anonymise(self, closed_before: datetime) -> int:
        query = plain_sql.CLOSED_CASES_TO_ANONYMISE
        [(count,)] = self._reader.rows(query, closed_before=closed_before)
        return int(count)


def _named(name: str) -> Query:
    """A statement of hub.store.plain_sql by its name (one per retention kind)."""
    query: Query = getattr(plain_sql, name)
    return query
