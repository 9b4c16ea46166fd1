"""A ceiling on request bodies, enforced while they are read, not after.

``Content-Length`` beyond the limit is refused at once; a chunked body is counted as it
streams and refused as soon as it passes the limit, so no request can make the hub
buffer more than the limit. The refusal is a 413 problem like every other error.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.problems import problem_response

DEFAULT_BODY_LIMIT = 256 * 1024
"""A canonical case is a few kilobytes; this leaves room and refuses abuse."""

IMPORT_BODY_LIMIT = 5 * 1024 * 1024
"""A night of one retailer's new cases, as CSV, is well under this."""


class BodyLimit:
    """Pure ASGI middleware: the body limit for a path is the default or its override."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int = DEFAULT_BODY_LIMIT,
        overrides: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.overrides = dict(overrides or {})

    def limit_for(self, path: str) -> int:
        return self.overrides.get(path, self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = problem_response(Request(scope), 413, _too_large(limit))
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
