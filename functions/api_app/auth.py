"""Who is calling: claims from the API Gateway Cognito authorizer, never from request headers.

API Gateway (REST) validates the Cognito token and puts its claims in the Lambda event at
``requestContext.authorizer.claims``; Mangum hands that event to the app as
``scope["aws.event"]``. ``AuthMiddleware`` turns the claims into a ``Caller`` before any
route runs and answers 401 when there are none (fail closed); ``require_researcher`` and
``require_admin`` answer 403 to a caller outside the right Cognito group. An authorizer is
any callable from the ASGI scope to claims (or None); the local server plugs in its own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from functions.api_app.errors import ApiError, error_response

Authorizer = Callable[[Scope], Mapping[str, Any] | None]

RESEARCHER, ADMIN = "researcher", "admin"  # Cognito group names (cdk/components/research_api.py)
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
# static assets (scripts, styles, images) that pages load without a token; they carry no data
PUBLIC_PREFIXES = ("/static/",)
_BEARER = HTTPBearer(auto_error=False, scheme_name="cognito",
                     description="Cognito ID token; API Gateway verifies it, the app reads only its claims")


def cognito_event_claims(scope: Scope) -> Mapping[str, Any] | None:
    """The authorizer's claims from the API Gateway event, or None (no event, no authorizer, no subject)."""
    event = scope.get("aws.event")
    if not isinstance(event, Mapping):
        return None
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    if not isinstance(claims, Mapping) or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        return None
    return claims


def parse_groups(value: Any) -> frozenset[str]:
    """``cognito:groups`` arrives as a list, "a,b" (REST authorizer) or "[a b]" (HTTP API JWT)."""
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    elif isinstance(value, str):
        items = re.split(r"[,\s]+", value.strip().strip("[]"))
    else:
        return frozenset()
    return frozenset(i.strip().strip('"') for i in items if i.strip().strip('"'))


@dataclass(frozen=True)
class Caller:
    subject: str  # Cognito "sub": stable and unique
    username: str
    email: str | None
    groups: frozenset[str]
    request_id: str  # API Gateway's request id (or a fresh one locally): keys the audit event

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.groups

    @property
    def is_researcher(self) -> bool:
        return RESEARCHER in self.groups or self.is_admin

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"user:{self.username}"

    def identity(self) -> dict:
        return {"sub": self.subject, "username": self.username, "email": self.email, "groups": sorted(self.groups)}

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], request_id: str) -> Caller:
        subject = str(claims["sub"])
        username = claims.get("cognito:username") or claims.get("username") or subject
        email = claims.get("email")
        return cls(subject, str(username), str(email) if email else None,
                   parse_groups(claims.get("cognito:groups")), request_id)


def _request_id(scope: Scope) -> str:
    event = scope.get("aws.event")
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    request_id = context.get("requestId") if isinstance(context, Mapping) else None
    return str(request_id) if request_id else uuid.uuid4().hex


class AuthMiddleware:
    """Resolves the caller of every request but the public paths; 401 when there is none."""

    def __init__(self, app: ASGIApp, authorizer: Authorizer) -> None:
        self.app = app
        self.authorizer = authorizer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        claims = self.authorizer(scope)
        if claims is None:
            response = error_response(401, "unauthenticated", "sign in: this API needs a Cognito identity",
                                      headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = Caller.from_claims(claims, _request_id(scope))
        await self.app(scope, receive, send)


def current_caller(request: Request, _token: Any = Security(_BEARER)) -> Caller:
    """The caller resolved by AuthMiddleware; the bearer dependency only documents the scheme."""
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):  # a route outside the middleware would be a wiring bug: fail closed
        raise ApiError(401, "unauthenticated", "sign in: this API needs a Cognito identity")
    return caller


def require_researcher(caller: Caller = Depends(current_caller)) -> Caller:
    if not caller.is_researcher:
        raise ApiError(403, "forbidden", f"this needs the {RESEARCHER!r} or {ADMIN!r} group")
    return caller


def require_admin(caller: Caller = Depends(current_caller)) -> Caller:
    if not caller.is_admin:
        raise ApiError(403, "forbidden", f"this needs the {ADMIN!r} group")
    return caller
