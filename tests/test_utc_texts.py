"""The hourly UTC text writer shared by the events' ids and SQLite's stored instants:
the same text as its whole form, each hour's text written once, and its bound kept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hub.model.utc_texts import hourly_utc_text


def _counting_iso() -> tuple[list[datetime], Callable[[datetime], str]]:
    calls: list[datetime] = []

    def whole(utc: datetime) -> str:
        calls.append(utc)
        return utc.isoformat()

    return calls, whole


def test_an_hour_s_text_is_written_once_and_the_text_is_the_whole_form() -> None:
    calls, whole = _counting_iso()
    text = hourly_utc_text(whole, "+00:00")
    start = datetime(2026, 11, 3, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    for minutes in range(0, 60, 7):
        instant = start + timedelta(minutes=minutes, seconds=minutes % 60)
        assert text(instant) == instant.astimezone(UTC).isoformat()
    assert len(calls) == 1, "one hour, written once"
    with_micro = start.replace(microsecond=5)
    assert text(with_micro) == with_micro.astimezone(UTC).isoformat()
    assert len(calls) == 2, "an instant with microseconds is written whole"


def test_the_hours_kept_are_forgotten_past_their_bound() -> None:
    calls, whole = _counting_iso()
    text = hourly_utc_text(whole, "+00:00", kept=3)
    start = datetime(2026, 11, 3, 9, 15, tzinfo=ZoneInfo("Europe/Paris"))
    for hours in range(10):
        instant = start + timedelta(hours=hours)
        assert text(instant) == instant.astimezone(UTC).isoformat()
    assert len(calls) == 10
    latest = start + timedelta(hours=9)
    assert text(latest) == latest.astimezone(UTC).isoformat()
    assert len(calls) == 10, "the latest hour is still kept"
    assert text(start) == start.astimezone(UTC).isoformat()
    assert len(calls) == 11, "the first hour was forgotten with the others past the bound"


def test_two_writers_keep_their_own_hours() -> None:
    spaced = hourly_utc_text(lambda utc: utc.isoformat(" ", "microseconds")[:-6], ".000000")
    iso = hourly_utc_text(datetime.isoformat, "+00:00")
    instant = datetime(2026, 11, 3, 9, 15, 7, tzinfo=UTC)
    assert iso(instant) == "2026-11-03T09:15:07+00:00"
    assert spaced(instant) == "2026-11-03 09:15:07.000000"
    assert iso(instant) == "2026-11-03T09:15:07+00:00"


def test_an_hour_at_a_fixed_offset_is_kept_by_its_wall_clock_hour() -> None:
    """A fixed offset of whole hours keeps the hour's text by its wall-clock hour too
    (thirteenth pass of issue 17: no astimezone once the hour is known); an offset of
    half an hour, a named zone and microseconds take the UTC hour as before."""
    calls, whole = _counting_iso()
    text = hourly_utc_text(whole, "+00:00")
    for offset in (timedelta(hours=2), timedelta(hours=-3), timedelta(0), timedelta(hours=14)):
        zone = timezone(offset)
        start = datetime(2026, 12, 31, 23, 0, tzinfo=zone)
        written = len(calls)
        for minute, second in ((0, 0), (7, 59), (59, 1), (59, 59), (0, 0)):
            instant = start.replace(minute=minute, second=second)
            assert text(instant) == instant.astimezone(UTC).isoformat()
        assert len(calls) == written + 1, offset
        with_micro = start.replace(microsecond=1)
        assert text(with_micro) == with_micro.astimezone(UTC).isoformat()
    half = timezone(timedelta(hours=5, minutes=30))
    for minute in (0, 29, 30, 59):
        instant = datetime(2026, 3, 1, 0, minute, 5, tzinfo=half)
        assert text(instant) == instant.astimezone(UTC).isoformat()
    # The same UTC hour reached from another offset: the UTC hour's text, kept once.
    paris_summer = timezone(timedelta(hours=2))
    instant = datetime(2026, 7, 1, 12, 34, 56, tzinfo=paris_summer)
    other = instant.astimezone(timezone(timedelta(hours=-5)))
    assert text(instant) == text(other) == "2026-07-01T10:34:56+00:00"


def test_the_wall_clock_hours_kept_are_forgotten_past_their_bound() -> None:
    calls, whole = _counting_iso()
    text = hourly_utc_text(whole, "+00:00", kept=2)
    zone = timezone(timedelta(hours=1))
    start = datetime(2026, 11, 3, 9, 15, tzinfo=zone)
    for hours in range(5):
        instant = start + timedelta(hours=hours)
        assert text(instant) == instant.astimezone(UTC).isoformat()
    assert len(calls) == 5
    assert text(start) == start.astimezone(UTC).isoformat()
    assert len(calls) == 6, "the first hour was forgotten past the bound"
