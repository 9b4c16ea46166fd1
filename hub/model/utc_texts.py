"""An instant's UTC text in one ISO form, its hour's part written once an hour.

``datetime.isoformat`` formats each number on its own (about 10,000 instructions a
call), and a file's instants share their hours: the events' stable ids
(hub.model.event) and the instants SQLite stores (hub.store.bulk) keep each hour's text
and add the minute and second from a table (issue 17). One definition for both, so the
two forms cannot drift apart in how they cache.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

HOURS_KEPT = 100_000
"""Hours' texts a writer keeps (eleven years of hours) before it forgets them all."""

_TWO_DIGITS = tuple(f"{number:02d}" for number in range(60))
"""Minutes' and seconds' texts."""


def hourly_utc_text(
    whole: Callable[[datetime], str], tail: str, *, kept: int = HOURS_KEPT
) -> Callable[[datetime], str]:
    """A writer of ``whole(at.astimezone(UTC))`` for any aware instant ``at``.

    ``whole`` writes an ISO form of a UTC instant whose first 14 characters are its date
    and hour (``2026-11-03T09:``) and whose text after the seconds, for an instant
    without microseconds, is ``tail``; an instant with microseconds is written by
    ``whole`` itself. The writer keeps up to ``kept`` hours' texts, its own, by the UTC
    hour and again by the wall-clock hour of a fixed offset.
    """
    hours: dict[tuple[int, int, int, int], str] = {}
    by_wall: dict[tuple[int, int, int, int, timezone], str] = {}
    """The same texts by the wall-clock hour and its fixed offset, when that offset is
    whole hours (as a partner's instants come: an instant parser gives a fixed offset):
    its minute and second are then UTC's, and ``astimezone`` (a third of a call) is not
    paid. A named zone's offset depends on the instant (and its fold): never kept so."""

    def text(at: datetime) -> str:
        zone = at.tzinfo
        if type(zone) is timezone and not at.microsecond:
            hour = by_wall.get((at.year, at.month, at.day, at.hour, zone))
            if hour is not None:
                return f"{hour}{_TWO_DIGITS[at.minute]}:{_TWO_DIGITS[at.second]}{tail}"
        utc = at.astimezone(UTC)
        if utc.microsecond:
            return whole(utc)
        key = (utc.year, utc.month, utc.day, utc.hour)
        hour = hours.get(key)
        if hour is None:
            if len(hours) >= kept:
                hours.clear()
            hour = hours[key] = whole(utc)[:14]
        if type(zone) is timezone and not zone.utcoffset(None) % _HOUR:
            if len(by_wall) >= kept:
                by_wall.clear()
            by_wall[(at.year, at.month, at.day, at.hour, zone)] = hour
        return f"{hour}{_TWO_DIGITS[utc.minute]}:{_TWO_DIGITS[utc.second]}{tail}"

    return text


_HOUR = timedelta(hours=1)
