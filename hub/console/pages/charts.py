"""The charts page: the network over time, drawn in the browser by plotly.js.

plotly.js comes from the ``plotly`` Python package's own data (its ``plotly.min.js``), served
by the hub under /console/static: the console works offline and loads nothing from a CDN.
The page embeds the figures as JSON; the console's own ``charts.js`` hands them to plotly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request, Response

from hub.console.pages.shared import (
    REFRESH_CHOICES,
    Session,
    clock_of,
    database_of,
    network_of,
    refresh_seconds,
)
from hub.console.render import HERE, page
from hub.console.session import CONSOLE_PATH
from hub.operators.charts import DEFAULT_SPAN, SPANS, Chart, network_charts
from hub.operators.times import chart_time

router = APIRouter(prefix=CONSOLE_PATH, include_in_schema=False)

STATIC_CACHE = {"Cache-Control": "max-age=86400"}


@cache
def _plotly() -> bytes:
    """plotly.js as the installed ``plotly`` package ships it (read once)."""
    return files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()


@router.get("/static/plotly.min.js")
def plotly_script() -> Response:
    return Response(_plotly(), media_type="text/javascript", headers=STATIC_CACHE)


@router.get("/static/charts.js")
def charts_script() -> Response:
    script = (HERE / "static" / "charts.js").read_bytes()
    return Response(script, media_type="text/javascript", headers=STATIC_CACHE)


@router.get("/charts")
def charts_page(
    request: Request, session: Session, span: str = DEFAULT_SPAN, refresh: int = 0
) -> Response:
    """Throughput, rejects, lag, outbox depth and breaches over the chosen span."""
    span = span if span in SPANS else DEFAULT_SPAN
    refresh = refresh_seconds(refresh)
    now = datetime.now(UTC)
    zone = request.app.state.time_zone
    network = network_of(request)
    names = None if network is None else [spec.name for spec in network.config.connectors]
    charts = network_charts(
        database_of(request), now=now, hub_now=clock_of(request)(), span=span, connectors=names
    )
    document = {"zone": str(zone), "charts": [_figure(chart, zone) for chart in charts]}
    return page(
        request,
        "charts.html",
        session=session,
        now=now,
        charts=charts,
        span=span,
        spans=list(SPANS),
        refresh=refresh,
        refresh_choices=REFRESH_CHOICES,
        # json.dumps escapes nothing HTML cares about: "</" is what could end the block.
        chart_data=json.dumps(document).replace("</", "<\\/"),
    )


def _figure(chart: Chart, zone: Any) -> dict[str, Any]:
    return {
        "key": chart.key,
        "title": chart.title,
        "unit": chart.unit,
        "series": [
            {
                "name": line.name,
                "x": [chart_time(moment, zone) for moment in chart.times],
                "y": line.values,
            }
            for line in chart.series
        ],
    }
