"""The shortcuts ingestion takes for speed give exactly what the plain path gives."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pytest

from hub.mapping.values import ValueProblem, instant_parser, parse_instant, steady_offset

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/St_Johns", "UTC"]
"""Hour and half-hour daylight-saving changes, a 30-minute shift (Lord Howe), no change."""


def _quarter_hours_around_changes(zone: ZoneInfo) -> list[datetime]:
    """Every quarter hour of the days where the zone's offset changes in 2026."""
    days = []
    day = datetime(2026, 1, 1)
    while day.year == 2026:
        if (
            day.replace(tzinfo=zone).utcoffset()
            != (day + timedelta(days=1)).replace(tzinfo=zone).utcoffset()
        ):
            days.append(day)
        day += timedelta(days=1)
    days.append(datetime(2026, 6, 15))  # an ordinary day too
    return [d + timedelta(minutes=15 * q) for d in days for q in range(2 * 24 * 4)]


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize(
    ("ambiguous", "nonexistent"),
    [("earlier", "shift_forward"), ("later", "shift_forward"), ("reject", "reject")],
)
def test_the_hourly_offset_cache_agrees_with_localize(
    zone_name: str,
    ambiguous: Literal["earlier", "later", "reject"],
    nonexistent: Literal["shift_forward", "reject"],
) -> None:
    zone = ZoneInfo(zone_name)
    fast = instant_parser("%d/%m/%Y %H:%M", zone, ambiguous=ambiguous, nonexistent=nonexistent)
    walls = _quarter_hours_around_changes(zone)
    assert len(walls) > 100
    for wall in walls:
        text = f"{wall:%d/%m/%Y %H:%M}"
        try:
            expected: datetime | str = parse_instant(
                text, "%d/%m/%Y %H:%M", zone, ambiguous=ambiguous, nonexistent=nonexistent
            )
        except ValueProblem as problem:
            expected = str(problem)
        try:
            got: datetime | str = fast(text)
        except ValueProblem as problem:
            got = str(problem)
        assert got == expected, text
        if isinstance(got, datetime) and isinstance(expected, datetime):
            assert got.isoformat() == expected.isoformat(), text


def test_an_hour_with_a_change_has_no_steady_offset() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert steady_offset(datetime(2026, 10, 25, 2), paris) is None  # clocks go back at 03:00
    assert steady_offset(datetime(2026, 3, 29, 2), paris) is None  # 02:00 never happens
    steady = steady_offset(datetime(2026, 10, 25, 4), paris)
    assert steady is not None
    assert steady.utcoffset(None) == timedelta(hours=1)


def test_a_bad_date_is_still_refused_with_its_text() -> None:
    fast = instant_parser("%d/%m/%Y %H:%M", ZoneInfo("Europe/Paris"))
    with pytest.raises(ValueProblem, match="31/02/2026 10:00"):
        fast("31/02/2026 10:00")
