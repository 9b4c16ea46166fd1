"""The feed route: a page of the retailer's events after a cursor (hub.retailers.feed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.api.auth import Caller, DatabaseDep
from hub.api.models import FeedPageOut
from hub.retailers.cursors import MAX_CURSOR_LENGTH
from hub.retailers.feed import DEFAULT_PAGE, MAX_PAGE, read_feed

router = APIRouter(tags=["feed"])


@router.get(
    "/feed",
    operation_id="readFeed",
    summary="Your cases' events, in a total order",
    response_model=FeedPageOut,
)
def read_your_feed(
    caller: Caller,
    db: DatabaseDep,
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
    with db.transaction() as connection:
        page = read_feed(connection, caller, after=after, limit=limit)
    # Serialised by the typed model straight to JSON: a page is up to 500 events, and
    # FastAPI's generic path (to Python objects, then json.dumps) would double the time.
    return Response(FeedPageOut.of(page).model_dump_json(), media_type="application/json")
