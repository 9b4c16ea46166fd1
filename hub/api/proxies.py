"""Who the client is when the hub sits behind a reverse proxy, and only then.

``X-Forwarded-For`` is a header any client can write. The hub believes it only when the
peer of the connection is one of the proxies named in ``HUB_TRUSTED_PROXIES``, and then
only the part those proxies wrote: reading the header from the right, the first address
that is not itself a trusted proxy is the client (what a client wrote to the left of it
is ignored). So the login throttle counts the real address, and nobody can dodge it or
turn it on someone else's address by writing a header. uvicorn's own handling of the
header (which trusts 127.0.0.1 by default) is switched off in ``server_config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import ip_address
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.config.network import ProxyNetwork


def is_trusted(host: str, proxies: Sequence[ProxyNetwork]) -> bool:
    try:
        address = ip_address(host.strip())
    except ValueError:
        return False
    return any(address in network for network in proxies)


def forwarded_client(peer: str, forwarded_for: str, proxies: Sequence[ProxyNetwork]) -> str:
    """The client's address: the peer, unless a trusted proxy forwarded for someone."""
    if not is_trusted(peer, proxies):
        return peer
    client = peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        client = hop
        if not is_trusted(hop, proxies):
            break
    return client


class TrustedProxies:
    """Pure ASGI middleware: the client address and scheme as the trusted proxy saw them."""

    def __init__(self, app: ASGIApp, *, proxies: Sequence[ProxyNetwork]) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and is_trusted(str(client[0]), self.proxies):
            forwarded = [
                value.decode("latin-1")
                for name, value in scope.get("headers", [])
                if name.lower() == b"x-forwarded-for"
            ]
            protos = [
                value.decode("latin-1")
                for name, value in scope.get("headers", [])
                if name.lower() == b"x-forwarded-proto"
            ]
            scope = dict(scope)
            scope["client"] = (
                forwarded_client(str(client[0]), ",".join(forwarded), self.proxies),
                0,
            )
            scheme = ",".join(protos).split(",")[-1].strip().lower()
            if scheme in {"http", "https"}:
                scope["scheme"] = scheme
        await self.app(scope, receive, send)


def server_config(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 8000, **options: Any
) -> uvicorn.Config:
    """How the hub is served (``hub serve``, ``hub serve-api``, the tests): forwarded headers
    are the hub's business, not uvicorn's (its default believes them from 127.0.0.1,
    whoever wrote them)."""
    settings: dict[str, Any] = {"log_level": "info", **options}
    return uvicorn.Config(
        app, host=host, port=port, proxy_headers=False, forwarded_allow_ips="", **settings
    )
