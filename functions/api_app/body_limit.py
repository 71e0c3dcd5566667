"""Refuses request bodies above the configured size with 413, before any parsing.

The declared Content-Length is checked first; the body is then read (at most limit + 1
bytes) and replayed to the app, so a missing or false Content-Length cannot get past it.
One route may allow a different size for some media types (``BodyAllowance``: the images
POST /predict takes); every other body keeps the general limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.api_app.errors import error_response


@dataclass(frozen=True)
class BodyAllowance:
    """The limit for bodies of ``media_types`` sent to ``method path`` (matched exactly), not the general one."""

    method: str
    path: str
    media_types: frozenset[str]  # lower case, without parameters
    max_bytes: int


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, allowances: tuple[BodyAllowance, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.allowances = allowances

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, bodies = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await error_response(400, "bad_request", "Content-Length is not a number")(scope, receive, send)
                return
            if int(declared) > limit:
                await self._too_large(limit, bodies, scope, receive, send)
                return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(limit, bodies, scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _limit(self, scope: Scope) -> tuple[int, str]:
        """The limit for this request and what it covers: an allowance's where one matches, else the general
        one. The media type is the first Content-Type header's, as the app reads it (a second cannot widen it)."""
        content_type = next((v for k, v in scope.get("headers") or [] if k == b"content-type"), b"")
        media_type = content_type.split(b";")[0].strip().lower().decode("latin-1")
        for allowance in self.allowances:
            if scope.get("method") == allowance.method and scope.get("path") == allowance.path \
                    and media_type in allowance.media_types:
                return allowance.max_bytes, f"{media_type} bodies of {allowance.method} {allowance.path} are"
        return self.max_bytes, "request bodies are"

    async def _too_large(self, limit: int, bodies: str, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "body_too_large", f"{bodies} limited to {limit} bytes")
        await response(scope, receive, send)
