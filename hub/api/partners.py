"""Where partners push their messages: ``POST /partners/{connector}/events``.

Not part of the retailer API's document: each connector's receiver (an adapter found
through the registry, never imported here) says how its partner authenticates and what
it is answered. The route only authenticates, archives and answers, in that order: an
accepted push is answered after its raw bytes are archived, a refused one with the
receiver's refusal and nothing kept; the message is mapped and stored after the answer
has left, so the partner gets its answer in milliseconds.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hub.api.problems import problem_response
from hub.errors import ConfigurationError
from hub.logs import log_context
from hub.partners.push import (
    PushEndpoint,
    archive_push,
    process_push,
    push_endpoints,
    push_request,
)
from hub.ports import PushAnswer, PushRefusal
from hub.store.db import Database

__all__ = ["push_endpoints", "router"]

router = APIRouter()


def _response(answer: PushAnswer) -> Response:
    return Response(
        answer.body,
        status_code=answer.status,
        media_type=answer.content_type,
        headers=dict(answer.headers),
    )


@router.post("/partners/{connector}/events", include_in_schema=False)
async def receive_push(connector: str, request: Request, background: BackgroundTasks) -> Response:
    endpoints: dict[str, PushEndpoint] = request.app.state.push_endpoints
    endpoint = endpoints.get(connector)
    if endpoint is None:
        return problem_response(request, 404, "no push connector of that name")
    try:
        receiver = endpoint.receiver()
    except ConfigurationError:
        return problem_response(request, 503, "this connector is not configured to receive")
    body = await request.body()
    client = request.client.host if request.client is not None else None
    pushed = receiver.authenticate(
        push_request(request.headers, body, request.query_params, client)
    )
    if isinstance(pushed, PushRefusal):
        return _response(receiver.refuse(pushed))
    database: Database = request.app.state.database
    archived = await run_in_threadpool(archive_push, database, connector, pushed)
    pipeline, on_stored = endpoint.connector.pipeline(), endpoint.connector.on_stored
    partner = endpoint.connector.spec.partner

    def process() -> None:
        """After the answer: the push stored, its log lines naming it."""
        with log_context(connector=connector, partner=partner, raw_id=archived.message.id):
            process_push(database, connector, pipeline, pushed, archived, on_stored)

    background.add_task(process)
    return _response(receiver.answer(pushed, archived.message.id))
