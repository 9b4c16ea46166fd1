"""The feed route: a page of the retailer's events after a cursor (hub.retailers.feed)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Query, Request, Response

from hub.api.auth import Caller, database_of
from hub.api.models import FeedPageOut
from hub.retailers.cursors import MAX_CURSOR_LENGTH
from hub.retailers.feed import DEFAULT_PAGE, MAX_PAGE, page_json, read_feed_items
from hub.retailers.tenants import Retailer
from hub.store.db import Database

router = APIRouter(tags=["feed"])


@router.get(
    "/feed",
    operation_id="readFeed",
    summary="Your cases' events, in a total order",
    response_model=FeedPageOut,
)
async def read_your_feed(
    request: Request,
    caller: Caller,
    after: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="An item's `cursor` or a page's `next_cursor`; omit to start from "
            "the beginning. A cursor that was not given to you answers 404.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> Response:
    """Events once each, never skipped; poll with the last `next_cursor` you received."""
    # The database from the request, not as a dependency: one fewer for FastAPI to
    # solve at every page (see ``current_retailer``).
    body = await to_thread.run_sync(
        partial(_page_body, database_of(request), caller, after, limit),
        limiter=request.app.state.feed_pages,
    )
    return Response(body, media_type="application/json")


def _page_body(db: Database, caller: Retailer, after: str | None, limit: int) -> bytes:
    # Only reads: on SQLite, beside a writer rather than behind it (hub.store.db).
    with db.reading() as connection:
        page = read_feed_items(connection, caller, after=after, limit=limit)
    return page_json(page)


def feed_pages_at_once(database: Database) -> CapacityLimiter | None:
    """How many feed pages a process builds at once: one on SQLite, whose C code hands
    the GIL back at every row, so that pages built side by side in threads mostly wait
    for it (four clients: 56 pages of 500 a second, 95 one at a time; bench/feed.py);
    the threads' default on PostgreSQL, where a page also waits on the server (71 one at
    a time, 78 side by side). Other routes keep the default pool: a page never waits
    behind an import."""
    return CapacityLimiter(1) if database.dialect == "sqlite" else None
