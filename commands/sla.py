"""`hub sla`: service-level breaches of open cases, one case's steps, publishing now."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import (
    DatabaseOption,
    JsonOption,
    NetworkOption,
    at,
    network_to_read,
    open_database,
    open_plain,
    out,
    outline_to_read,
    unbroken,
    write_json,
)

if TYPE_CHECKING:
    from hub.model.event import Event
    from hub.sla.compute import CaseServiceLevels, StepLevel
    from hub.sla.store import Breach

# What the command uses is imported in its body, so that `hub --help` starts fast.


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours}h" if days else f"{hours}h {minutes:02d}m"


def _when(moment: datetime | None) -> str:
    return "" if moment is None else at(moment, seconds=False)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _breach_json(breach: "Breach") -> dict[str, Any]:
    return {
        "case_reference": breach.case_ref,
        "retailer": breach.retailer,
        "step": breach.step.value,
        "basis": breach.basis,
        "started_at": _iso(breach.started_at),
        "deadline": _iso(breach.deadline),
        "ended_at": _iso(breach.ended_at),
        "late_by_seconds": int(breach.late_by.total_seconds()),
    }


def _step_json(step: "StepLevel") -> dict[str, Any]:
    return {
        "step": step.step.value,
        "basis": step.basis,
        "allowance": str(step.allowance),
        "started_at": _iso(step.started_at),
        "deadline": _iso(step.deadline),
        "ended_at": _iso(step.ended_at),
        "state": step.state.value,
        "late_by_seconds": None if step.late_by is None else int(step.late_by.total_seconds()),
    }


def _print_case(levels: "CaseServiceLevels") -> None:
    from rich.table import Table

    from hub.sla.compute import StepState

    level = levels.level.value if levels.level else "none (legal rule only)"
    out.print(f"{levels.case_ref} ({levels.retailer}, level {level}, {levels.coverage.value})")
    table = Table("step", "basis", "allowed", "started", "due before", "ended", "state")
    colours = {StepState.MET: "green", StepState.RUNNING: "yellow", StepState.BREACHED: "red"}
    for step in levels.steps:
        state = step.state.value
        if step.late_by is not None:
            state += f" by {_duration(step.late_by)}"
        table.add_row(
            step.step.description,
            step.basis,
            str(step.allowance),
            _when(step.started_at),
            _when(step.deadline),
            _when(step.ended_at),
            f"[{colours[step.state]}]{state}[/]",
        )
    out.print(table)


def _print_breaches(found: "list[Breach]") -> None:
    from rich.table import Table

    if not found:
        out.print("No breach in open cases.")
        return
    table = unbroken(
        Table("case", "retailer", "step", "basis", "due before", "late by", "ended"),
        "case",
    )
    for breach in found:
        table.add_row(
            breach.case_ref,
            breach.retailer,
            breach.step.description,
            breach.basis,
            _when(breach.deadline),
            _duration(breach.late_by),
            _when(breach.ended_at) or "still running",
        )
    out.print(table)
    out.print(f"{len(found)} breach(es) in open cases")


def sla(
    case: Annotated[
        str | None, typer.Option("--case", help="One case's steps and deadlines.")
    ] = None,
    retailer: Annotated[str | None, typer.Option(help="Only this retailer's cases.")] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="Tell retailers of new breaches now.")
    ] = False,
    as_json: JsonOption = False,
    network: NetworkOption = None,
    database: DatabaseOption = None,
) -> None:
    """Service levels: breaches of open cases (contract levels and the 30-day legal rule)."""
    from hub.config.home import hub_clock

    if publish and case is None:  # writes: through the Database
        from hub.sla.publish import publish_breaches  # its lease and events: only to publish

        db = open_database(database)
        partners = network_to_read(network)
        result = publish_breaches(db, partners, now=hub_clock()())
        published = [breach for breach in result.breaches if retailer in (None, breach.retailer)]
        _show_breaches(published, as_json, published_events=result.published)
        return
    from hub.sla.store import plain_breaches, plain_case_service_levels  # no SQLAlchemy
    from hub.store.plain_reads import stored_reference

    with open_plain(database) as store:
        outline = outline_to_read(network)  # the contract levels: no network models
        now = hub_clock()()  # the hub's one clock: a demo's story time in its home
        if case is None:
            found = plain_breaches(store, outline, now=now, retailer=retailer)
        else:
            reference = stored_reference(store, case) or case.strip()  # as case_reference
            levels = plain_case_service_levels(store, outline, reference, now=now)
    if case is None:
        _show_breaches(found, as_json, published_events=None)
    elif as_json:
        document = {
            "case_reference": levels.case_ref,
            "retailer": levels.retailer,
            "level": None if levels.level is None else levels.level.value,
            "coverage": levels.coverage.value,
            "now": now.isoformat(),
            "steps": [_step_json(step) for step in levels.steps],
        }
        write_json(document)
    else:
        _print_case(levels)


def _show_breaches(
    found: "list[Breach]", as_json: bool, *, published_events: "list[Event] | None"
) -> None:
    """The breaches; with ``published_events`` (``--publish``), which were told now."""
    if as_json:  # JSON lines: one breach a line (README, "--json")
        newly = {(event.case_ref, event.subject) for event in published_events or []}
        for breach in found:
            line = _breach_json(breach)
            if published_events is not None:
                line["published"] = (breach.case_ref, breach.step.value) in newly
            write_json(line)
        return
    _print_breaches(found)
    if published_events is not None:
        out.print(f"{len(published_events)} newly published to their retailers")
