"""Neutralising spreadsheet formulas in the CSV cells the hub writes (OWASP's rule).

A partner opens the hub's CSV in a spreadsheet, which runs any cell that starts like a
formula: a customer who types `=HYPERLINK("http://…")` as the fault would reach the
workshop's machine through the hub. So a cell starting with `=`, `+`, `-`, `@`, tab or
carriage return gets a leading `'`: the spreadsheet shows it as text. Plain numbers
(`-12.50`, `+33612345678`) are left alone: a number can carry no formula, and changing
it would corrupt signed amounts and phone numbers. The CSV codec applies this to every
data cell unless a mapping turns it off, and conformance uses it to know what the hub's
own files read back as.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

__all__ = ["FORMULA_TRIGGERS", "GUARD_PREFIX", "guarded", "guarded_record"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula."""

GUARD_PREFIX = "'"
"""Put before a cell that would run as a formula: spreadsheets take what follows as text."""

# ASCII digits only: other scripts' digits are not numbers to every spreadsheet.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")


def guarded(value: str) -> str:
    """The cell as written: `value`, or `'value` when a spreadsheet would run it."""
    if value.startswith(FORMULA_TRIGGERS) and _PLAIN_NUMBER.fullmatch(value) is None:
        return GUARD_PREFIX + value
    return value


def guarded_record(
    record: Mapping[str, str | None], *, unguarded: Collection[str] = ()
) -> dict[str, str | None]:
    """A record's cells as the guard writes them; columns in `unguarded` stay as they are."""
    return {
        column: value if value is None or column in unguarded else guarded(value)
        for column, value in record.items()
    }
