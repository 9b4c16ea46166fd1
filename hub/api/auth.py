"""Who is calling: the tenant behind the API key, or a 401 whatever went wrong.

Keys travel as ``Authorization: Bearer <key>``. Missing, malformed, unknown and revoked
keys get the same answer, so probing tells nothing about which keys exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.models import Me
from hub.retailers.tenants import InvalidApiKey, Retailer, authenticate
from hub.store.db import Database

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="The key `hub retailers add` or `hub retailers keys create` printed once.",
)


def database(request: Request) -> Database:
    """The hub's database, handed to the app by ``create_app``."""
    found = request.app.state.database
    assert isinstance(found, Database)
    return found


DatabaseDep = Annotated[Database, Depends(database)]


def current_retailer(
    db: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Retailer:
    if credentials is None:
        raise InvalidApiKey()
    with db.transaction() as connection:
        return authenticate(connection, credentials.credentials)


Caller = Annotated[Retailer, Depends(current_retailer)]

router = APIRouter(tags=["tenant"])


@router.get("/me", operation_id="whoAmI", summary="The retailer this key belongs to")
def me(caller: Caller) -> Me:
    return Me.of(caller)


def known_query_only(request: Request, caller: Caller) -> None:
    """Refuse query parameters the route does not know: a misspelt filter must not be
    silently ignored (``?update_since=`` would list every case). Runs after the key check,
    so an anonymous caller learns nothing from it."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = set(_query_names(route.dependant))
    unknown = sorted(set(request.query_params) - known)
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


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters a route reads, its dependencies' included."""
    names = [param.alias for param in dependant.query_params]
    for dependency in dependant.dependencies:
        names += _query_names(dependency)
    return names
