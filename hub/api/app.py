"""The retailer API application: versioned under /v1, documented by its OpenAPI file."""

from __future__ import annotations

import threading
from datetime import tzinfo
from typing import Any

from fastapi import Depends, FastAPI

from hub.api import auth, cases, erasure, feed, imports, partners, webhook_endpoints
from hub.api.auth import known_query_names, known_query_only
from hub.api.docs import include_docs
from hub.api.health import include_health
from hub.api.idempotency import IdempotencyKeys
from hub.api.limits import IMPORT_BODY_LIMIT, BodyLimit
from hub.api.metrics import include_metrics
from hub.api.openapi_doc import build_openapi
from hub.api.operator_auth import install_operator_auth
from hub.api.partners import push_endpoints
from hub.api.problems import install_problem_handlers
from hub.api.proxies import TrustedProxies
from hub.api.webhook_docs import document_webhooks
from hub.clock import Clock, system_clock
from hub.config.home import time_zone
from hub.config.network import trusted_proxies
from hub.console import install_console
from hub.partners.connectors import Network
from hub.store.db import Database
from hub.sync.requirements import route_check

API_VERSION = "1.0.0"
PREFIX = "/v1"
DESCRIPTION = """\
The after-sales hub for retailers: open cases, read them and their timelines across
every partner, import cases from CSV, and follow every event of your cases through one
normalised feed. Every request carries `Authorization: Bearer <key>`; every error is
RFC 9457 problem details (`application/problem+json`). You only ever see your own
cases: anything else answers exactly as if it did not exist. Every time is RFC 3339 in
UTC, written with `Z` (`2026-11-03T15:05:00Z`), in responses, the feed and webhooks alike:
compare them as they are; show them in your customer's zone.
"""


class RetailerApi(FastAPI):
    """FastAPI with the hub's completed OpenAPI document (problem details everywhere)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = build_openapi(self)
        return self.openapi_schema


def create_app(
    database: Database,
    network: Network | None = None,
    *,
    stopping: threading.Event | None = None,
    clock: Clock = system_clock,
    zone: tzinfo | None = None,
) -> FastAPI:
    """The API over ``database``; building it opens no connection.

    ``clock`` is the hub's one clock (service levels are measured against it); ``zone``
    the operators' time zone the console shows times in (default: the settings').

    With a ``network``, its push connectors are served under /partners. ``stopping``,
    once set, makes /readyz answer 503 (the process is shutting down).
    """
    app = RetailerApi(
        title="After-sales hub — retailer API",
        version=API_VERSION,
        description=DESCRIPTION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # served with the hub's own files by include_docs
        redoc_url=None,
    )
    app.state.database = database
    app.state.feed_pages = feed.feed_pages_at_once(database)
    app.state.push_endpoints = push_endpoints(network)
    app.state.on_stored = None if network is None else network.sync_hook()
    app.state.network = network
    app.state.route_check = None if network is None else route_check(network)
    app.state.clock = clock
    app.state.time_zone = zone or time_zone()
    install_problem_handlers(app)
    install_operator_auth(app)  # before /metrics and /console, which share its throttle
    app.add_middleware(IdempotencyKeys, prefix=f"{PREFIX}/")  # inside BodyLimit: bodies bounded
    app.add_middleware(BodyLimit, overrides={f"{PREFIX}/cases/import": IMPORT_BODY_LIMIT})
    app.add_middleware(TrustedProxies, proxies=trusted_proxies())  # outermost: who is asking
    # The import before the cases: /cases/import is its own path, not a reference that
    # /cases/{reference} would claim first (and answer a wrong method for).
    routers = (
        auth.router,
        imports.router,
        cases.router,
        erasure.router,
        feed.router,
        webhook_endpoints.router,
    )
    for router in routers:
        app.include_router(router, prefix=PREFIX, dependencies=[Depends(known_query_only)])
    app.state.query_names = known_query_names(app.routes)
    app.include_router(partners.router)
    include_metrics(app, database, network)
    include_health(app, database, network, stopping)  # unauthenticated, for balancers
    document_webhooks(app)  # the OpenAPI document's `webhooks`, never served
    include_docs(app, PREFIX)  # /v1/docs, no CDN
    install_console(app)  # /console, outside the OpenAPI document
    return app
