"""What the retailer API tests share: two tenants with keys, a client, a real server."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.api.proxies import server_config
from hub.model import Case
from hub.retailers.tenants import Retailer, add_retailer
from hub.store.db import Database
from simulators.server import serving as serve_in_thread
from tests.factories import make_case, register_network


@dataclass(frozen=True)
class Tenant:
    retailer: Retailer
    key_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Hub:
    """The network registered, Maison Électro (ME-) and BricoMarket (BM-) as tenants."""

    database: Database
    app: FastAPI
    client: TestClient
    me: Tenant
    bm: Tenant


def make_tenant(database: Database, party_id: str, name: str, prefix: str) -> Tenant:
    with database.transaction() as connection:
        retailer, key = add_retailer(connection, name=name, case_prefix=prefix, party_id=party_id)
    return Tenant(retailer, key.id, key.token)


def make_hub(database: Database) -> Hub:
    register_network(database)
    me = make_tenant(database, "maison-electro", "Maison Électro", "ME-")
    bm = make_tenant(database, "bricomarket", "BricoMarket", "BM-")
    app = create_app(database)
    return Hub(database, app, TestClient(app), me, bm)


def case_json(reference: str = "ME-000123", **overrides: Any) -> dict[str, Any]:
    """A canonical case as a retailer POSTs it."""
    case: Case = make_case(reference, **overrides)
    return case.model_dump(mode="json")


def serving(app: FastAPI) -> AbstractContextManager[str]:
    """The app behind a real uvicorn on loopback, in a thread; yields its base URL."""
    return serve_in_thread(app, config=server_config)
