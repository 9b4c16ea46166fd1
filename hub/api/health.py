"""Health for a load balancer and an orchestrator: ``/healthz`` (the process answers)
and ``/readyz`` (it can do its work: database reachable, schema at the code's head,
connectors loaded, not stopping).

Both are unauthenticated and cheap, since they are polled every few seconds by every
balancer: ``/readyz`` runs one trivial query (the schema's revision, which also proves
the database answers) and compares it with the head revision read once from the
migration scripts. A failing check answers 503 with its reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from hub.partners.connectors import Network
from hub.store.db import Database, StoreError
from hub.store.migrate import current_revision, head_revision

router = APIRouter(include_in_schema=False)

MAX_REASON = 300
"""A driver's message is enough of a reason; a stack of them is not."""


@dataclass
class Readiness:
    """What ``/readyz`` checks, for one app."""

    database: Database
    network: Network | None
    stopping: threading.Event = field(default_factory=threading.Event)

    @cached_property
    def head(self) -> str | None:
        return head_revision(self.database)

    def check(self) -> tuple[bool, dict[str, str]]:
        """(ready, check -> what it found); the first failing check stops the others."""
        found: dict[str, str] = {}
        if self.stopping.is_set():
            found["process"] = "stopping: send no more work here"
            return False, found
        try:
            current = current_revision(self.database)
        except StoreError as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines() or ["?"]
            found["database"] = f"unreachable: {reason[0][:MAX_REASON]}"
            return False, found
        found["database"] = "reachable"
        if current != self.head:
            found["schema"] = f"at {current or 'nothing'}, not {self.head}: run `hub up`"
            return False, found
        found["schema"] = f"at head {self.head}"
        if self.network is None:
            found["connectors"] = "none (API only)"
        else:
            found["connectors"] = f"{len(self.network.config.connectors)} loaded"
        return True, found


def include_health(
    app: FastAPI,
    database: Database,
    network: Network | None,
    stopping: threading.Event | None = None,
) -> None:
    app.state.readiness = Readiness(database, network, stopping or threading.Event())
    app.include_router(router)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and its event loop answers; nothing else is looked at."""
    return {"status": "alive"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic, or 503 with the reason (a sync route: run in a thread)."""
    readiness: Readiness = request.app.state.readiness
    ready, checks = readiness.check()
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)
