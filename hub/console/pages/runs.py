"""The runs and rejects lists across connectors (filters in the address, newest first,
by keyset pages), and the Replay button of a rejected record's file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response

from hub.console.pages.shared import (
    Session,
    back,
    check_csrf,
    database_of,
    network_of,
    party_names,
)
from hub.console.render import page
from hub.console.session import CONSOLE_PATH
from hub.errors import HubError
from hub.operators.listings import RunsShown, known_names, rejects_page, runs_page
from hub.partners.replay import replay_message
from hub.store.rejects import FIXED, OPEN

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)

PAGE_SIZE = 30


@dataclass(frozen=True)
class Pager:
    """The links to a list's newest, newer and older pages (None: no such page)."""

    first_link: str | None
    newer_link: str | None
    older_link: str | None


def pager_links(
    path: str, kept: dict[str, str], newer: int | None, older: int | None, paged: bool
) -> Pager:
    """The newest, newer and older pages of a list, its filters kept."""

    def link(**change: int) -> str:
        query = {**kept, **{name: str(value) for name, value in change.items()}}
        return f"{CONSOLE_PATH}{path}" + (f"?{urlencode(query)}" if query else "")

    return Pager(
        first_link=link() if paged else None,
        newer_link=None if newer is None else link(after=newer),
        older_link=None if older is None else link(before=older),
    )


def _tabs(
    path: str, kept: dict[str, str], name: str, choices: list[tuple[str, str]]
) -> list[tuple[str, str, bool]]:
    """Links that change one filter, the others kept: (text, address, chosen)."""
    current = kept.get(name, choices[0][0])
    tabs = []
    for value, text in choices:
        query = {key: val for key, val in kept.items() if key != name}
        if value != choices[0][0]:
            query[name] = value
        address = f"{CONSOLE_PATH}{path}" + (f"?{urlencode(query)}" if query else "")
        tabs.append((text, address, value == current))
    return tabs


def _connectors(request: Request) -> list[str]:
    network = network_of(request)
    return [] if network is None else known_names(network.config)


@router.get("/runs")
def runs_list(
    request: Request,
    session: Session,
    connector: str = "",
    show: str = RunsShown.WORK.value,
    before: int | None = None,
    after: int | None = None,
) -> Response:
    """Runs newest first; empty polls left out unless every run is asked for."""
    try:
        shown = RunsShown(show)
    except ValueError:
        shown = RunsShown.WORK
    found = runs_page(
        database_of(request),
        connector=connector or None,
        shown=shown,
        count=PAGE_SIZE,
        before=before,
        after=after,
    )
    kept = {"connector": connector, "show": shown.value if shown is not RunsShown.WORK else ""}
    kept = {name: value for name, value in kept.items() if value}
    choices = [
        (RunsShown.WORK.value, "Runs that did something"),
        (RunsShown.REJECTS.value, "With rejects"),
        (RunsShown.FAILED.value, "Failed"),
        (RunsShown.REPLAYS.value, "Replays"),
        (RunsShown.ALL.value, "Every run"),
    ]
    return page(
        request,
        "runs.html",
        session=session,
        found=found,
        connector=connector,
        connectors=_connectors(request),
        shown=shown.value,
        all_value=RunsShown.ALL.value,
        tabs=_tabs("/runs", kept, "show", choices),
        show_all_link=f"{CONSOLE_PATH}/runs?" + urlencode({**kept, "show": RunsShown.ALL.value}),
        pager=pager_links(
            "/runs", kept, found.newer, found.older, before is not None or after is not None
        ),
    )


@router.get("/rejects")
def rejects_list(
    request: Request,
    session: Session,
    connector: str = "",
    state: str = OPEN,
    before: int | None = None,
    after: int | None = None,
    done: str | None = None,
    error: str | None = None,
) -> Response:
    """Rejected records newest first: still to fix by default, or fixed, or all."""
    network = network_of(request)
    partners = (
        {} if network is None else {spec.name: spec.partner for spec in network.config.connectors}
    )
    chosen = state if state in (OPEN, FIXED, "all") else OPEN
    found = rejects_page(
        database_of(request),
        connector=connector or None,
        state=None if chosen == "all" else chosen,
        count=PAGE_SIZE,
        partners=partners,
        before=before,
        after=after,
    )
    kept = {"connector": connector, "state": "" if chosen == OPEN else chosen}
    kept = {name: value for name, value in kept.items() if value}
    choices = [(OPEN, f"To fix ({found.open})"), (FIXED, f"Fixed ({found.fixed})"), ("all", "All")]
    return page(
        request,
        "rejects.html",
        session=session,
        found=found,
        connector=connector,
        connectors=_connectors(request),
        state=chosen,
        tabs=_tabs("/rejects", kept, "state", choices),
        names=party_names(database_of(request)),
        can_replay=network is not None,
        back_to=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        done=done,
        error=error,
        pager=pager_links(
            "/rejects", kept, found.newer, found.older, before is not None or after is not None
        ),
    )


@router.post("/rejects/replay")
def replay_file(
    request: Request,
    session: Session,
    message_id: Annotated[int, Form()],
    csrf_token: Annotated[str | None, Form()] = None,
    connector: Annotated[str, Form()] = "",
) -> Response:
    """Read a rejected record's file again through today's mapping (as ``hub replay
    --message``): what it fixed stays marked on the list, with the replay's run."""
    check_csrf(session, csrf_token)
    network = network_of(request)
    where: dict[str, str] = {"connector": connector} if connector else {}
    if network is None:
        return back("/rejects", **where, error="No network is loaded: nothing can be replayed.")
    try:
        report = replay_message(database_of(request), network, message_id, requested_by="console")
    except HubError as refused:
        return back("/rejects", **where, error=refused.message)
    if report.error is not None:
        return back(
            "/rejects", **where, error=f"Replay run {report.run_id}: {report.error.message}"
        )
    fixed, refused_again = report.fixed, len(report.rejects)
    done = (
        f"File {message_id} replayed as run {report.run_id}: "
        f"{fixed} {'record' if fixed == 1 else 'records'} now read, "
        f"{refused_again} still refused."
    )
    return back("/rejects", **where, done=done)
