"""A connector's page (its state, runs and rejects) and its Pause and Resume buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

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
from hub.errors import ConfigurationError, ConflictError, NotFoundError
from hub.operators.listings import (
    RunsShown,
    recent_file_warnings,
    recent_rejects,
    require_known,
    runs_page,
)
from hub.operators.status import network_status
from hub.partners.alerts import pause_connector, resume_connector

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)


@router.get("/connectors/{name}")
def connector_page(
    request: Request,
    session: Session,
    name: str,
    done: str | None = None,
    error: str | None = None,
) -> Response:
    database = database_of(request)
    network = network_of(request)
    now = datetime.now(UTC)
    status = None
    if network is not None:
        try:
            require_known(network.config, name)
        except NotFoundError as unknown:
            return page(
                request, "missing.html", session=session, status_code=404, what=unknown.message
            )
        status = network_status(database, network, now=now).connector(name)
    runs = runs_page(database, connector=name, shown=RunsShown.WORK, count=30)
    return page(
        request,
        "connector.html",
        session=session,
        now=now,
        name=name,
        status=status,
        runs=runs,
        rejects=recent_rejects(database, name, limit=100),
        warnings=recent_file_warnings(database, name, limit=100),
        names=party_names(database),
        done=done,
        error=error,
    )


@router.post("/connectors/{name}/pause")
def pause(
    request: Request,
    session: Session,
    name: str,
    csrf_token: Annotated[str | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(session, csrf_token)
    known(request, name)
    try:
        pause_connector(database_of(request), name, reason=reason, by="console")
    except ConfigurationError as refused:  # a blank reason, refused as by `hub pause`
        return back(f"/connectors/{quote(name)}", error=refused.message)
    return back(f"/connectors/{quote(name)}", done="paused")


@router.post("/connectors/{name}/resume")
def resume(
    request: Request,
    session: Session,
    name: str,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(session, csrf_token)
    known(request, name)
    try:
        resume_connector(database_of(request), name)
    except ConflictError as refused:
        return back(f"/connectors/{quote(name)}", error=refused.message)
    return back(f"/connectors/{quote(name)}", done="resumed")


def known(request: Request, name: str) -> None:
    """Only connectors of connectors.yaml are paused or resumed (raises NotFoundError)."""
    network = network_of(request)
    if network is None:
        raise NotFoundError("no network is loaded: connectors cannot be paused or resumed")
    require_known(network.config, name)
