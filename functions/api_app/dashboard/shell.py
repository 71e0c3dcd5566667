"""Serve ``GET /dashboard`` (the page shell) and ``GET /dashboard/static/<file>`` without a token.

A page navigation carries no bearer token, so these two paths are answered here, before the auth
middleware, and hold no data: the shell is a fixed template plus the login link, and the static files
are the app's own JS and CSS and the vendored Vega builds. Everything the page shows it fetches from
the API with the token the caller brings in the URL fragment. The shell's Content-Security-Policy
allows scripts, styles and connections to this origin only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

HERE = Path(__file__).parent
SHELL_PATH = "/dashboard"
STATIC_PREFIX = "/dashboard/static/"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".png": "image/png"}


@dataclass(frozen=True)
class DashboardSettings:
    login_url: str | None = None  # Cognito's hosted-UI authorize URL; None: the local login links of demo --serve

    def __post_init__(self) -> None:
        if self.login_url is not None:
            parts = urlsplit(self.login_url)
            if parts.scheme != "https" or not parts.netloc or parts.fragment:
                raise ValueError(f"DASHBOARD_LOGIN_URL must be an https URL without a fragment, got "
                                 f"{self.login_url!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DashboardSettings:
        """``DASHBOARD_LOGIN_URL`` is optional: a deployment with Cognito's hosted UI sets it."""
        env = os.environ if env is None else env
        return cls(login_url=env.get("DASHBOARD_LOGIN_URL") or None)


def render_shell(settings: DashboardSettings) -> bytes:
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    return environment.get_template("dashboard.html").render(login_url=settings.login_url).encode()


def static_files() -> dict[str, tuple[bytes, str]]:
    """Every file under static/ by its path there, read once: nothing outside the folder can be named."""
    root = HERE / "static"
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in TYPES:
            files[path.relative_to(root).as_posix()] = (path.read_bytes(), TYPES[path.suffix])
    return files


class DashboardMiddleware:
    """Answers GET and HEAD of the shell and the static files; passes every other request on."""

    def __init__(self, app: ASGIApp, settings: DashboardSettings) -> None:
        self.app = app
        self.shell = render_shell(settings)
        self.files = static_files()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        response = None
        if path == SHELL_PATH or path.startswith(STATIC_PREFIX):
            response = self._response(scope["method"], path)
        if response is None:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    def _response(self, method: str, path: str) -> Response | None:
        if method not in ("GET", "HEAD"):
            return None  # the API answers (405 or 401) as for any other path
        if path == SHELL_PATH:
            return Response(self.shell, media_type="text/html; charset=utf-8",
                            headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})
        found = self.files.get(path[len(STATIC_PREFIX):])
        if found is None:
            return Response(b"not found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
        body, media_type = found
        return Response(body, media_type=media_type,
                        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"})


