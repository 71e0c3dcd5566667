"""``/docs`` (Swagger UI) and ``/redoc`` served with their scripts and styles from this app, not a CDN.

FastAPI's default pages load Swagger UI and ReDoc from cdn.jsdelivr.net (and fonts from Google), so they
render blank on a closed network. The assets come from the ``fastapi-offline`` package (Swagger UI 5 and
ReDoc 2 bundles, MIT) and are served under ``STATIC_PREFIX``, following FastAPI's self-hosting recipe
(https://fastapi.tiangolo.com/how-to/custom-docs-ui-assets/). The app must be built with
``docs_url=None, redoc_url=None``. The pages and the assets carry no data: they are public (auth.PUBLIC_PATHS
and PUBLIC_PREFIXES; API Gateway's unauthenticated GET routes, cdk/components/research_api.py).
"""

from __future__ import annotations

from importlib.resources import files

import fastapi_offline  # its static/ folder: the api extra's pin (test_packaging sees the import)
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_PREFIX = "/static/docs"
DOCS_URL, REDOC_URL = "/docs", "/redoc"
# The pages may load nothing from elsewhere: ReDoc's sidebar would fetch its vendor's logo from cdn.redoc.ly (it
# falls back to text). Both pages start from an inline script or style (FastAPI's HTML, styled-components), and
# ReDoc's search runs in a worker made from a blob: URL.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
                           "frame-ancestors 'none'")


def mount_offline_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets under ``STATIC_PREFIX`` to ``app``."""
    if app.docs_url or app.redoc_url:
        raise ValueError("build the app with docs_url=None and redoc_url=None: these pages replace FastAPI's")
    assets = files(fastapi_offline) / "static"
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(assets)), name="docs-assets")

    # Relative URLs: deployed, the pages sit below the API Gateway stage (/v1/docs) while the app sees /docs
    # (Mangum sets no root_path), so "static/docs/..." from /v1/docs resolves to /v1/static/docs/...
    assets_url, openapi_url = STATIC_PREFIX.lstrip("/"), app.openapi_url.lstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _self_only(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets_url}/swagger-ui-bundle.js", swagger_css_url=f"{assets_url}/swagger-ui.css",
            swagger_favicon_url=f"{assets_url}/favicon.png", swagger_ui_parameters=app.swagger_ui_parameters))

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _self_only(get_redoc_html(
            openapi_url=openapi_url, title=f"{app.title} - ReDoc", redoc_js_url=f"{assets_url}/redoc.standalone.js",
            redoc_favicon_url=f"{assets_url}/favicon.png", with_google_fonts=False))


def _self_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
