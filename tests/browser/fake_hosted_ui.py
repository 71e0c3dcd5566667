"""A stand-in for Cognito's hosted UI on 127.0.0.1, for the dashboard's sign-in tests: the three endpoints the page
uses, with Cognito's checks of the authorization code grant with PKCE (RFC 7636, S256 only).

- ``GET /oauth2/authorize``: records the request and signs the user in at once (no form), redirecting to
  ``redirect_uri?code=...&state=...`` when client, response type, redirect URI and challenge are right;
- ``POST /oauth2/token``: exchanges a code once, for the same client and redirect URI, when SHA-256 of the
  ``code_verifier`` is the recorded challenge; answers with CORS headers, as Cognito does;
- ``GET /logout``: redirects to ``logout_uri`` when it is registered.

``id_token`` is what the token endpoint hands out (the served sandbox's researcher token, set once it is known).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "dashboardclient1"


@dataclass
class FakeHostedUi:
    redirect_uri: str = ""  # the one registered callback and logout URL
    id_token: str = ""
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    logouts: list[dict[str, str]] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> the authorize request it answers
    base_url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FakeHostedUi:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict]:
        self.authorize_requests.append(query)
        if (query.get("client_id") != CLIENT_ID or query.get("response_type") != "code"
                or query.get("redirect_uri") != self.redirect_uri or query.get("code_challenge_method") != "S256"
                or not query.get("code_challenge")):
            return 400, {}, {"error": "invalid_request"}
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        location = f"{self.redirect_uri}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": location}, {}

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, str], dict]:
        self.token_requests.append(form)
        request = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if (request is None or form.get("grant_type") != "authorization_code"
                or form.get("client_id") != request["client_id"] or form.get("redirect_uri") != request["redirect_uri"]):
            return 400, {}, {"error": "invalid_grant"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != request["code_challenge"]:
            return 400, {}, {"error": "invalid_grant"}
        return 200, {}, {"id_token": self.id_token, "access_token": "unused", "token_type": "Bearer",
                         "expires_in": 3600}

    def logout(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict]:
        self.logouts.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("logout_uri") != self.redirect_uri:
            return 400, {}, {"error": "invalid_request"}
        return 302, {"Location": self.redirect_uri}, {}


def _handler(ui: FakeHostedUi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _answer(self, status: int, headers: dict[str, str], body: dict) -> None:
            data = json.dumps(body).encode() if status != 302 else b""
            self.send_response(status)
            origin = self.headers.get("Origin")
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/oauth2/authorize":
                self._answer(*ui.authorize(query))
            elif parts.path == "/logout":
                self._answer(*ui.logout(query))
            else:
                self._answer(404, {}, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/oauth2/token":
                self._answer(*ui.token(form))
            else:
                self._answer(404, {}, {"error": "not_found"})

    return Handler
