"""What every console page group shares: the session dependency, the database and
network of the application, party names, the CSRF check and post/redirect/get."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from hub.clock import Clock
from hub.console.session import CONSOLE_PATH, ConsoleSession, operator_session
from hub.partners.connectors import Network
from hub.store.db import Database
from hub.store.parties import list_parties

Session = Annotated[ConsoleSession, Depends(operator_session)]


REFRESH_CHOICES = (0, 30, 60)
"""Auto-refresh, in seconds (0: off), of the pages a wall screen shows (health, charts)."""


def refresh_seconds(asked: int) -> int:
    """The auto-refresh asked for in the address, if it is one of the choices; else off."""
    return asked if asked in REFRESH_CHOICES else 0


def database_of(request: Request) -> Database:
    """The hub's database, as the application was built with it."""
    database: Database = request.app.state.database
    return database


def network_of(request: Request) -> Network | None:
    """The loaded network, or None when the console runs without connectors.yaml."""
    network: Network | None = request.app.state.network
    return network


def clock_of(request: Request) -> Clock:
    """The hub's one clock (a demo's story time): service levels are measured by it."""
    clock: Clock = request.app.state.clock
    return clock


def party_names(database: Database) -> dict[str, str]:
    """Party ids to names: the pages show names, the store keeps ids."""
    with database.reading() as connection:
        return {party.id: party.name for party in list_parties(connection)}


class CsrfRefused(Exception):
    """A state-changing form without a valid CSRF token of this session."""


def check_csrf(session: ConsoleSession, token: str | None) -> None:
    """Refuse a form not posted from this session's own page (raises CsrfRefused)."""
    if not session.csrf_valid(token):
        raise CsrfRefused


def back(path: str, **notice: str | int) -> RedirectResponse:
    """Post/redirect/get: the page after an action says what happened."""
    query = f"?{urlencode(notice)}" if notice else ""
    return RedirectResponse(f"{CONSOLE_PATH}{path}{query}", status_code=303)
