"""Reading partner text as typed values: instants in the partner's zone, amounts, dates.

Pure functions. A bad value raises `ValueProblem` with a plain reason; the caller knows
the record and field and turns it into a rejection that says where.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ValueProblem(ValueError):
    """A value that cannot be read as the mapping says; the reason is for the operator."""


_AMOUNT = {".": re.compile(r"^-?\d+(\.\d+)?$"), ",": re.compile(r"^-?\d+(,\d+)?$")}


def parse_amount(text: str, separator: str) -> Decimal:
    """A decimal amount written with the partner's separator, nothing else accepted."""
    if not _AMOUNT[separator].match(text):
        raise ValueProblem(f"{text!r} is not an amount with {separator!r} as decimal separator")
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards this
        raise ValueProblem(f"{text!r} is not an amount") from exc


def parse_date(text: str, fmt: str | None) -> date:
    if fmt in (None, "iso-date", "iso8601"):
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise ValueProblem(f"{text!r} is not a date (yyyy-mm-dd)") from exc
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError as exc:
        raise ValueProblem(f"{text!r} is not a date in the format {fmt!r}") from exc


def parse_instant(
    text: str,
    fmt: str,
    zone: Zone,
    *,
    ambiguous: Literal["earlier", "later", "reject"] = "earlier",
    nonexistent: Literal["shift_forward", "reject"] = "shift_forward",
) -> datetime:
    """An aware instant. Text without an offset is a wall-clock time in ``zone``."""
    if fmt == "iso8601":
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueProblem(f"{text!r} is not an ISO 8601 date and time") from exc
    else:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError as exc:
            raise ValueProblem(f"{text!r} does not match the format {fmt!r}") from exc
    if parsed.tzinfo is not None:
        return parsed
    return localize(parsed, zone, ambiguous=ambiguous, nonexistent=nonexistent)


_DIRECTIVES = {
    "%d": r"(?P<day>\d{1,2})",
    "%m": r"(?P<month>\d{1,2})",
    "%Y": r"(?P<year>\d{4})",
    "%H": r"(?P<hour>\d{1,2})",
    "%M": r"(?P<minute>\d{1,2})",
    "%S": r"(?P<second>\d{1,2})",
}


def _pattern_regex(fmt: str) -> re.Pattern[str] | None:
    """A regex for strptime patterns made of fixed-width numeric fields and literals.

    strptime is slow (locale lookups on every call); partner formats are almost always
    of this simple kind, so they get a compiled regex. Anything else falls back.
    """
    parts = re.split(r"(%.)", fmt)
    regex = []
    for part in parts:
        if part.startswith("%") and len(part) == 2:
            if part not in _DIRECTIVES or _DIRECTIVES[part] in regex:
                return None
            regex.append(_DIRECTIVES[part])
        else:
            regex.append(re.escape(part))
    return re.compile("".join(regex) + r"\Z")


InstantParser = Callable[[str], datetime]

Zone = ZoneInfo | timezone
"""Where wall-clock times are read: a named zone (with its daylight-saving changes) or a
fixed offset a partner gave with the event."""

_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")


def zone_name(zone: Zone) -> str:
    return zone.key if isinstance(zone, ZoneInfo) else str(zone)


def parse_zone(text: str) -> Zone:
    """A zone a partner gives with an event: a UTC offset (``+02:00``, ``-0500``, ``Z``,
    ``UTC+1``) or a time zone name (``Europe/Paris``, ``America/New_York``)."""
    cleaned = text.strip()
    if cleaned.upper() in ("Z", "UTC", "GMT"):
        return UTC
    offset = _OFFSET.match(cleaned.upper().replace(" ", ""))
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > timedelta(hours=14):
            raise ValueProblem(f"{text!r} is not a UTC offset (more than 14 hours)")
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueProblem(f"{text!r} is neither a UTC offset nor a time zone name") from None


_HOURS_KEPT = 100_000
"""Hours whose offset an instant parser remembers (eleven years of hours), then forgets."""


def steady_offset(hour: datetime, zone: Zone) -> timezone | None:
    """The zone's offset through the whole wall-clock hour starting at ``hour``, or None
    when the offset changes within it (a daylight-saving change happens then).

    Zones change offset at most once in an hour, so the same offset at both ends of
    the hour, in both folds, holds for every minute of it.
    """
    last = hour.replace(minute=59, second=59, microsecond=999_999)
    offsets = {
        moment.replace(tzinfo=zone, fold=fold).utcoffset()
        for moment in (hour, last)
        for fold in (0, 1)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    assert offset is not None
    return timezone(offset)


def instant_parser(
    fmt: str,
    zone: Zone,
    *,
    ambiguous: Literal["earlier", "later", "reject"] = "earlier",
    nonexistent: Literal["shift_forward", "reject"] = "shift_forward",
) -> InstantParser:
    """A fast, cached parser equivalent to ``parse_instant`` with these settings.

    Partner files repeat the same minute on many lines, so results are memoised; and
    the zone's offset is worked out once per wall-clock hour, not once per line (hours
    with a daylight-saving change go through ``localize``, which decides them).
    """
    compiled = None if fmt == "iso8601" else _pattern_regex(fmt)
    hours: dict[tuple[int, int, int, int], timezone | None] = {}
    # The fields the format reads, when they are the leading ones of a datetime's (year,
    # month, day, hour, then maybe minute and second): read from the match's groups.
    names = () if compiled is None else tuple(compiled.groupindex)
    ordered = _DATETIME_FIELDS[: len(names)]
    fast = compiled is not None and len(names) >= 4 and set(names) == set(ordered)
    # Where each field's text is among the match's groups (the format's order); read
    # only when the format is of that kind.
    at = (
        {}
        if compiled is None
        else {name: number - 1 for name, number in compiled.groupindex.items()}
    )
    hour_texts = itemgetter(*(at.get(name, 0) for name in _DATETIME_FIELDS[:4]))
    minute_at, second_at = at.get("minute"), at.get("second")
    by_text: dict[tuple[str, ...], tuple[int, int, int, int, timezone | None, datetime | None]] = {}
    """An hour's fields, the zone's offset through it and the hour's first instant (None
    when the offset changes within it), by the hour's texts: int() of a text costs ten
    dict lookups, and a file's lines share their hours."""

    def offset_of(key: tuple[int, int, int, int]) -> timezone | None:
        """The zone's offset through the hour ``key`` names, worked out once an hour."""
        try:
            return hours[key]
        except KeyError:
            if len(hours) >= _HOURS_KEPT:
                hours.clear()
            offset = hours[key] = steady_offset(datetime(*key), zone)
            return offset

    def hour_of(
        texts: tuple[str, ...],
    ) -> tuple[int, int, int, int, timezone | None, datetime | None]:
        """The hour these texts name, read once (a day or an hour that does not exist
        raises ValueError, and is not kept)."""
        year, month, day, hour = map(int, texts)
        offset = offset_of((year, month, day, hour))
        start = None if offset is None else datetime(year, month, day, hour, 0, 0, 0, offset)
        read = (year, month, day, hour, offset, start)
        if len(by_text) >= _HOURS_KEPT:
            by_text.clear()
        by_text[texts] = read
        return read

    @lru_cache(maxsize=16_384)
    def parse(text: str) -> datetime:
        if compiled is None:
            return parse_instant(text, fmt, zone, ambiguous=ambiguous, nonexistent=nonexistent)
        match = compiled.match(text)
        if match is None:
            raise ValueProblem(f"{text!r} does not match the format {fmt!r}")
        if fast:
            texts = match.groups()
            minute = second = 0
            try:  # a day, an hour or a minute that does not exist raises ValueError here
                key = hour_texts(texts)
                known = by_text.get(key)
                year, month, day, hour, offset, start = hour_of(key) if known is None else known
                if start is not None:  # the hour's first instant and the minutes after it
                    if minute_at is None:
                        return start
                    step = _MINUTES.get(texts[minute_at])
                    if step is not None:
                        if second_at is None:
                            return start + step
                        seconds = _SECONDS.get(texts[second_at])
                        if seconds is not None:
                            return start + (step + seconds)
                if minute_at is not None:
                    minute = _SIXTY.get(texts[minute_at]) or int(texts[minute_at])
                    if second_at is not None:
                        second = _SIXTY.get(texts[second_at]) or int(texts[second_at])
                if offset is not None:
                    return datetime(year, month, day, hour, minute, second, 0, offset)
                wall = datetime(year, month, day, hour, minute, second)
            except ValueError as exc:
                raise ValueProblem(f"{text!r} does not match the format {fmt!r}") from exc
        else:
            fields = match.groupdict()
            try:
                year, month, day = int(fields["year"]), int(fields["month"]), int(fields["day"])
                hour = int(fields.get("hour") or 0)
                wall = datetime(
                    year,
                    month,
                    day,
                    hour,
                    int(fields.get("minute") or 0),
                    int(fields.get("second") or 0),
                )
            except (KeyError, ValueError) as exc:
                raise ValueProblem(f"{text!r} does not match the format {fmt!r}") from exc
            offset = offset_of((year, month, day, hour))
        if offset is None:
            return localize(wall, zone, ambiguous=ambiguous, nonexistent=nonexistent)
        return wall.replace(tzinfo=offset)

    return parse


_DATETIME_FIELDS = ("year", "month", "day", "hour", "minute", "second")
"""A datetime's fields in the order its constructor takes them."""

_MINUTES = {f"{number:02d}": timedelta(minutes=number) for number in range(60)}
_SECONDS = {f"{number:02d}": timedelta(seconds=number) for number in range(60)}
"""The same texts as steps from an hour's first instant: an aware instant plus a step
within its hour is the instant ``datetime(...)`` builds from every field (the same
fields and zone, fold 0), for a third of the constructor's cost; any other text (one
digit, other scripts' digits, 60 and past) is read by the constructor, which refuses
what does not exist."""

_SIXTY = {f"{number:02d}": number for number in range(60)}
"""Minutes' and seconds' two-digit texts and their numbers, looked up rather than read
by int() (a tenth of its cost); any other text, and 00, are read by int()."""


def localize(
    wall: datetime,
    zone: Zone,
    *,
    ambiguous: Literal["earlier", "later", "reject"] = "earlier",
    nonexistent: Literal["shift_forward", "reject"] = "shift_forward",
) -> datetime:
    """Attach the zone's offset to a wall-clock time, minding daylight-saving changes.

    In autumn one hour happens twice (ambiguous); in spring one hour never happens
    (nonexistent). Both are decided by the mapping, never guessed silently.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != wall:
            if nonexistent == "reject":
                raise ValueProblem(
                    f"{wall:%d/%m/%Y %H:%M} does not exist in {zone_name(zone)} (clocks go forward)"
                )
            return fixed_offset(first.astimezone(UTC).astimezone(zone))
        if ambiguous == "reject":
            raise ValueProblem(
                f"{wall:%d/%m/%Y %H:%M} happens twice in {zone_name(zone)} (clocks go back)"
            )
        return fixed_offset(first if ambiguous == "earlier" else second)
    return fixed_offset(first)


def fixed_offset(moment: datetime) -> datetime:
    """The same instant with a plain UTC offset, which is what events keep."""
    offset = moment.utcoffset()
    assert offset is not None
    return moment.astimezone(timezone(offset))


def parse_int(text: str) -> int:
    if not re.fullmatch(r"\d{1,9}", text):
        raise ValueProblem(f"{text!r} is not a whole number")
    return int(text)


def format_amount(amount: Decimal, separator: str) -> str:
    return f"{amount:.2f}".replace(".", separator)
