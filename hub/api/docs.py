"""The API's interactive documentation, served with its own files: no CDN.

FastAPI's default page loads Swagger UI from a CDN, so a retailer behind a proxy, or an
integrator on a train, saw a blank page. The files come from the ``fastapi-offline``
package (Swagger UI as released, unmodified) and are served under ``/v1/docs/assets``;
the page is FastAPI's own, pointed at them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def _assets_directory() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def include_docs(app: FastAPI, prefix: str) -> None:
    """``{prefix}/docs`` (Swagger UI), with its files. ReDoc is left out: its page loads
    its maker's logo from the internet."""
    assets = f"{prefix}{ASSETS}"
    app.mount(assets, StaticFiles(directory=_assets_directory()), name="docs-assets")
    openapi_url = app.openapi_url or f"{prefix}/openapi.json"
    title = app.title

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon.png",
        )
