"""Jinja2 for the console: autoescaped everywhere, because partner lines are hostile input.

Also the few filters the pages share, so that every page writes times, durations and
states the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from hub.console.session import CSRF_FIELD, ConsoleSession
from hub.operators.times import shown

HERE = Path(__file__).parent
CSS = (HERE / "static" / "console.css").read_bytes()

SECURITY_HEADERS = {
    # Scripts and styles only from the console itself (the charts' plotly.js is served
    # by the hub, never a CDN; no inline script runs), forms only back to it.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@pass_context
def when(context: Context, moment: datetime | None) -> str:
    """An instant in the operators' zone, to the second, zone shown: the one formatter
    (hub.operators.times) the CLI's tables use too, so two screens never disagree."""
    zone: tzinfo = context["zone"]
    return shown(moment, zone)


def duration(span: timedelta | float | None) -> str:
    """A human length: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    if span is None:
        return "—"
    seconds = int(span.total_seconds() if isinstance(span, timedelta) else span)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds} s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{sign}{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{sign}{days} d {hours} h"


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    delta = now - moment
    return f"in {duration(-delta)}" if delta < timedelta(0) else f"{duration(delta)} ago"


def due(moment: datetime, now: datetime) -> str:
    """When a scheduled run comes: "in 9 min", "due now", or how late it is."""
    delta = moment - now
    if delta >= timedelta(0):
        return f"in {duration(delta)}"
    if -delta < timedelta(minutes=1):
        return "due now"
    return f"overdue {duration(-delta)}"


def words(value: object) -> str:
    """An identifier made readable: backing_off → backing off."""
    text = getattr(value, "value", value)
    return str(text).replace("_", " ")


def noun(count: int, singular: str, plural: str | None = None) -> str:
    """The noun that agrees with ``count``, for a figure shown apart from its caption."""
    return singular if count == 1 else (plural or singular + "s")


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """A count and its noun agreeing: "1 event", "2 events" (never "1 events")."""
    return f"{count} {noun(count, singular, plural)}"


environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(when=when, duration=duration, words=words, counted=counted, noun=noun)


def page(
    request: Request,
    template: str,
    *,
    session: ConsoleSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with what every page needs: the session's CSRF token, the time."""
    now = context.pop("now", None) or datetime.now(UTC)
    html = environment.get_template(template).render(
        request_path=request.url.path,
        session=session,
        csrf_field=CSRF_FIELD,
        csrf_token=None if session is None else session.csrf_token(now=now),
        now=now,
        zone=request.app.state.time_zone,
        ago=lambda moment: ago(moment, now),
        due=lambda moment: due(moment, now),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
