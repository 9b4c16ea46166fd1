"""The feed's stored items are written once (hub.store.feed_status) and served as stored:
a release that changes what an item says (a status's label, a field, how the details are
written) would leave every item written before it saying the old thing. This test holds
the fingerprint of what items say; when it changes, the release must also forget the
stored items, so that the fill writes them again."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from hub.model.event import STATUS_SETS, EventDetails, EventType
from hub.retailers.feed import item_json
from hub.store.feed import FeedRow

ITEM_FORMAT = "fd71f4f06401"
"""What stored items say, fingerprinted. When this test fails: add a migration that sets
``feed_entries.item_json`` to NULL (the fill writes every item again, pages build the
entries not written yet meanwhile), then put the new fingerprint here."""


def _sample(event_type: str, status: str | None) -> FeedRow:
    at = datetime(2026, 11, 3, 9, 15, tzinfo=UTC)
    return FeedRow(
        txid=1,
        position=1,
        case_id=1,
        case_reference="BM-000001",
        event_id="p:h:0",
        case_ref="BM-000001",
        partner_ref="R-1",
        type=event_type,
        status=status,
        occurred_at=at,
        occurred_offset_minutes=60,
        recorded_at=at,
        reported_by="p",
        raw_code="C",
        raw_label="L",
        subject=None,
        details={"note": "n"},
        status_after=None,
    )


def _fingerprint() -> str:
    said = hashlib.sha256()
    for kind in EventType:
        for status in (None, *STATUS_SETS[kind]):
            said.update(item_json(_sample(kind.value, None if status is None else status.value)))
    schema = EventDetails.model_json_schema(mode="serialization")
    said.update(json.dumps(schema, sort_keys=True).encode())
    return said.hexdigest()[:12]


def test_what_a_stored_item_says_has_not_changed_without_a_migration_forgetting_them() -> None:
    assert _fingerprint() == ITEM_FORMAT, (
        "an item of the feed now says something else (a label, a field, the details): "
        "stored items would keep the old text; add a migration setting "
        "feed_entries.item_json to NULL and update ITEM_FORMAT (see its docstring)"
    )
