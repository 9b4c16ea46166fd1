"""A time zone per event: a carrier's checkpoints in their own local times, the zone or
offset in another field, the mapping's zone when it is empty (issue 15, point 6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.errors import PartnerDataError
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_codec, load_mapping
from hub.mapping.values import ValueProblem, parse_zone
from hub.model.event import Event
from hub.partners.ingest.pipeline import InboundPipeline

MAPPING = """version: 1
partner: world-carrier
timezone: Europe/Paris
messages:
  tracking:
    direction: inbound
    codec:
      type: json
      record: "$.checkpoints[*]"
      fields: {code: $.code, local: $.local, tz: $.tz, id: $.id}
      document_fields: {number: $.number}
    event_type: shipment_status
    fields:
      partner_event_id: {column: id}
      tracking_number: {column: number, required: true}
      raw_code: {column: code, required: true}
      occurred_at: {column: local, format: "%Y-%m-%d %H:%M", required: true}
      time_zone: {column: tz}
    codes: {PU: picked_up, DEP: in_transit, ARR: in_transit, DEL: delivered}
"""
ANSWER = {
    "number": "1Z999AA10123456784",
    "checkpoints": [
        {"id": "1", "code": "PU", "local": "2026-11-03 09:15", "tz": "America/New_York"},
        {"id": "2", "code": "DEP", "local": "2026-11-03 22:40", "tz": "+05:30"},
        {"id": "3", "code": "ARR", "local": "2026-11-04 07:05", "tz": ""},
        {"id": "4", "code": "DEL", "local": "2026-11-04 10:00", "tz": "Mars/Olympus"},
        {"id": "5", "code": "DEL", "local": "2026-11-04 11:00", "tz": "UTC"},
    ],
}


def test_each_checkpoint_is_read_in_its_own_zone(tmp_path: Path) -> None:
    path = tmp_path / "world-carrier.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    mapping = load_mapping(path)
    pipeline = InboundPipeline(
        build_codec(mapping.inbound("tracking")), InboundMapping(mapping, "tracking")
    )
    content = json.dumps(ANSWER).encode()
    items = list(pipeline.parse(content, source="answer.json", recorded_at=datetime.now(UTC)))
    events = [item for item in items if isinstance(item, Event)]
    assert [e.occurred_at.isoformat() for e in events] == [
        "2026-11-03T09:15:00-05:00",  # New York, winter time
        "2026-11-03T22:40:00+05:30",
        "2026-11-04T07:05:00+01:00",  # no zone given: the mapping's (Paris)
        "2026-11-04T11:00:00+00:00",
    ]
    [bad] = [item for item in items if isinstance(item, PartnerDataError)]
    assert "'Mars/Olympus' is neither a UTC offset nor a time zone name" in str(bad)
    assert bad.location.field == "tz"


@pytest.mark.parametrize(
    ("text", "offset_hours"),
    [("+02:00", 2.0), ("-0500", -5.0), ("Z", 0.0), ("UTC+1", 1.0), ("GMT-03:30", -3.5)],
)
def test_offsets_in_the_forms_carriers_write(text: str, offset_hours: float) -> None:
    zone = parse_zone(text)
    offset = datetime(2026, 1, 1, tzinfo=zone).utcoffset()
    assert offset is not None
    assert offset.total_seconds() / 3600 == offset_hours


def test_an_offset_beyond_fourteen_hours_is_refused() -> None:
    with pytest.raises(ValueProblem, match="more than 14 hours"):
        parse_zone("+15:00")
