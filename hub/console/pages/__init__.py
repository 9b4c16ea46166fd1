"""The console's routes: server-rendered pages over the hub's operator services.

Reading pages only call services (network status, case state, dead letters, service
levels); the few buttons post a form with a CSRF token and redirect back with a notice,
so that a reload never repeats an action. One module per page group; ``router`` holds
them all.
"""

from __future__ import annotations

from fastapi import APIRouter

from hub.console.pages import cases, charts, connectors, health, login, runs, worklists

router = APIRouter()
for group in (login, health, connectors, runs, worklists, cases, charts):
    router.include_router(group.router)
