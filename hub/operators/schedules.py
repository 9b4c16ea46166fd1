"""Schedule maths for the status: when a connector's schedule next fires, how it is
shown, and when a run that has not started counts as late.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from hub.config.durations import parse_duration

__all__ = ["LATE_AFTER", "Schedule", "describe_schedule", "next_run"]


class Schedule(Protocol):
    """A schedule as connectors.yaml writes it: the validated spec
    (hub.config.connector_spec.ScheduleSpec) and the outline's copy of it
    (hub.partners.network_outline.ScheduleOutline) both are one."""

    @property
    def every(self) -> str | None: ...
    @property
    def cron(self) -> str | None: ...
    @property
    def jitter(self) -> str | None: ...


def describe_schedule(schedule: Schedule | None) -> str | None:
    """``every 15m`` or ``cron 30 2 * * *``, as the status shows it."""
    if schedule is None:
        return None
    return f"every {schedule.every}" if schedule.every else f"cron {schedule.cron}"


def next_run(schedule: Schedule, last_start: datetime | None, now: datetime) -> datetime:
    """When the schedule next fires after the last run's start (now, if it never ran)."""
    if schedule.every is not None:
        if last_start is None:
            return now
        return last_start + parse_duration(schedule.every)
    assert schedule.cron is not None
    # APScheduler (and asyncio with it) only for a network with a cron schedule.
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(schedule.cron, timezone=UTC)
    after = (last_start + timedelta(seconds=1)) if last_start is not None else now
    fire: datetime | None = trigger.get_next_fire_time(None, after)
    assert fire is not None, "a five-field cron line always fires again"
    return fire.astimezone(UTC)


LATE_AFTER = timedelta(minutes=5)
"""A scheduled run this much past its time (beyond the jitter) is flagged as late."""
