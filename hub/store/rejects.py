"""Rejected records kept for the operator, each once per archived message, and read
back for the operator's listings.

A message imported again (a file re-sent after an import stopped half-way) must not
list the same rejected line twice: the rejects already kept for it are looked up by
line, field and reason, as a replay does.

A reject is marked fixed when the record is read again without being refused: a replay
of its message, a later file of the connector under the same name (the partner sending
that file again) with no reject at that line, or a later file that brought an event with
the line's code for the case the line names (the partner's next export sending its
broken lines again, corrected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)

from hub.errors import PartnerDataError
from hub.store.compiled import DriverStatement
from hub.store.id_pages import id_page
from hub.store.listing_rows import Reject
from hub.store.listing_rows import reject_of as _reject
from hub.store.tables import (
    case_references,
    cases,
    connector_runs,
    events,
    raw_messages,
    rejects,
    replays,
)

RejectKey = tuple[int | None, str | None, str]
"""Line, field and reason: what tells two rejects of one message apart."""


def key_of(problem: PartnerDataError) -> RejectKey:
    """A refused record's key, as its reject is kept."""
    return (problem.location.line, problem.location.field, problem.reason)


@dataclass(frozen=True)
class NewReject:
    line: int | None
    field: str | None
    reason: str
    raw: str

    @property
    def key(self) -> RejectKey:
        return (self.line, self.field, self.reason)


def kept_reject_keys(connection: Connection, message_id: int) -> set[RejectKey]:
    """The rejects already kept for this archived message."""
    found = connection.execute(
        select(rejects.c.line, rejects.c.field, rejects.c.reason).where(
            rejects.c.message_id == message_id
        )
    ).all()
    return {(row.line, row.field, row.reason) for row in found}


def keep_rejects(
    connection: Connection,
    found: Sequence[NewReject],
    *,
    connector: str,
    source: str,
    message_id: int,
    run_id: int | None,
    now: datetime,
) -> None:
    """Keep each rejected record with where, why and its raw text."""
    if not found:
        return
    connection.execute(
        rejects.insert(),
        [
            {
                "connector": connector,
                "run_id": run_id,
                "message_id": message_id,
                "source": source,
                "line": reject.line,
                "field": reject.field,
                "reason": reject.reason,
                "raw": reject.raw,
                "created_at": now,
            }
            for reject in found
        ],
    )


RECENT_REJECTS = (
    select(rejects)
    .where(rejects.c.connector == bindparam("connector", type_=String))
    .order_by(rejects.c.created_at.desc(), rejects.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
"""A connector's rejected records, newest first (the plain reads run it too:
hub.store.plain_sql)."""


def recent_rejects(connection: Connection, connector: str, *, limit: int) -> list[Reject]:
    """The connector's rejected records, newest first."""
    rows = connection.execute(RECENT_REJECTS, {"connector": connector, "limit": limit}).all()
    return [_reject(row) for row in rows]


def all_rejects(connection: Connection) -> list[Reject]:
    """Every rejected record, in the order they were kept."""
    return [_reject(row) for row in connection.execute(select(rejects).order_by(rejects.c.id))]


# --- fixed by a later reading of the same record ----------------------------------------


def mark_fixed_by_replay(
    connection: Connection,
    message_id: int,
    still_rejected: set[RejectKey],
    *,
    run_id: int,
    now: datetime,
) -> int:
    """A replay read the message again: its kept rejects it did not refuse again are
    fixed (the mapping of today reads them). How many were marked."""
    return _mark(
        connection,
        [rejects.c.message_id == message_id],
        still_rejected,
        run_id=run_id,
        now=now,
    )


OPEN_REJECTS_CHECKED = 200
"""The most recent open rejects of a connector each new file is checked against: a
connector with more has a problem no re-send fixes line by line."""


@cache
def _later_file_candidates() -> tuple[Select[Any], CompoundSelect[Any]]:
    """The statements reading a later file's candidates, built once, on first use (building
    them cost a small file more than running them, issue 17): the same name's open rejects, and
    those with the connector's newest others."""
    columns = (rejects.c.id, rejects.c.line, rejects.c.field, rejects.c.reason, rejects.c.raw)
    message_id = bindparam("message_id", type_=Integer)
    earlier = or_(rejects.c.message_id.is_(None), rejects.c.message_id < message_id)
    same_name = select(
        literal_column("1", Integer).label("same_name"), *columns, earlier.label("earlier")
    ).where(
        rejects.c.connector == bindparam("connector"),
        rejects.c.source == bindparam("source"),
        or_(rejects.c.message_id.is_(None), rejects.c.message_id != message_id),
        rejects.c.fixed_at.is_(None),
    )
    others = (
        select(literal_column("0", Integer).label("same_name"), *columns)
        .where(
            rejects.c.connector == bindparam("connector"),
            rejects.c.source != bindparam("source"),
            rejects.c.fixed_at.is_(None),
            rejects.c.raw.is_not(None),
            earlier,
        )
        .order_by(rejects.c.id.desc())
        .limit(OPEN_REJECTS_CHECKED)
        .subquery()
    )
    return same_name, union_all(same_name, select(*others.c, true()))


_SAME_NAME = DriverStatement(lambda _dialect: _later_file_candidates()[0])
_WITH_REPORTS = DriverStatement(lambda _dialect: _later_file_candidates()[1])
"""Every file read whole runs one of them: compiled once per database kind, run on the
driver (issue 17). Their rows: same name, id, line, field, reason, raw, earlier."""


def mark_fixed_by_later_file(
    connection: Connection,
    connector: str,
    source: str,
    message_id: int,
    still_rejected: set[RejectKey],
    *,
    reports: bool,
    run_id: int | None,
    now: datetime,
) -> int:
    """A later file of the connector was read whole: what it fixed is marked. How many.

    - By re-send: the open rejects of the earlier files under the same name that it did
      not refuse again (same line, field and reason).
    - By later report (when ``reports``: it stored events): of the connector's most recent
      open rejects, each whose line's meaning it brought, an event stored from it with the
      line's code for the case (or partner reference) the line names, as when a partner's
      next export sends its broken lines again corrected.

    Both kinds of candidates are read in one statement (a small file's two, issue 17):
    the same name's open rejects, whole, and the newest others; those a re-send fixes
    are no report's candidates.
    """
    statement = _WITH_REPORTS if reports else _SAME_NAME
    rows = statement.rows(
        connection, {"connector": connector, "source": source, "message_id": message_id}
    )
    fixed = [
        reject_id
        for same_name, reject_id, line, field, reason, _raw, _earlier in rows
        if same_name and (line, field, reason) not in still_rejected
    ]
    if reports:
        resent = set(fixed)
        candidates = sorted(
            (
                (reject_id, raw)
                for same_name, reject_id, _line, _field, _reason, raw, earlier in rows
                if raw is not None and reject_id not in resent and (not same_name or earlier)
            ),
            reverse=True,
        )[:OPEN_REJECTS_CHECKED]
        fixed += _brought_by(connection, message_id, candidates)
    if fixed:
        connection.execute(
            update(rejects).where(rejects.c.id.in_(fixed)).values(fixed_at=now, fixed_by_run=run_id)
        )
    return len(fixed)


def _brought_by(
    connection: Connection, message_id: int, candidates: list[tuple[int, str]]
) -> list[int]:
    """The rejects among ``candidates`` (id and raw line) whose meaning the message
    brought: an event stored from it with one of the line's words as its code and another
    as its case or partner reference."""
    fixed: list[int] = []
    for reject_id, raw in candidates:
        words = sorted(set(words_of(str(raw))))
        if not words:
            continue
        found = connection.execute(
            select(events.c.seq)
            .where(
                events.c.message_id == message_id,
                events.c.raw_code.in_(words),
                or_(events.c.case_ref.in_(words), events.c.partner_ref.in_(words)),
            )
            .limit(1)
        ).first()
        if found is not None:
            fixed.append(int(reject_id))
    return fixed


def _mark(
    connection: Connection,
    where: list[Any],
    still_rejected: set[RejectKey],
    *,
    run_id: int | None,
    now: datetime,
) -> int:
    candidates = connection.execute(
        select(rejects.c.id, rejects.c.line, rejects.c.field, rejects.c.reason).where(
            *where, rejects.c.fixed_at.is_(None)
        )
    ).all()
    fixed = [
        row.id for row in candidates if (row.line, row.field, row.reason) not in still_rejected
    ]
    if fixed:
        connection.execute(
            update(rejects).where(rejects.c.id.in_(fixed)).values(fixed_at=now, fixed_by_run=run_id)
        )
    return len(fixed)


# --- the console's rejects list ---------------------------------------------------------

OPEN = "open"
FIXED = "fixed"


@dataclass(frozen=True)
class RejectPage:
    """Rejects newest first, with the keys of the pages around them (None: none)."""

    rejects: list[Reject]
    newer: int | None
    older: int | None


def reject_page(
    connection: Connection,
    *,
    connector: str | None,
    state: str | None,
    count: int,
    before: int | None = None,
    after: int | None = None,
) -> RejectPage:
    """Rejected records newest first (by id), ``open`` (not fixed), ``fixed`` or all."""
    conditions: list[Any] = []
    if connector:
        conditions.append(rejects.c.connector == connector)
    if state == OPEN:
        conditions.append(rejects.c.fixed_at.is_(None))
    elif state == FIXED:
        conditions.append(rejects.c.fixed_at.is_not(None))
    page = id_page(connection, rejects, conditions, count, before=before, after=after)
    kept = [_reject(row) for row in page.rows]
    ids = [reject.id for reject in kept]
    return RejectPage(kept, newer=page.newer(ids), older=page.older(ids))


def count_rejects(connection: Connection, connector: str | None) -> dict[str, int]:
    """Open and fixed rejects, of one connector or all."""
    statement = select(rejects.c.fixed_at.is_(None), func.count()).group_by(
        rejects.c.fixed_at.is_(None)
    )
    if connector:
        statement = statement.where(rejects.c.connector == connector)
    counts = {OPEN: 0, FIXED: 0}
    for still_open, total in connection.execute(statement):
        counts[OPEN if still_open else FIXED] += int(total)
    return counts


@dataclass(frozen=True)
class ReplayTries:
    """How often a message was replayed, when last, and how that replay ended."""

    attempts: int
    last_at: datetime
    last_run: int
    last_outcome: str
    last_rejected: int


def replay_tries(connection: Connection, message_ids: list[int]) -> dict[int, ReplayTries]:
    """For each of these archived messages, the replays that read it again: by its id,
    or a connector's replay since a date that included it."""
    if not message_ids:
        return {}
    rows = connection.execute(
        select(
            raw_messages.c.id,
            connector_runs.c.id,
            connector_runs.c.started_at,
            connector_runs.c.outcome,
            connector_runs.c.rejected,
        )
        .select_from(raw_messages)
        .join(
            replays,
            or_(
                replays.c.message_id == raw_messages.c.id,
                and_(replays.c.message_id.is_(None), replays.c.since <= raw_messages.c.received_at),
            ),
        )
        .join(
            connector_runs,
            and_(
                connector_runs.c.id == replays.c.run_id,
                connector_runs.c.connector == raw_messages.c.source,
            ),
        )
        .where(raw_messages.c.id.in_(message_ids))
        .order_by(raw_messages.c.id, connector_runs.c.id)
    ).all()
    tries: dict[int, ReplayTries] = {}
    for message_id, run_id, started_at, outcome, rejected in rows:
        before = tries.get(message_id)
        tries[message_id] = ReplayTries(
            attempts=(before.attempts if before else 0) + 1,
            last_at=started_at,
            last_run=run_id,
            last_outcome=outcome,
            last_rejected=rejected,
        )
    return tries


def cases_named_in(
    connection: Connection, raw_lines: list[str], partner: str | None
) -> dict[str, str]:
    """Case references named by words of these raw lines: the hub's own reference, or a
    reference ``partner`` is known by for a case. Word -> the case's reference."""
    words = {
        word.upper()
        for line in raw_lines
        for word in words_of(line)
        if 4 <= len(word) <= 128 and any(char.isdigit() for char in word)
    }
    if not words:
        return {}
    chosen = sorted(words)[:500]
    found: dict[str, str] = {}
    own = connection.execute(
        select(cases.c.reference).where(func.upper(cases.c.reference).in_(chosen))
    ).scalars()
    for reference in own:
        found[str(reference).upper()] = str(reference)
    if partner is not None:
        theirs = connection.execute(
            select(case_references.c.reference, cases.c.reference)
            .join(cases, cases.c.id == case_references.c.case_id)
            .where(
                case_references.c.party_id == partner,
                func.upper(case_references.c.reference).in_(chosen),
            )
        ).all()
        for word, reference in theirs:
            found.setdefault(str(word).upper(), str(reference))
    return found


def words_of(line: str) -> list[str]:
    """The words of a raw line: runs of letters, digits, dashes, dots and slashes."""
    word: list[str] = []
    words: list[str] = []
    for char in line:
        if char.isalnum() or char in "-_./":
            word.append(char)
        elif word:
            words.append("".join(word).strip("./"))
            word = []
    if word:
        words.append("".join(word).strip("./"))
    return words
