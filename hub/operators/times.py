"""Every time shown to an operator, written one way: in the operators' zone, zone shown.

The console wrote UTC, `hub sla` Paris time, `hub runs` no zone at all and the case
timeline each partner's own offset (+01:00 beside +00:00 in one column), so an operator
comparing two screens compared different clocks. The console (its ``when`` filter) and
every CLI table call `shown`, with the zone of the settings (hub.config.home.time_zone).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

NEVER = "—"


def shown(moment: datetime | None, zone: tzinfo, *, seconds: bool = True) -> str:
    """``2026-11-03 16:05:12 CET``: the instant in ``zone``, with the zone's abbreviation
    (CET or CEST in Paris, so summer and winter differ visibly); "—" for none."""
    if moment is None:
        return NEVER
    local = moment.astimezone(zone)
    pattern = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return local.strftime(pattern)


def chart_time(moment: datetime, zone: tzinfo) -> str:
    """An instant as a chart's axis reads it: wall time in ``zone`` without an offset
    (plotly.js draws such text as is), the zone named once in the axis title."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
