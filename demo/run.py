"""Driving the demo's story, at full speed (`--once`) or live (demo.live).

The story runs in rounds: the retailers open their cases, the partners report what
happened since the last round, the hub reads, stores and sends. At full speed the hub's
very jobs (hub.partners.schedule.HubJobs: every reading connector, the drop folder,
service levels, the dispatcher until idle) are called each round, on the story's clock,
until a round changes nothing anywhere; live, the hub's own scheduler fires them, as
`hub serve` does. Either way each run is leased, recorded and alerted on.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from rich.console import Console

from demo.partners import Carrier
from demo.session import Session
from demo.story import IMPORT_COLUMNS, ROUND, START, DemoCase, import_row
from demo.story import Path as StoryPath
from demo.summary import (
    Figures,
    Observed,
    check,
    dead_letters_of,
    delivered_by_connector,
    figures_of,
    held_by_dead_letters,
    hub_statuses,
    outbox_rows,
    pending_of,
    print_summary,
    stored_rejects,
    stored_warnings,
)
from hub.model.parties import PartyRole
from hub.partners.schedule import HubJobs
from hub.sla.store import breaches
from hub.store.db import Database
from hub.store.events import count_events
from hub.store.figures import outbox_by_state
from hub.store.shipments import latest_codes
from hub.sync.outbox import OutboxState

MAX_ROUNDS = 80
QUIET_ROUNDS = 2
"""Rounds in a row without any change anywhere before the story counts as finished."""
PULL_EVERY = 4
"""Rounds between two pulls of the carrier's parcels, the safety net under its pushes
(its sheet allows 10 requests a second; every parcel on its way is one request)."""
BAD_ADDRESS_TARGET = "colis-express-pickups"


# -- the retailers open their cases ---------------------------------------------------------


def open_cases(session: Session, batch: int) -> int:
    """The retailers' cases of one batch: Maison Électro's posted one by one to the API,
    BricoMarket's in its nightly CSV, dropped in the folder (first night) or uploaded to
    ``POST /v1/cases/import`` (second night)."""
    mine = [c for c in session.cases if c.retailer == "maison-electro"]
    theirs = [c for c in session.cases if c.retailer == "bricomarket"]
    me_half, bm_half = (len(mine) + 1) // 2, (len(theirs) + 1) // 2
    me_batch = mine[:me_half] if batch == 0 else mine[me_half:]
    bm_batch = theirs[:bm_half] if batch == 0 else theirs[bm_half:]
    with httpx.Client(base_url=session.hub.base_url, timeout=30) as client:
        for case in me_batch:
            answer = client.post(
                "/v1/cases",
                json=case.document(),
                headers={"Authorization": f"Bearer {session.me_key}"},
            )
            answer.raise_for_status()
        content = _import_file(bm_batch)
        night = (START + timedelta(days=batch - 1)).strftime("%Y%m%d")
        if batch == 0:
            partial = session.drop / f"export-{night}.tmp"
            partial.write_bytes(content)
            partial.rename(session.drop / f"CASES_{night}.csv")
        else:
            answer = client.post(
                "/v1/cases/import",
                files={"file": (f"CASES_{night}.csv", content, "text/csv")},
                headers={"Authorization": f"Bearer {session.bm_key}"},
            )
            answer.raise_for_status()
    return len(me_batch) + len(bm_batch)


def _import_file(batch: list[DemoCase]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(IMPORT_COLUMNS)
    writer.writerows(import_row(case) for case in batch)
    return buffer.getvalue().encode("utf-8")


# -- the hub's jobs, on the story's clock --------------------------------------------------------

_ROLE_ORDER = {PartyRole.CARRIER: 0, PartyRole.PARTS_SUPPLIER: 1, PartyRole.REPAIRER: 2}


def reading_connectors(jobs: HubJobs) -> list[str]:
    """The connectors that read from partners, carrier first, then supplier, then repairers:
    the order things happen in within a round, so events are stored in that order.

    Push connectors are left out: the hub stores a push as it arrives (`hub serve` runs
    one only when it starts, for pushes archived before a stop).
    """
    config = jobs.network.config
    roles = {party.id: party.role for party in config.parties}
    return sorted(
        jobs.reading(), key=lambda name: _ROLE_ORDER.get(roles[config.connector(name).partner], 9)
    )


@dataclass
class HubRound:
    """The hub's jobs of one round, called in turn instead of on their schedules."""

    jobs: HubJobs
    errors: list[str]

    def run(self, round_number: int, now: datetime, *, pull_parcels: bool) -> int:
        """Read everything, publish breaches, send until idle; how many messages went out.

        The carrier's parcels are pulled only when ``pull_parcels``: they come pushed.
        """
        jobs = self.jobs
        for name in reading_connectors(jobs):
            if pull_parcels or not _pulls_parcels(jobs, name):
                self._run(round_number, name)
        for drop in jobs.network.config.case_imports:
            self._run(round_number, drop.name)
        jobs.publish_breaches(now=now)
        return jobs.dispatch().delivered

    def _run(self, round_number: int, name: str) -> None:
        report = self.jobs.run(name)
        if report is None:
            self.errors.append(f"round {round_number}: {name}: skipped (backing off or paused)")
        elif report.error is not None:
            self.errors.append(f"round {round_number}: {name}: {report.error}")


def _counts(database: Database) -> tuple[int, int]:
    """Events stored and outbox messages pending, now (those a dead letter holds back
    left out: they wait for an operator, not for a round)."""
    with database.reading() as connection:
        stored = count_events(connection)
        pending = outbox_by_state(connection).get(OutboxState.PENDING.value, 0)
        pending -= sum(len(waiting) for waiting in held_by_dead_letters(connection).values())
    return stored, pending


@dataclass
class Outcome:
    """How a full-speed run ended."""

    rounds: int
    seconds: float
    problems: list[str]
    finished: bool
    end: datetime


def run_once(session: Session, console: Console) -> Outcome:
    """The whole story at full speed; then the summary and the consistency check."""
    started = time.monotonic()
    work = HubRound(session.core.jobs, [])
    quiet, round_number, finished = 0, 0, False
    now = START
    with console.status("the story unfolds…") as status:
        next_time = START
        for round_number in range(MAX_ROUNDS):
            now, next_time = next_time, next_time + ROUND
            session.clock.set(now)
            opened = open_cases(session, round_number) if round_number < 2 else 0
            before, _ = _counts(session.database)
            reported = session.partners.act(now)
            # A quiet round pulls too, so the story never ends on a missed push.
            pull = round_number % PULL_EVERY == 0 or quiet > 0
            sent = work.run(round_number, now, pull_parcels=pull)
            read = session.feed.poll()
            after, pending = _counts(session.database)
            changed = opened + reported + sent + read + (after - before) + pending
            quiet = quiet + 1 if changed == 0 else 0
            waiting = session.partners.waiting_until()
            if changed == 0 and waiting is not None and waiting > next_time:
                next_time, quiet = waiting, 0  # days pass with nothing to report
            status.update(
                f"round {round_number}: {reported} partner reports, {after - before} "
                f"events stored, {sent} messages sent, {read} feed items read"
            )
            if quiet >= QUIET_ROUNDS:
                finished = True
                break
    seconds = time.monotonic() - started
    observed = observe(session)
    problems = check(observed) + work.errors + _carrier_complaints(session)
    problems += relay_problems(session)
    if not finished:
        problems.append(f"the story did not settle within {MAX_ROUNDS} rounds")
    summarise(
        session, console, observed, problems, rounds=round_number + 1, seconds=seconds, now=now
    )
    return Outcome(round_number + 1, seconds, problems, finished, now)


def _pulls_parcels(jobs: HubJobs, name: str) -> bool:
    """The carrier's pull connector: each parcel on its way, one request each."""
    spec = jobs.network.config.connector(name)
    transport = spec.transport
    return (
        spec.partner in PULLED_CARRIERS and transport is not None and transport.type == "http-pull"
    )


PULLED_CARRIERS = ("colis-express", "relais-direct")
"""Carriers whose parcels are pushed and also pulled, one request each, as a safety net."""


def relay_problems(session: Session) -> list[str]:
    """Each Relais Direct parcel's latest event at the carrier is the hub's latest for
    it: the batches lost on the way were found by the SOAP pull."""
    relay = session.partners.relay_carrier
    if relay is None:
        return []
    with session.database.reading() as connection:
        latest = latest_codes(connection, "relais-direct")
    return [
        f"Relais Direct parcel {number}: the carrier's latest event is {code}, the hub's "
        f"{latest.get(number)}"
        for number, code in sorted(relay.latest().items())
        if latest.get(number) != code
    ]


def expected_dead(session: Session) -> set[tuple[str, str]]:
    """The story's one expected dead letter: the pickup at an address the carrier refuses."""
    return {
        (BAD_ADDRESS_TARGET, case.reference)
        for case in session.cases
        if case.path is StoryPath.BAD_ADDRESS
    }


def observe(session: Session) -> Observed:
    """Every party's state, read from each party itself."""
    partners = session.partners
    with session.database.reading() as connection:
        statuses = hub_statuses(connection)
        rows = outbox_rows(connection)
        waiting = held_by_dead_letters(connection)
        rejected = stored_rejects(connection)
        warned = stored_warnings(connection)
    held = {
        "atelier-dupont-orders": partners.workshop.held(),
        "techniservice-orders": partners.repair_network.held(),
        "pieces-plus-orders": partners.supplier.held(),
        "colis-express-pickups": _pickups(partners.carrier),
    }
    if partners.elec_distrib is not None:
        held["elec-distrib-orders"] = partners.elec_distrib.held()
    if partners.alpes_fret is not None:
        held["alpes-fret-bookings"] = partners.alpes_fret.held()
    more_rejects: dict[str, set[tuple[str, int]]] = {}
    expected_warnings: set[tuple[str, str, str]] = set()
    if partners.repar_ouest is not None:
        held["repar-ouest-orders"] = partners.repar_ouest.held()
        more_rejects["repar-ouest-status"] = {
            (bad.file, bad.line) for bad in partners.repar_ouest.bad_files
        }
        expected_warnings |= {
            ("repar-ouest-status", warning.file, warning.kind)
            for warning in partners.repar_ouest.warnings
        }
    return Observed(
        hub_statuses=statuses,
        delivered=delivered_by_connector(rows),
        held=held,
        webhook_statuses=session.webhooks.statuses(),
        webhook_cases={c.reference for c in session.cases if c.retailer == "maison-electro"},
        feed_statuses=dict(session.feed.cases),
        feed_cases={c.reference for c in session.cases if c.retailer == "bricomarket"},
        pending=pending_of(rows, waiting),
        dead=dead_letters_of(rows, waiting),
        expected_dead=expected_dead(session),
        rejects=rejected,
        expected_rejects={(bad.file, bad.line) for bad in partners.workshop.bad_rows},
        reject_connector="atelier-dupont-status",
        more_expected_rejects=more_rejects,
        warnings=warned,
        expected_warnings=expected_warnings,
    )


def _carrier_complaints(session: Session) -> list[str]:
    """Interchanges Alpes Fret got no CONTRL for (its operator would phone ours)."""
    alpes_fret = session.partners.alpes_fret
    return [] if alpes_fret is None else alpes_fret.problems()


def _pickups(carrier: Carrier) -> Counter[str]:
    return Counter(pickup.reference for pickup in carrier.simulator.received_pickups)


def summarise(
    session: Session,
    console: Console,
    observed: Observed,
    problems: list[str],
    *,
    rounds: int,
    seconds: float,
    now: datetime,
) -> None:
    with session.database.reading() as connection:
        rows = outbox_rows(connection)
        open_breaches = breaches(connection, session.network, now=now)
    statuses, reporters, delivered = figures_of(
        session.database, session.network, rows, feed_items=session.feed.items
    )
    carrier = session.partners.carrier.simulator
    inbox = session.webhooks.inbox
    figures = Figures(
        statuses=statuses,
        events_by_reporter=reporters,
        delivered_by_party=delivered,
        feed_items=session.feed.items,
        breaches=[(b.case_ref, b.step.value, b.basis, _duration(b.late_by)) for b in open_breaches],
        rounds=rounds,
        seconds=seconds,
        extra={
            "Carrier pushes": f"{len(carrier.delivered_pushes)} delivered, "
            f"{len(carrier.skipped_pushes)} never sent (found by pulling)",
            **_relay_figures(session),
            "Maison Électro webhooks": f"{inbox.received} accepted, {inbox.repeats} repeats "
            f"dropped, {inbox.refused} refused",
            "Errors logged": f"{session.errors.count} (see {session.folder / 'hub.log'})",
        },
    )
    alpes_fret = session.partners.alpes_fret
    if alpes_fret is not None:
        answers = alpes_fret.simulator.contrls
        figures.extra["Alpes Fret interchanges"] = (
            f"{len(alpes_fret.simulator.sent)} sent, {len(answers)} CONTRL received "
            f"({sum(1 for a in answers if a.accepted)} accepted), "
            f"{len(alpes_fret.simulator.resent)} sent again"
        )
    print_summary(console, figures, observed, problems, now=now)


def _relay_figures(session: Session) -> dict[str, str]:
    relay = session.partners.relay_carrier
    if relay is None:
        return {}
    acknowledged, lost = relay.batches()
    return {
        "Relais Direct batches": f"{acknowledged} acknowledged, {lost} lost (found by the "
        f"SOAP pull), {len(relay.simulator.tickets)} answered KO"
    }


def _duration(late: timedelta) -> str:
    hours = int(late.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"
