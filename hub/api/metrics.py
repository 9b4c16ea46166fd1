"""``GET /metrics``: the hub's figures for Prometheus, for the operator credential only.

Prometheus scrapes with ``authorization: {credentials: <token>}`` (a bearer token); a
retailer's key, or no credential, gets 401. Kept out of the retailer API's document.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from hub.api.operator_auth import OperatorOnly
from hub.operators.metrics import hub_registry
from hub.partners.connectors import Network
from hub.store.db import Database

router = APIRouter(dependencies=[OperatorOnly])


def include_metrics(app: FastAPI, database: Database, network: Network | None) -> None:
    """Serve /metrics on ``app``; its registry is built once and read at every scrape."""
    app.state.metrics_registry = hub_registry(database, network)
    app.include_router(router)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Every figure, read from the database now (a sync route: FastAPI runs it in a thread)."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
