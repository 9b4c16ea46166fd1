"""What every party ended with, whether they all agree, and the summary that says so.

Consistency, concretely (``check``):

- each partner holds exactly the messages the hub delivered to it, each once: the repair
  orders in Atelier Dupont's folder and in TechniService's API, the purchase orders on
  PiècesPlus's server (by order id), the pickups ColisExpress accepted (by reference);
- each Maison Électro case's latest status received by webhook is the hub's status;
- each BricoMarket case's last status read in the feed is the hub's status;
- nothing is left pending in the outbox but what a dead letter holds back (the repair
  order that waits for its pickup), and the only dead letters are those the story
  expects (a pickup to an address the carrier refuses);
- the rejects are exactly the broken lines of the workshop's bad export (and the files
  other partners broke on purpose, refused whole);
- the file warnings are exactly the sequence gaps the story made (a file lost at the
  partner's end).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console
from rich.table import Table

from hub.partners.connectors import Network
from hub.store.cases import case_statuses, count_cases_by_status
from hub.store.db import Connection, Database
from hub.store.events import count_events_by_reporter
from hub.store.file_warnings import all_warnings
from hub.store.outbox import all_messages, dead_letters, held_back
from hub.store.rejects import all_rejects
from hub.sync.delivery import order_id
from hub.sync.outbox import OutboxRow, OutboxState

PartnerHoldings = dict[str, Counter[str]]
"""Per outbound connector, what the partner holds, keyed like ``message_key``."""


@dataclass(frozen=True)
class Reject:
    connector: str
    source: str
    line: int | None
    reason: str


@dataclass(frozen=True)
class Warning:
    connector: str
    source: str
    kind: str
    reason: str


@dataclass(frozen=True)
class DeadLetter:
    target: str
    case_ref: str | None
    error: str
    holds_back: tuple[str, ...] = ()
    """The messages that wait for it (a rule's ``after``), as "kind to target"."""


@dataclass
class Observed:
    """Every party's state at the end, side by side."""

    hub_statuses: dict[str, str | None]
    delivered: PartnerHoldings
    held: PartnerHoldings
    webhook_statuses: dict[str, str | None]
    webhook_cases: set[str]
    feed_statuses: dict[str, str | None]
    feed_cases: set[str]
    pending: int
    dead: list[DeadLetter]
    expected_dead: set[tuple[str, str]]
    rejects: list[Reject]
    expected_rejects: set[tuple[str, int]]
    reject_connector: str
    more_expected_rejects: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    """Other connectors' expected rejects, by connector: (file, line)."""
    warnings: list[Warning] = field(default_factory=list)
    expected_warnings: set[tuple[str, str, str]] = field(default_factory=set)
    """(connector, file, kind) of each file warning the story provokes."""


def message_key(row: OutboxRow) -> str:
    """What identifies a message at its partner: the purchase order's id, the pickup's
    reference (the way back has its own), the case of a repair order."""
    if row.kind == "purchase_order":
        return order_id(row)
    if row.kind == "pickup" and isinstance(row.payload, dict):
        leg = row.payload.get("leg")
        return f"{row.case_ref}-R" if leg == "to_customer" else str(row.case_ref)
    return str(row.case_ref)


def _compare(name: str, delivered: Counter[str], held: Counter[str]) -> list[str]:
    problems = []
    for key in sorted(set(delivered) | set(held)):
        sent, has = delivered.get(key, 0), held.get(key, 0)
        if has != sent or has > 1:
            problems.append(f"{name}: {key} delivered {sent} time(s) but held {has} time(s)")
    return problems


def _statuses(
    who: str, cases_of: set[str], seen: dict[str, str | None], hub: dict[str, str | None]
) -> list[str]:
    problems = []
    for reference in sorted(cases_of):
        if reference not in seen:
            problems.append(f"{who}: never heard of {reference}")
        elif seen[reference] != hub.get(reference):
            problems.append(
                f"{who}: {reference} shows {seen[reference]} but the hub says {hub.get(reference)}"
            )
    return problems


def check(observed: Observed) -> list[str]:
    """Every disagreement between parties, one sentence each; empty when consistent."""
    problems: list[str] = []
    for connector in sorted(set(observed.delivered) | set(observed.held)):
        problems += _compare(
            connector,
            observed.delivered.get(connector, Counter()),
            observed.held.get(connector, Counter()),
        )
    problems += _statuses(
        "maison-electro (webhooks)",
        observed.webhook_cases,
        observed.webhook_statuses,
        observed.hub_statuses,
    )
    problems += _statuses(
        "bricomarket (feed)", observed.feed_cases, observed.feed_statuses, observed.hub_statuses
    )
    if observed.pending:
        problems.append(f"outbox: {observed.pending} message(s) still pending")
    dead = {(letter.target, letter.case_ref or "") for letter in observed.dead}
    for target, case_ref in sorted(dead - observed.expected_dead):
        problems.append(f"outbox: unexpected dead letter to {target} for {case_ref}")
    for target, case_ref in sorted(observed.expected_dead - dead):
        problems.append(f"outbox: the expected dead letter to {target} for {case_ref} is missing")
    found = Counter(
        (reject.source, reject.line or 0)
        for reject in observed.rejects
        if reject.connector == observed.reject_connector
    )
    expected = Counter(observed.expected_rejects)
    for source, line in sorted(found - expected):
        problems.append(f"rejects: {source} line {line} was rejected but is not a broken line")
    for source, line in sorted(expected - found):
        problems.append(f"rejects: {source} line {line} is broken but was not rejected")
    more = observed.more_expected_rejects
    others = [r for r in observed.rejects if r.connector != observed.reject_connector]
    for reject in others:
        if reject.connector not in more:
            problems.append(f"rejects: unexpected {reject.connector} {reject.source}:{reject.line}")
    for connector, wanted in sorted(more.items()):
        got = Counter((r.source, r.line or 0) for r in others if r.connector == connector)
        for source, line in sorted(got - Counter(wanted)):
            problems.append(f"rejects: {connector} {source} line {line} rejected unexpectedly")
        for source, line in sorted(Counter(wanted) - got):
            problems.append(f"rejects: {connector} {source} line {line} was not rejected")
    seen = Counter((w.connector, w.source, w.kind) for w in observed.warnings)
    for connector, source, kind in sorted(seen - Counter(observed.expected_warnings)):
        problems.append(f"file warnings: unexpected {kind} on {connector} {source}")
    for connector, source, kind in sorted(Counter(observed.expected_warnings) - seen):
        problems.append(f"file warnings: expected {kind} on {connector} {source} is missing")
    return problems


# -- reading the hub's side ----------------------------------------------------------------


def hub_statuses(connection: Connection) -> dict[str, str | None]:
    return case_statuses(connection)


def outbox_rows(connection: Connection) -> list[OutboxRow]:
    return all_messages(connection)


def held_by_dead_letters(connection: Connection) -> dict[int, list[OutboxRow]]:
    """By dead letter, the pending messages that wait for it (a rule's ``after``)."""
    return held_back(connection, [letter.id for letter in dead_letters(connection)])


def delivered_by_connector(rows: list[OutboxRow]) -> PartnerHoldings:
    holdings: PartnerHoldings = {}
    for row in rows:
        if row.state is OutboxState.DELIVERED and not row.target.startswith("webhook:"):
            holdings.setdefault(row.target, Counter())[message_key(row)] += 1
    return holdings


def stored_rejects(connection: Connection) -> list[Reject]:
    return [
        Reject(reject.connector, reject.source, reject.line, reject.reason)
        for reject in all_rejects(connection)
    ]


def stored_warnings(connection: Connection) -> list[Warning]:
    return [
        Warning(warning.connector, warning.source, warning.kind, warning.reason)
        for warning in all_warnings(connection)
    ]


def dead_letters_of(rows: list[OutboxRow], held: dict[int, list[OutboxRow]]) -> list[DeadLetter]:
    """``held``: by dead letter, the messages that wait for it (hub.store.outbox.held_back)."""
    return [
        DeadLetter(
            row.target,
            row.case_ref,
            (row.last_error or "")[:120],
            tuple(f"{waiting.kind} to {waiting.target}" for waiting in held.get(row.id, [])),
        )
        for row in rows
        if row.state is OutboxState.DEAD
    ]


def pending_of(rows: list[OutboxRow], held: dict[int, list[OutboxRow]]) -> int:
    """Messages still to send, those a dead letter holds back left out: they wait for an
    operator, so the story expects them pending beside it."""
    pending = sum(1 for row in rows if row.state is OutboxState.PENDING)
    return pending - sum(len(waiting) for waiting in held.values())


# -- the summary ----------------------------------------------------------------------------


@dataclass
class Figures:
    """What the summary shows beyond consistency."""

    statuses: Counter[str]
    events_by_reporter: Counter[str]
    delivered_by_party: Counter[str]
    feed_items: int
    breaches: list[tuple[str, str, str, str]] | None
    rounds: int
    seconds: float
    extra: dict[str, str] = field(default_factory=dict)


def figures_of(
    database: Database, network: Network, rows: list[OutboxRow], *, feed_items: int
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Cases per status, events per reporting party, messages delivered per party."""
    with database.reading() as connection:
        statuses = Counter(count_cases_by_status(connection))
        reporters = Counter(count_events_by_reporter(connection))
    partners = {spec.name: spec.partner for spec in network.config.connectors}
    delivered: Counter[str] = Counter()
    for row in rows:
        if row.state is OutboxState.DELIVERED:
            party = row.target.removeprefix("webhook:")
            delivered[partners.get(party, party)] += 1
    if feed_items:
        delivered["bricomarket (feed items read)"] = feed_items
    return statuses, reporters, delivered


def print_summary(
    console: Console,
    figures: Figures,
    observed: Observed,
    problems: list[str],
    *,
    now: datetime,
) -> None:
    """The Rich summary of a demo run, ending with the consistency verdict."""
    statuses = Table("final status", "cases", title="Cases")
    for status, count in sorted(figures.statuses.items()):
        statuses.add_row(status, str(count))
    statuses.add_row("[bold]total[/bold]", str(sum(figures.statuses.values())))
    console.print(statuses)
    reporters = Table("reported by", "events", title="Events")
    for party, count in sorted(figures.events_by_reporter.items()):
        reporters.add_row(party, str(count))
    reporters.add_row("[bold]total[/bold]", str(sum(figures.events_by_reporter.values())))
    console.print(reporters)
    delivered = Table("party", "messages delivered", title="Messages delivered")
    for party, count in sorted(figures.delivered_by_party.items()):
        delivered.add_row(party, str(count))
    console.print(delivered)
    rejected = Table("connector", "file", "line", "reason", title="Rejects")
    for reject in observed.rejects:
        rejected.add_row(reject.connector, reject.source, str(reject.line), reject.reason[:70])
    console.print(rejected)
    if observed.warnings:
        warned = Table("connector", "file", "kind", "reason", title="File warnings")
        for warning in observed.warnings:
            warned.add_row(warning.connector, warning.source, warning.kind, warning.reason[:70])
        console.print(warned)
    if figures.breaches is None:
        console.print("Service levels: not available in this build")
    else:
        breaches = Table(
            "case", "step", "basis", "late by", title=f"Service-level breaches at {now:%d/%m %H:%M}"
        )
        for row in figures.breaches:
            breaches.add_row(*row)
        if not figures.breaches:
            breaches.add_row("(none)", "", "", "")
        console.print(breaches)
    dead = Table("target", "case", "last error", title="Dead letters")
    for letter in observed.dead:
        expected = (letter.target, letter.case_ref or "") in observed.expected_dead
        mark = " [dim](expected)[/dim]" if expected else " [red](unexpected)[/red]"
        dead.add_row(letter.target, (letter.case_ref or "") + mark, letter.error)
    console.print(dead)
    for letter in observed.dead:
        if letter.holds_back:
            console.print(
                f"The dead letter to {letter.target} for {letter.case_ref} holds back: "
                f"{', '.join(letter.holds_back)} (sent once it is re-sent or discarded)",
                markup=False,
            )
    for name, value in figures.extra.items():
        console.print(f"{name}: {value}")
    console.print(f"{figures.rounds} rounds in {figures.seconds:.1f} s")
    if problems:
        console.print(f"[bold red]INCONSISTENT[/bold red]: {len(problems)} problem(s)")
        for problem in problems:
            console.print(f"  - {problem}", markup=False)
    else:
        console.print(
            "[bold green]CONSISTENT[/bold green]: every partner holds exactly what the hub "
            "sent, both retailers show the hub's status of every case, nothing is pending but what "
            "the expected dead letter holds back, "
            "and only the expected dead letter and rejects are left"
        )
