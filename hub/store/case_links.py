"""What may link a partner's event to a case: the partner's own references, the cases it
was given, and why an event was left unlinked.

A link by anything weaker than the hub's own case reference must be backed by a fact the
hub witnessed, never by what a retailer typed: a retailer chooses its cases' serials and
may write any partner's reference on them. So the store keeps who recorded each
reference (``partner`` when the partner reported it together with the case's reference)
and which partners were given each case (the hub sent them a message about it, or they
reported an event naming it). ``hub.partners.resolve`` decides; this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    literal_column,
    null,
    select,
    union_all,
    update,
)

from hub.model.statuses import FINAL_CASE_STATUSES
from hub.store.arrays import among, one_list, unnested
from hub.store.case_rows import KeptReference as KeptReference
from hub.store.case_rows import RecordedBy as RecordedBy
from hub.store.case_rows import kept_references
from hub.store.compiled import DriverStatement
from hub.store.tables import case_parties, case_references, cases, events, unlinked_reasons
from hub.store.types import UtcDateTime
from hub.store.unlinked_rows import UnlinkedEvent, unlinked_rows
from hub.store.upsert import ignoring_conflicts, insert_ignoring_conflicts

# hub.store.events (the cases' heads) is imported where the heads are read: it brings
# the events' model and pydantic, which `hub unlinked`, reading this module's reasons
# alone, does not load (tests/test_status.py).
if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

    from hub.store.events import CaseHead


class GivenHow(StrEnum):
    """How a partner came to hold a case."""

    MESSAGE = "message"
    REPORT = "report"


@dataclass(frozen=True)
class Candidate:
    """A case a partner's event might belong to."""

    case_ref: str
    recorded_by: RecordedBy | None
    """For a reference match: who recorded it; None for a serial match."""
    given: bool
    """The reporting partner was given this case."""


IN_CHUNK = 1000
"""Values per IN list: one query per reporting party and chunk, never one per value."""


def _values_by_party(keys: Iterable[tuple[str, str]]) -> dict[str, list[list[str]]]:
    """The keys' values grouped by party, in chunks an IN list takes."""
    grouped: dict[str, set[str]] = {}
    for party, value in keys:
        grouped.setdefault(party, set()).add(value)
    return {
        party: [
            sorted(values)[start : start + IN_CHUNK] for start in range(0, len(values), IN_CHUNK)
        ]
        for party, values in sorted(grouped.items())
    }


def _given_to(party: str) -> ColumnElement[bool]:
    """The case was given to ``party`` (the condition, correlated with ``cases``)."""
    return exists().where(case_parties.c.case_id == cases.c.id, case_parties.c.party_id == party)


def reference_candidates(
    connection: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[Candidate]]:
    """Every case on which (party, reference) is recorded, with who recorded it and
    whether that party was given the case."""
    found: dict[tuple[str, str], list[Candidate]] = {}
    for party, chunks in _values_by_party(keys).items():
        for chunk in chunks:
            rows = connection.execute(
                select(
                    case_references.c.reference.label("partner_reference"),
                    cases.c.reference,
                    case_references.c.recorded_by,
                    _given_to(party).label("given"),
                )
                .join(case_references, case_references.c.case_id == cases.c.id)
                .where(
                    case_references.c.party_id == party,
                    case_references.c.reference.in_(chunk),
                )
                .order_by(cases.c.id)
            ).all()
            for row in rows:
                found.setdefault((party, row.partner_reference), []).append(
                    Candidate(row.reference, RecordedBy(row.recorded_by), bool(row.given))
                )
    return found


def open_serial_candidates(
    connection: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[Candidate]]:
    """Every unfinished case with this (normalised) serial, per (party, serial), and
    whether that party was given it. A product can come back: finished cases never match."""
    finals = [status.value for status in FINAL_CASE_STATUSES]
    found: dict[tuple[str, str], list[Candidate]] = {}
    for party, chunks in _values_by_party(keys).items():
        for chunk in chunks:
            rows = connection.execute(
                select(cases.c.serial_number, cases.c.reference, _given_to(party).label("given"))
                .where(cases.c.serial_number.in_(chunk))
                .where(cases.c.status.is_(None) | cases.c.status.not_in(finals))
                .order_by(cases.c.id)
            ).all()
            for row in rows:
                found.setdefault((party, row.serial_number), []).append(
                    Candidate(row.reference, None, bool(row.given))
                )
    return found


def _case_ids(connection: Connection, references: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(references))
    if not wanted:
        return {}
    rows = connection.execute(
        select(cases.c.reference, cases.c.id).where(cases.c.reference.in_(wanted))
    )
    return {reference: int(case_id) for reference, case_id in rows}


def record_given(
    connection: Connection,
    pairs: Iterable[tuple[str, str]],
    how: GivenHow,
    *,
    now: datetime | None = None,
    ids: Mapping[str, int] | None = None,
) -> None:
    """Remember that each (case reference, party) pair was given; the first time stays.
    ``ids``: the cases' ids by reference, when the caller has read them already (the
    sync rules have: a statement less a file; issue 17, fourteenth pass); a reference
    not in them is not a case."""
    pairs = set(pairs)
    if ids is None:
        ids = _case_ids(connection, (case_ref for case_ref, _ in pairs))
    _record_given(connection, pairs, how, ids, now)


_GIVEN = DriverStatement(lambda dialect: ignoring_conflicts(dialect, case_parties))
"""A file naming a case its partner had not named before runs it: compiled once per
database kind, run on the driver (issue 17)."""


@cache
def _given_at_once() -> PostgresqlInsert:
    """``_GIVEN`` for PostgreSQL, the pairs given as two arrays: psycopg's executemany
    cost the client about 74 k instructions a row (its pipeline's generators, a row's
    parameters dumped in Python), one statement of arrays about a third of that (issue
    17, thirteenth pass). How and since are one for the batch."""
    from sqlalchemy.dialects import postgresql

    pairs = unnested(("case_id", BigInteger()), ("party_id", String()))
    return (
        postgresql.insert(case_parties)
        .from_select(
            ["case_id", "party_id", "how", "since"],
            select(
                pairs.c.case_id,
                pairs.c.party_id,
                bindparam("how", type_=String),
                bindparam("since", type_=UtcDateTime),
            ),
        )
        .on_conflict_do_nothing()
    )


_GIVEN_AT_ONCE = DriverStatement(lambda _dialect: _given_at_once())


def _record_given(
    connection: Connection,
    pairs: set[tuple[str, str]],
    how: GivenHow,
    ids: Mapping[str, int],
    now: datetime | None,
) -> None:
    moment = now or datetime.now(UTC)
    known = [(ids[case_ref], party) for case_ref, party in sorted(pairs) if case_ref in ids]
    if not known:
        return
    if connection.dialect.name == "postgresql":
        case_ids, party_ids = zip(*known, strict=True)
        _GIVEN_AT_ONCE.execute(
            connection,
            {
                "case_ids": list(case_ids),
                "party_ids": list(party_ids),
                "how": how.value,
                "since": moment,
            },
        )
        return
    # The enum's value read once: ``.value`` is Python code in ``enum`` (issue 17,
    # thirteenth pass, second round).
    given_how = how.value
    rows = [
        {"case_id": case_id, "party_id": party, "how": given_how, "since": moment}
        for case_id, party in known
    ]
    _GIVEN.execute_many(connection, rows)


def learn_partner_references(
    connection: Connection, triples: Iterable[tuple[str, str, str]]
) -> None:
    """Record (case reference, party, reference) as the partner's own: it reported that
    reference together with the case's. A reference a retailer wrote on the case and the
    partner now confirms becomes the partner's; a different one already held for the case
    stays (the first wins; the event still carries the new one for support)."""
    triples = set(triples)
    ids = _case_ids(connection, (case_ref for case_ref, _, _ in triples))
    _learn_partner_references(connection, triples, ids)


def learn_from_reports(
    connection: Connection,
    given: set[tuple[str, str]],
    references: set[tuple[str, str, str]],
) -> dict[str, CaseHead]:
    """What partners' events that name their case prove, their cases and links read in
    one statement: the partner holds the case (given, as reported), and the partner's
    reference on them is its own. The cases' ids, then the parties given them, then the
    references kept, read one after the other, were three statements of a small file's
    dozen (issue 17).

    Returns the named cases' heads, read in the same statement: appending the events
    next needs them, and a second read of the same cases was a small file's largest
    statement after the insert (issue 17)."""
    heads, held, kept = _known_links(
        connection,
        {case_ref for case_ref, _ in given} | {case_ref for case_ref, _, _ in references},
    )
    if not heads:
        return heads
    ids = {reference: head.id for reference, head in heads.items()}
    # Partners report the same cases page after page: what is known already is read
    # rather than written again (two inserts skipping every row and an update matching
    # none). The writes still skip conflicts, for a concurrent ingestion.
    given = {
        (case_ref, party) for case_ref, party in given if (ids.get(case_ref), party) not in held
    }
    references = {
        (case_ref, party, reference)
        for case_ref, party, reference in references
        if case_ref in ids and _to_write(kept.get((ids[case_ref], party)), reference)
    }
    if given:
        _record_given(connection, given, GivenHow.REPORT, ids, None)
    if references:
        _learn_partner_references(connection, references, ids)
    return heads


_CASE_ROW, _GIVEN_ROW, _REFERENCE_ROW = 0, 1, 2


@cache
def _known_links_query(dialect: str) -> CompoundSelect[Any]:
    """The cases named (their heads), the parties given them, and the references kept on
    them, as rows of one shape told apart by ``kind``: built once, run for every chunk.

    On PostgreSQL the references are one array parameter (``= ANY``), which PostgreSQL
    plans as it plans an ``IN`` list: an expanded list of 1,000 references, three times,
    made a statement of 3,000 placeholders that psycopg parsed again at every run (it
    keeps only short statements parsed) and 3,000 parameters to dump (issue 17,
    thirteenth pass). On SQLite they are one JSON list (``json_each``), as the outbox's
    timelines bind theirs: an expanded ``IN`` list made a text for each number of
    references, which SQLAlchemy rendered and SQLite parsed again (about 7 M
    instructions each for 1,000), and 3,000 values bound one by one (issue 17, fifteenth
    pass)."""
    from hub.store.events import HEAD_COLUMNS

    named = among(cases.c.reference, "references", String(), dialect)
    nothing = cast(null(), String)
    no_head = [cast(null(), column.type) for column in HEAD_COLUMNS[2:]]
    heads = select(
        literal_column(str(_CASE_ROW), Integer).label("kind"),
        nothing.label("party"),
        nothing.label("partner_reference"),
        nothing.label("recorded_by"),
        *HEAD_COLUMNS,
    ).where(named)
    if dialect == "postgresql":
        # The heads read locks the named cases (in the ids' order) until the commit, as
        # ``events._case_heads`` does: the events appended next move each case from what
        # was read here, which no other writer can change meanwhile (issue 17,
        # seventeenth pass). A union takes no FOR UPDATE; a query in its WITH does.
        locked = (
            select(*HEAD_COLUMNS).where(named).order_by(cases.c.id).with_for_update().cte("named")
        )
        heads = select(
            literal_column(str(_CASE_ROW), Integer).label("kind"),
            nothing.label("party"),
            nothing.label("partner_reference"),
            nothing.label("recorded_by"),
            *locked.c,
        )
    return union_all(
        heads,
        select(
            literal_column(str(_GIVEN_ROW), Integer),
            case_parties.c.party_id,
            nothing,
            nothing,
            cases.c.id,
            cases.c.reference,
            *no_head,
        )
        .join(case_parties, case_parties.c.case_id == cases.c.id)
        .where(named),
        select(
            literal_column(str(_REFERENCE_ROW), Integer),
            case_references.c.party_id,
            case_references.c.reference,
            case_references.c.recorded_by,
            cases.c.id,
            cases.c.reference,
            *no_head,
        )
        .join(case_references, case_references.c.case_id == cases.c.id)
        .where(named),
    )


_KNOWN_LINKS = DriverStatement(_known_links_query)
"""Every chunk of every file runs it: compiled once per database kind, run on the driver
(issue 17)."""


def _known_links(
    connection: Connection, references: Iterable[str]
) -> tuple[dict[str, CaseHead], set[tuple[int, str]], dict[tuple[int, str], tuple[str, str]]]:
    """The named cases' heads by reference, the (case id, party) pairs given already,
    and each pair's kept reference with who recorded it."""
    from hub.store.events import case_head

    heads: dict[str, CaseHead] = {}
    held: set[tuple[int, str]] = set()
    kept: dict[tuple[int, str], tuple[str, str]] = {}
    wanted = sorted(set(references))
    dialect = connection.dialect.name
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        rows = _KNOWN_LINKS.rows(connection, {"references": one_list(dialect, chunk)})
        for kind, party, reference, recorded_by, *head in rows:
            if kind == _CASE_ROW:
                case = case_head(*head)
                heads[case.reference] = case
            elif kind == _GIVEN_ROW:
                held.add((int(head[0]), party))
            else:
                kept[(int(head[0]), party)] = (reference, recorded_by)
    return heads, held, kept


def _to_write(kept: tuple[str, str] | None, reference: str) -> bool:
    """Whether a partner's reference changes anything: none kept yet for the pair (it is
    inserted), or the same one kept unproven (it becomes the partner's). A different one
    kept stays, the first wins: writing it would change nothing."""
    if kept is None:
        return True
    return kept[0] == reference and kept[1] != RecordedBy.PARTNER.value


@cache
def _confirming_upsert(dialect_name: str) -> PostgresqlInsert | SqliteInsert:
    """Built once per database kind (``excluded`` alone cost a third of a millisecond)."""
    return _confirming(_insert(dialect_name, case_references))


def _confirming(
    statement: PostgresqlInsert | SqliteInsert,
) -> PostgresqlInsert | SqliteInsert:
    """The references' rule on an insert of them: a new pair is inserted; a pair holding
    the same reference unproven (a retailer's) becomes the partner's; a different one
    stays (the first wins)."""
    return statement.on_conflict_do_update(
        index_elements=["case_id", "party_id"],
        set_={"recorded_by": statement.excluded.recorded_by},
        where=(case_references.c.reference == statement.excluded.reference)
        & (case_references.c.recorded_by != RecordedBy.PARTNER.value),
    )


_CONFIRMING = DriverStatement(_confirming_upsert)
"""As ``_GIVEN``, for the references a file teaches."""


@cache
def _confirming_at_once() -> PostgresqlInsert | SqliteInsert:
    """``_CONFIRMING`` for PostgreSQL, the rows given as three arrays (as
    ``_given_at_once``); who recorded them is one for the batch."""
    from sqlalchemy.dialects import postgresql

    learned = unnested(("case_id", BigInteger()), ("party_id", String()), ("reference", String()))
    return _confirming(
        postgresql.insert(case_references).from_select(
            ["case_id", "party_id", "reference", "recorded_by"],
            select(
                learned.c.case_id,
                learned.c.party_id,
                learned.c.reference,
                bindparam("recorded_by", type_=String),
            ),
        )
    )


_CONFIRMING_AT_ONCE = DriverStatement(lambda _dialect: _confirming_at_once())


def _learn_partner_references(
    connection: Connection, triples: set[tuple[str, str, str]], ids: Mapping[str, int]
) -> None:
    partner = RecordedBy.PARTNER.value  # read once, as ``_record_given``'s ``how``
    rows = [
        {
            "case_id": ids[case_ref],
            "party_id": party,
            "reference": reference,
            "recorded_by": partner,
        }
        for case_ref, party, reference in sorted(triples)
        if case_ref in ids
    ]
    if not rows:
        return
    if len({(row["case_id"], row["party_id"]) for row in rows}) == len(rows):
        # One statement: a new pair is inserted; a pair holding the same reference
        # unproven (a retailer's) becomes the partner's; a different one stays.
        if connection.dialect.name == "postgresql":
            _CONFIRMING_AT_ONCE.execute(
                connection,
                {
                    "case_ids": [row["case_id"] for row in rows],
                    "party_ids": [row["party_id"] for row in rows],
                    "references": [row["reference"] for row in rows],
                    "recorded_by": RecordedBy.PARTNER.value,
                },
            )
            return
        _CONFIRMING.execute_many(connection, rows)
        return
    # Several references for one pair (PostgreSQL refuses to update a row twice in one
    # statement): the first is inserted, then the one kept is confirmed if it is among them.
    connection.execute(
        insert_ignoring_conflicts(connection, case_references, "case_id", "party_id"), rows
    )
    connection.execute(
        update(case_references)
        .where(
            case_references.c.case_id == bindparam("confirmed_case"),
            case_references.c.party_id == bindparam("confirmed_party"),
            case_references.c.reference == bindparam("confirmed_reference"),
            case_references.c.recorded_by != RecordedBy.PARTNER.value,
        )
        .values(recorded_by=RecordedBy.PARTNER.value),
        [
            {
                "confirmed_case": row["case_id"],
                "confirmed_party": row["party_id"],
                "confirmed_reference": row["reference"],
            }
            for row in rows
        ],
    )


REFERENCES_OF_CASE = (
    select(case_references.c.party_id, case_references.c.reference, case_references.c.recorded_by)
    .join(cases, cases.c.id == case_references.c.case_id)
    .where(cases.c.reference == bindparam("case_ref"))
    .order_by(case_references.c.party_id)
)
"""Every partner's reference kept on a case (the plain reads run it too)."""


def references_of_case(connection: Connection, case_ref: str) -> list[KeptReference]:
    """Every partner's reference recorded on the case (by the partner itself, from its
    events or its answers, or by the retailer), by party."""
    return kept_references(connection.execute(REFERENCES_OF_CASE, {"case_ref": case_ref}))


def note_unlinked(
    connection: Connection, reasons: dict[str, str], *, now: datetime | None = None
) -> None:
    """Keep why these events (by id) were left without a case; a later reason replaces
    none (the first explanation stays with the event)."""
    if not reasons:
        return
    moment = now or datetime.now(UTC)
    connection.execute(
        insert_ignoring_conflicts(connection, unlinked_reasons, "event_id"),
        [
            {"event_id": event_id, "reason": reason, "noted_at": moment}
            for event_id, reason in sorted(reasons.items())
        ],
    )


UNLINKED = (
    select(
        events.c.event_id,
        events.c.reported_by,
        events.c.type,
        events.c.raw_code,
        events.c.partner_ref,
        events.c.case_ref,
        events.c.subject,
        events.c.occurred_at,
        events.c.recorded_at,
        unlinked_reasons.c.reason,
    )
    .outerjoin(unlinked_reasons, unlinked_reasons.c.event_id == events.c.event_id)
    .where(events.c.case_id.is_(None))
    .order_by(events.c.seq.desc())
    .limit(bindparam("limit", type_=Integer))
)
"""Events without a case, newest first, in ``UnlinkedEvent``'s order (the plain reads
run it too: hub.store.plain_sql)."""
UNLINKED_OF_PARTY = UNLINKED.where(events.c.reported_by == bindparam("party"))
"""``UNLINKED`` of one reporting party."""


def unlinked_events(
    connection: Connection, *, party: str | None = None, limit: int = 200
) -> list[UnlinkedEvent]:
    """Events without a case, newest first, with why: a reference to a case not opened
    yet, or the reason resolution gave up."""
    if party is None:
        rows = connection.execute(UNLINKED, {"limit": limit}).all()
    else:
        rows = connection.execute(UNLINKED_OF_PARTY, {"limit": limit, "party": party}).all()
    return unlinked_rows(rows)


def trusted_partner_references(connection: Connection, party: str) -> list[str]:
    """The party's references of unfinished cases that the party itself reported, or that a
    retailer recorded on a case the party was given: what a per-item pull may ask about."""
    finals = [status.value for status in FINAL_CASE_STATUSES]
    given = _given_to(party)
    rows = connection.execute(
        select(case_references.c.reference)
        .distinct()
        .join(cases, cases.c.id == case_references.c.case_id)
        .where(case_references.c.party_id == party)
        .where(cases.c.status.is_(None) | cases.c.status.not_in(finals))
        .where(
            (case_references.c.recorded_by == RecordedBy.PARTNER.value)
            | and_(case_references.c.recorded_by == RecordedBy.RETAILER.value, given)
        )
        .order_by(case_references.c.reference)
    )
    return [reference for (reference,) in rows]


def _insert(dialect_name: str, table: Table) -> PostgresqlInsert | SqliteInsert:
    """The dialect's ``INSERT … ON CONFLICT``, its module imported where the engine has
    loaded it already (see hub.store.upsert)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
