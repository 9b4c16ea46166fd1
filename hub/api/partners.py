"""Where partners push their messages: ``POST /partners/{connector}/events``.

Not part of the retailer API's document: partners authenticate by signature, not by
key. The route only verifies, archives and answers; the message is mapped and stored
after the answer has left, so the partner gets its 200 in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.api.problems import problem_response
from hub.config.connector_spec import HttpPushTransportSpec
from hub.config.secrets import read_secrets
from hub.errors import ConfigurationError
from hub.partners.connectors import Connector, Network
from hub.partners.push import PushRefused, PushTooLarge, archive_push, process_push, verify_push
from hub.store.db import Database

router = APIRouter()


@dataclass(frozen=True)
class PushEndpoint:
    connector: Connector
    spec: HttpPushTransportSpec


def push_endpoints(network: Network | None) -> dict[str, PushEndpoint]:
    """Every push connector of the network, loaded once when the app starts."""
    if network is None:
        return {}
    endpoints = {}
    for spec in network.config.connectors:
        if isinstance(spec.transport, HttpPushTransportSpec) and spec.enabled:
            endpoints[spec.name] = PushEndpoint(network.connector(spec.name), spec.transport)
    return endpoints


@lru_cache(maxsize=64)
def _secret(connector: str, variable: str) -> str:
    return read_secrets(connector, {"secret": variable})["secret"]


@router.post("/partners/{connector}/events", include_in_schema=False)
async def receive_push(connector: str, request: Request, background: BackgroundTasks) -> Response:
    endpoints: dict[str, PushEndpoint] = request.app.state.push_endpoints
    endpoint = endpoints.get(connector)
    if endpoint is None:
        return problem_response(request, 404, "no push connector of that name")
    body = await request.body()
    try:
        secret = _secret(connector, endpoint.spec.secret_env)
    except ConfigurationError:
        return problem_response(request, 503, "this connector is not configured to receive")
    try:
        push = verify_push(endpoint.spec, secret, request.headers, body)
    except PushTooLarge as refused:
        return problem_response(request, 413, refused.message)
    except PushRefused as refused:
        return problem_response(request, 401, refused.message)
    database: Database = request.app.state.database
    archived = await run_in_threadpool(archive_push, database, connector, push)
    background.add_task(
        process_push,
        database,
        connector,
        endpoint.connector.pipeline(),
        push,
        endpoint.connector.on_stored,
    )
    return JSONResponse({"status": "accepted", "message_id": archived.id}, status_code=200)
