"""The feed route: a page of the retailer's events after a cursor (hub.retailers.feed)."""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Annotated, Any

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Query, Request, Response
from pydantic_core import to_json

from hub.api.auth import Caller, database_of
from hub.api.models import FeedPageOut
from hub.model.event import STATUS_SETS, EventDetails, EventType
from hub.retailers.cursors import MAX_CURSOR_LENGTH
from hub.retailers.feed import DEFAULT_PAGE, MAX_PAGE, FeedRows, read_feed_rows
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
    with db.transaction() as connection:
        page = read_feed_rows(connection, caller, after=after, limit=limit)
    return page_json(page)


def feed_pages_at_once(database: Database) -> CapacityLimiter | None:
    """How many feed pages a process builds at once: one on SQLite, whose C code hands
    the GIL back at every row, so that pages built side by side in threads mostly wait
    for it (four clients: 56 pages of 500 a second, 95 one at a time; bench/feed.py);
    the threads' default on PostgreSQL, where a page also waits on the server (71 one at
    a time, 78 side by side). Other routes keep the default pool: a page never waits
    behind an import."""
    return CapacityLimiter(1) if database.dialect == "sqlite" else None


def page_json(page: FeedRows) -> bytes:
    """The page's JSON, written from the store's rows: the very bytes ``FeedPageOut``
    writes (a test compares them), without an event model and an output model per item
    (a page is up to 500 of each, most of its time). One serializer, pydantic's own, so
    instants, strings and details are written exactly as the model writes them.
    """
    items = [
        {
            "event_id": row.event_id,
            "case_reference": row.case_reference,
            "type": row.type,
            "status": row.status,
            "unmapped": row.status is None,
            "occurred_at": row.occurred_at,
            "recorded_at": row.recorded_at,
            "reported_by": row.reported_by,
            "label": None if row.status is None else _label(row.type, row.status),
            "raw_code": row.raw_code,
            "raw_label": row.raw_label,
            "subject": row.subject,
            "details": None if not row.details else _details(row.details),
            "cursor": cursor,
            "case_status_after": status,
            "case_status_after_label": None if status is None else _label(_CASE, status),
        }
        for row, cursor, status in zip(page.rows, page.cursors, page.statuses_after, strict=True)
    ]
    return to_json({"items": items, "next_cursor": page.next_cursor, "has_more": page.has_more})


_CASE = EventType.CASE_STATUS.value


@lru_cache(maxsize=256)
def _label(event_type: str, status: str) -> dict[str, str]:
    """A status's label as ``LabelOut`` writes it; a few dozen, each built once."""
    label = STATUS_SETS[EventType(event_type)](status).label
    return {"fr": label.fr, "en": label.en}


def _details(stored: dict[str, Any]) -> EventDetails | None:
    """What came with the event, as the model writes it; None when nothing did."""
    details = EventDetails.model_validate(stored)
    return None if details.is_empty() else details
