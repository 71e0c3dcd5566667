"""Serve ``GET /dashboard`` (the page shell) and ``GET /dashboard/static/<file>`` without a token.

A page navigation carries no bearer token, so these two paths are answered here, before the auth
middleware, and hold no data: the shell is a fixed template plus the hosted UI's public settings, and the
static files are the app's own JS and CSS and the vendored Vega builds. Everything the page shows it fetches
from the API with the token the caller signs in for (static/login.js). The shell's Content-Security-Policy
allows scripts, styles and connections to this origin only, and connections to the hosted UI's token endpoint.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from functions.api_app.loopback import is_loopback_host

HERE = Path(__file__).parent
SHELL_PATH = "/dashboard"
STATIC_PREFIX = "/dashboard/static/"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".png": "image/png"}
HOSTED_UI_SETTINGS = ("DASHBOARD_AUTH_DOMAIN", "DASHBOARD_CLIENT_ID")  # environment variables, set by the CDK app
CLIENT_ID = re.compile(r"[\w+]{1,128}")  # Cognito's pattern for an app client id


def content_security_policy(connect: tuple[str, ...] = ()) -> str:
    """Scripts, styles and connections to this origin only, and to ``connect`` (the hosted UI's token endpoint)."""
    connect_src = " ".join(("'self'", *connect))
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"connect-src {connect_src}; font-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


@dataclass(frozen=True)
class DashboardSettings:
    """Cognito's hosted UI for signing in: its domain's base URL and the dashboard's app client (a public client
    with the authorization code grant and PKCE; cdk/components/research_api.py). Neither: the local sign-in links
    of ``demo --serve`` (``#token=``)."""

    auth_domain: str | None = None  # https://<prefix>.auth.<region>.amazoncognito.com
    client_id: str | None = None

    def __post_init__(self) -> None:
        if (self.auth_domain is None) != (self.client_id is None):
            raise ValueError("DASHBOARD_AUTH_DOMAIN and DASHBOARD_CLIENT_ID go together: set both or neither")
        if self.auth_domain is not None:
            parts = urlsplit(self.auth_domain)
            secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))
            if not secure or not parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
                raise ValueError("DASHBOARD_AUTH_DOMAIN must be the hosted UI's https base URL (no path, query or "
                                 f"fragment; http only on a loopback address), got {self.auth_domain!r}")
        if self.client_id is not None and not CLIENT_ID.fullmatch(self.client_id):
            raise ValueError(f"DASHBOARD_CLIENT_ID is not a Cognito app client id: {self.client_id!r}")

    @property
    def auth_origin(self) -> str | None:
        if self.auth_domain is None:
            return None
        parts = urlsplit(self.auth_domain)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DashboardSettings:
        """``DASHBOARD_AUTH_DOMAIN`` and ``DASHBOARD_CLIENT_ID``: both optional, set together by a deployment."""
        env = os.environ if env is None else env
        return cls(auth_domain=env.get("DASHBOARD_AUTH_DOMAIN") or None, client_id=env.get("DASHBOARD_CLIENT_ID") or None)

    def headers(self) -> dict[str, str]:
        connect = (self.auth_origin,) if self.auth_origin else ()
        return {**SECURITY_HEADERS, "Content-Security-Policy": content_security_policy(connect)}


def render_shell(settings: DashboardSettings) -> bytes:
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    return environment.get_template("dashboard.html").render(auth_origin=settings.auth_origin,
                                                            client_id=settings.client_id).encode()


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
        self.headers = settings.headers()
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
                            headers={**self.headers, "Cache-Control": "no-store"})
        found = self.files.get(path[len(STATIC_PREFIX):])
        if found is None:
            return Response(b"not found", status_code=404, media_type="text/plain", headers=self.headers)
        body, media_type = found
        return Response(body, media_type=media_type,
                        headers={**self.headers, "Cache-Control": "public, max-age=300"})


