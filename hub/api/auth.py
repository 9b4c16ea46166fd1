"""Who is calling: the tenant behind the API key, or a 401 whatever went wrong.

Keys travel as ``Authorization: Bearer <key>``. Missing, malformed, unknown and revoked
keys get the same answer, so probing tells nothing about which keys exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute

from hub.api.models import Me
from hub.retailers.tenants import InvalidApiKey, Retailer, authenticate_in
from hub.store.db import Database

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="The key `hub retailers add` or `hub retailers keys create` printed once.",
)


def database_of(request: Request) -> Database:
    """The hub's database, handed to the app by ``create_app``."""
    found = request.app.state.database
    assert isinstance(found, Database)
    return found


async def database(request: Request) -> Database:
    """``database_of`` as a dependency. A coroutine, as every dependency here that does
    no I/O: FastAPI runs a plain function in the thread pool, a hand-off that cost about
    0.1 ms of CPU a request (issue 17)."""
    return database_of(request)


DatabaseDep = Annotated[Database, Depends(database)]


def current_retailer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Retailer:
    """The key's tenant. A plain function, so run in the thread pool: it reads (and at
    most once a minute writes) the database. It reads the database from the request
    rather than through ``DatabaseDep``: FastAPI solves a dependency's dependencies again
    wherever it is named, even when its value is cached, and every retailer route names
    this one twice (itself and through ``known_query_only``)."""
    if credentials is None:
        raise InvalidApiKey()
    return authenticate_in(database_of(request), credentials.credentials)


Caller = Annotated[Retailer, Depends(current_retailer)]

router = APIRouter(tags=["tenant"])


@router.get("/me", operation_id="whoAmI", summary="The retailer this key belongs to")
async def me(caller: Caller) -> Me:
    return Me.of(caller)


async def known_query_only(request: Request, caller: Caller) -> None:
    """Refuse query parameters the route does not know: a misspelt filter must not be
    silently ignored (``?update_since=`` would list every case). Runs after the key check,
    so an anonymous caller learns nothing from it."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _known_names(request, route))
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "unknown query parameter",
                    "type": "extra_forbidden",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


def known_query_names(routes: Iterable[BaseRoute]) -> dict[int, frozenset[str]]:
    """The query parameters each API route reads, by the route's identity (a route
    compares by value, so it cannot be a key): gathered once when the app is made, for
    ``known_query_only``, instead of at every request (issue 17)."""
    return {
        id(route): frozenset(_query_names(route.dependant))
        for route in routes
        if isinstance(route, APIRoute)
    }


def _known_names(request: Request, route: APIRoute) -> frozenset[str]:
    """What ``known_query_names`` gathered for the app, or gathered now for a route
    added after it."""
    gathered: dict[int, frozenset[str]] = getattr(request.app.state, "query_names", {})
    names = gathered.get(id(route))
    return frozenset(_query_names(route.dependant)) if names is None else names


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters a route reads, its dependencies' included."""
    names = [param.alias for param in dependant.query_params]
    for dependency in dependant.dependencies:
        names += _query_names(dependency)
    return names
