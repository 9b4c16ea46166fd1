"""The OpenAPI document, completed with the problem answers every route can give.

FastAPI documents its own 422 shape; the hub answers RFC 9457 problem details for
every error instead, so this replaces that and lists, per operation, the error statuses
it can return, each as ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hub.api.problems import MEDIA_TYPE, Problem

COMMON = {401: "No valid API key.", 422: "A field is invalid; `errors` names each one."}
BUSY = {503: "The database is busy; retry after `Retry-After` seconds."}
EXTRA: dict[tuple[str, str], dict[int, str]] = {
    ("post", "/v1/cases"): {
        400: "The body cannot be read (not UTF-8, cut short).",
        409: "A case with this reference exists with other content.",
        413: "The body is too large.",
    },
    ("post", "/v1/cases/import"): {
        400: "The multipart body cannot be read.",
        409: "A concurrent request changed the same cases: retry.",
        413: "The file is too large.",
    },
    ("get", "/v1/cases"): {404: "The cursor was not given to you."},
    ("get", "/v1/cases/{reference}"): {404: "No such case of yours."},
    ("get", "/v1/cases/{reference}/timeline"): {404: "No such case of yours."},
    ("patch", "/v1/cases/{reference}"): {
        400: "The body cannot be read (not UTF-8, cut short).",
        404: "No such case of yours.",
        413: "The body is too large.",
    },
    ("post", "/v1/cases/{reference}/erasure"): {404: "No such case of yours."},
    ("get", "/v1/cases/{reference}/erasure"): {
        404: "No such case of yours, or its personal data was not erased."
    },
    ("get", "/v1/feed"): {404: "The cursor was not given to you."},
    ("post", "/v1/webhook-endpoints"): {
        503: "Webhook endpoints are not set up on this hub, or the database is busy.",
    },
    ("get", "/v1/webhook-endpoints/{endpoint_id}"): {404: "No such endpoint of yours."},
    ("patch", "/v1/webhook-endpoints/{endpoint_id}"): {404: "No such endpoint of yours."},
    ("delete", "/v1/webhook-endpoints/{endpoint_id}"): {404: "No such endpoint of yours."},
    ("post", "/v1/webhook-endpoints/{endpoint_id}/test"): {404: "No such endpoint of yours."},
    ("post", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): {
        404: "No such endpoint of yours.",
    },
}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string of yours (a UUID): sent again with the same body "
    "within 24 hours, it answers the first request's answer (with `Idempotent-Replayed: "
    "true`) instead of doing it twice; with another body, 422. Keys are yours alone.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
IN_PROGRESS = "The first request with this Idempotency-Key is still running: retry."


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {"Problem": schema, **definitions}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(_problem_schemas())
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            errors = {**COMMON, **BUSY}
            if "requestBody" in operation:
                errors[400] = "The body cannot be read (not UTF-8, not JSON, cut short)."
            errors.update(EXTRA.get((method, path), {}))
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                taken = errors.get(409)
                errors[409] = f"{taken} Or: {IN_PROGRESS}" if taken else IN_PROGRESS
            for status, description in sorted(errors.items()):
                responses[str(status)] = {"description": description, "content": problem}
            if method == "post" and path == "/v1/cases":
                responses["201"]["headers"] = {
                    "Location": {
                        "description": "Where to read the case.",
                        "schema": {"type": "string"},
                    }
                }
    for operations in document.get("webhooks", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["204"] = {"description": "Received (any 2xx will do)."}
            responses["default"] = {
                "description": "Anything else, or no answer within 10 seconds: sent again."
            }
    return document
