"""The ``Idempotency-Key`` header on every POST of the retailer API (hub.retailers.idempotency).

An ASGI middleware, so that one place serves every POST route and replays exactly the
bytes first sent (status, body, ``Location``). A request with a key goes: who is asking
(a request without a valid API key passes on, to be answered 401 by the route), claim
the key, run the route, keep its answer. Answers worth retrying (5xx, 429) are not kept:
the key is freed so that the retry runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.problems import FieldProblem, problem_response
from hub.errors import HubError
from hub.retailers.idempotency import (
    Claimed,
    InProgress,
    Mismatch,
    Replay,
    abandon,
    begin,
    finish,
    request_digest,
    valid_key,
)
from hub.retailers.tenants import Retailer, authenticate_in
from hub.store.db import Database

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("content-type", "location")


@dataclass
class _Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


def _keepable(status: int) -> bool:
    """An answer the same request would get again; not a passing fault."""
    return status < 500 and status != 429


def _retailer(database: Database, authorization: str | None) -> Retailer | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return authenticate_in(database, token.strip())
    except HubError:
        return None


class IdempotencyKeys:
    """Replays the first answer to a POST under ``prefix`` sent again with its key."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not str(scope["path"]).startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not valid_key(key):
            problem = FieldProblem(
                field=HEADER,
                location="header",
                message="must be 1 to 255 visible ASCII characters, e.g. a UUID",
            )
            response = problem_response(request, 422, f"invalid {HEADER}", errors=[problem])
            await response(scope, receive, send)
            return
        body = await _read_body(receive)
        again = _replaying(body, receive)
        database = scope["app"].state.database
        assert isinstance(database, Database)
        retailer = await run_in_threadpool(_retailer, database, headers.get("authorization"))
        if retailer is None:  # the route answers 401, in its usual shape
            await self.app(scope, again, send)
            return
        operation = f"POST {scope['path']}"
        digest = request_digest(headers.get("content-type"), body)
        decision = await run_in_threadpool(
            begin, database, retailer, key, operation=operation, digest=digest
        )
        if isinstance(decision, Replay):
            await _send_replay(decision, send)
            return
        if isinstance(decision, Mismatch):
            problem = FieldProblem(
                field=HEADER,
                location="header",
                message=f"was used for another request ({decision.operation} with another "
                "body) in the last 24 hours: use a new key for a new request",
            )
            response = problem_response(
                request, 422, f"{HEADER} reused for another request", errors=[problem]
            )
            await response(scope, receive, send)
            return
        if isinstance(decision, InProgress):
            response = problem_response(
                request,
                409,
                f"the first request with this {HEADER} is still running: retry shortly",
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        assert isinstance(decision, Claimed)
        await self._run_and_keep(scope, again, send, database, retailer, key, operation)

    async def _run_and_keep(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        database: Database,
        retailer: Retailer,
        key: str,
        operation: str,
    ) -> None:
        answer = _Answer()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = int(message["status"])
                for name, value in message.get("headers", []):
                    text = bytes(name).decode("latin-1").lower()
                    if text in KEPT_HEADERS:
                        answer.headers[text] = bytes(value).decode("latin-1")
            elif message["type"] == "http.response.body":
                answer.body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await run_in_threadpool(abandon, database, retailer, key)
            raise
        if _keepable(answer.status):
            await run_in_threadpool(
                finish,
                database,
                retailer,
                key,
                operation=operation,
                status=answer.status,
                headers=answer.headers,
                body=bytes(answer.body),
            )
        else:
            await run_in_threadpool(abandon, database, retailer, key)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the route the body already read, then listens to the
    client as before (for its disconnection)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_replay(replay: Replay, send: Send) -> None:
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in replay.headers.items()
    ]
    headers.append((b"content-length", str(len(replay.body)).encode("ascii")))
    headers.append((REPLAYED_HEADER.lower().encode("latin-1"), b"true"))
    await send({"type": "http.response.start", "status": replay.status, "headers": headers})
    await send({"type": "http.response.body", "body": replay.body})
