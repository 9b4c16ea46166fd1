"""Every error the API answers, in one JSON shape: RFC 9457 problem details.

The hub's error types map to HTTP here and nowhere else. Validation errors list each
field at fault (dotted path, and where it was: body, query, path, header). A not-found
answer carries only what the caller sent, so a missing object and another tenant's
object give the same body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from hub.api.operator_auth import OperatorCredentialRequired, OperatorThrottled
from hub.errors import ConflictError, HubError, ModelError, NotFoundError, TransientError
from hub.retailers.cases import InvalidFieldError
from hub.retailers.tenants import InvalidApiKey
from hub.retailers.webhook_endpoints import SecretsKeyMissing
from hub.store.db import StoreBusy, StoreConflict, UnstorableValue
from hub.sync.requirements import CaseNotWorkable

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:aftersales-hub:problem:"
RETRY_AFTER_SECONDS = 1

Location = Literal["body", "query", "path", "header", "file"]


class FieldProblem(BaseModel):
    """One field at fault."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(description="Dotted path of the field, e.g. `product.brand`.")
    location: Location
    message: str
    needed_by: str | None = Field(
        default=None,
        description="The partner whose messages need the field, when the case's route "
        "(not its own shape) requires it.",
    )


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists the fields of a validation error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(description="A URN naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="The path that was requested.")
    errors: list[FieldProblem] | None = None


SLUGS: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}


def problem_response(
    request: Request | None,
    status: int,
    detail: str | None,
    *,
    errors: list[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_BASE + SLUGS.get(status, str(status)),
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=None if request is None else request.url.path,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=None if headers is None else dict(headers),
    )


def _field_problem(error: dict[str, Any]) -> FieldProblem:
    location = error["loc"]
    where = (
        location[0] if location and location[0] in {"body", "query", "path", "header"} else "body"
    )
    path = [str(part) for part in location[1:]] if location else []
    return FieldProblem(field=".".join(path) or where, location=where, message=error["msg"])


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_problem(dict(error)) for error in exc.errors()]
    fields = ", ".join(sorted({e.field for e in errors}))
    return problem_response(request, 422, f"invalid request: {fields}", errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(request, exc.status_code, detail, headers=exc.headers)


async def _hub(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HubError)
    if isinstance(exc, InvalidApiKey):
        return problem_response(
            request, 401, exc.message, headers={"WWW-Authenticate": 'Bearer realm="hub"'}
        )
    if isinstance(exc, OperatorCredentialRequired):
        return problem_response(
            request, 401, exc.message, headers={"WWW-Authenticate": 'Bearer realm="hub-operator"'}
        )
    if isinstance(exc, OperatorThrottled):
        return problem_response(
            request, 429, exc.message, headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, NotFoundError):  # missing, foreign, or an UnknownCursor
        return problem_response(request, 404, exc.message)
    if isinstance(exc, ConflictError):
        return problem_response(request, 409, exc.message)
    if isinstance(exc, InvalidFieldError):
        location: Location = "file" if exc.field == "file" else "body"
        errors = [FieldProblem(field=exc.field, location=location, message=exc.message)]
        return problem_response(request, 422, f"invalid {exc.field}: {exc.message}", errors=errors)
    if isinstance(exc, CaseNotWorkable):
        errors = [
            FieldProblem(
                field=item.problem_field,
                location="body",
                message=item.sentence(),
                needed_by=item.needed_by,
            )
            for item in exc.missing
        ]
        return problem_response(request, 422, exc.message, errors=errors)
    if isinstance(exc, ModelError):
        return problem_response(request, 422, exc.message)
    if isinstance(exc, SecretsKeyMissing):
        # The operator's to fix; the retailer learns only that it is unavailable here.
        log.error("webhook endpoints unavailable: %s", exc.message)
        return problem_response(
            request, 503, "webhook endpoints are not available on this hub yet: ask its operator"
        )
    if isinstance(exc, TransientError):
        retry = str(int(exc.retry_after or RETRY_AFTER_SECONDS))
        return problem_response(request, 503, exc.message, headers={"Retry-After": retry})
    return problem_response(request, 500, "the hub could not complete the request")


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    """Two requests raced on the same unique data; the loser may simply retry."""
    return problem_response(request, 409, "a concurrent request changed the same data: retry")


async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    """A value the database refuses (a safety net: validation should have caught it)."""
    return problem_response(request, 422, "a value of the request cannot be stored")


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    """The database is locked or unreachable for now: say when to retry."""
    return problem_response(
        request,
        503,
        "the database is busy, retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 500, "the hub could not complete the request")


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error, expected or not, to a problem details answer."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(HubError, _hub)
    app.add_exception_handler(StoreConflict, _integrity)
    app.add_exception_handler(UnstorableValue, _unstorable)
    app.add_exception_handler(StoreBusy, _busy)
    app.add_exception_handler(Exception, _unexpected)
