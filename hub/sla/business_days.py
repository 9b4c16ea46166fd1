"""French business days, counted in Paris local dates.

Partners stamp events with their own offsets and the store keeps UTC, but a contract's
"business day" is a day in France: a step that starts at 00:30 in Paris on a Tuesday
started on Tuesday, whatever its UTC date. Weekends and French public holidays
(metropolitan France) are not business days.

The holidays of the years from 1982 (when 8 May came back) to 2100 are the eleven of the
Code du travail, counted here from Easter (python-dateutil's, which the ``holidays``
package is built on); tests/test_sla_compute.py checks them day by day against the
``holidays`` package, which answers for any other year. Importing that
package loads every country's calendar (about 0.1 s), which `hub sla` paid at every start
for the one country it needs (issue 17).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.easter import easter as gregorian_easter

PARIS = ZoneInfo("Europe/Paris")


COUNTED_YEARS = range(1982, 2101)
"""The years whose holidays are counted here rather than asked of the package."""


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    if year in COUNTED_YEARS:
        return counted_public_holidays(year)
    import holidays

    return frozenset(holidays.country_holidays("FR", years=year))


def counted_public_holidays(year: int) -> frozenset[date]:
    """Metropolitan France's public holidays of a year of COUNTED_YEARS.

    Whit Monday was a working day ("journée de solidarité") from 2005 to 2007.
    """
    easter = gregorian_easter(year)
    fixed = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))
    days = {date(year, month, day) for month, day in fixed}
    days.add(easter + timedelta(days=1))  # Easter Monday
    days.add(easter + timedelta(days=39))  # Ascension Thursday
    if year not in (2005, 2006, 2007):
        days.add(easter + timedelta(days=50))  # Whit Monday
    return frozenset(days)


def is_public_holiday(day: date) -> bool:
    return day in _public_holidays(day.year)


def is_business_day(day: date) -> bool:
    """Monday to Friday, and not a French public holiday."""
    return day.weekday() < 5 and not is_public_holiday(day)


def paris_date(moment: datetime) -> date:
    """The day in Paris at that instant (the offset the partner gave is converted)."""
    return moment.astimezone(PARIS).date()


def end_of_day(day: date) -> datetime:
    """The instant the Paris day ends: midnight at the start of the next day, DST included."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS)


def business_deadline(start: datetime, business_days: int) -> datetime:
    """The end of the ``business_days``-th business day after the start's Paris date.

    The start day itself is not counted. With 0 ("same day") the deadline is the end of
    the start day if it is a business day, otherwise the end of the next business day.
    """
    if business_days < 0:
        raise ValueError("a number of business days cannot be negative")
    return end_of_day(_last_business_day(paris_date(start), business_days))


@lru_cache(maxsize=4096)
def _last_business_day(day: date, business_days: int) -> date:
    """Cached: thousands of open cases start on the same few hundred days."""
    if business_days == 0:
        while not is_business_day(day):
            day += timedelta(days=1)
        return day
    counted = 0
    while counted < business_days:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    return day


def calendar_deadline(start: datetime, days: int) -> datetime:
    """The end of the ``days``-th calendar day after the start's Paris date.

    As French law counts a delay in days: the day it starts is not counted and the delay
    runs to the end of its last day.
    """
    if days < 0:
        raise ValueError("a number of days cannot be negative")
    return end_of_day(paris_date(start) + timedelta(days=days))
