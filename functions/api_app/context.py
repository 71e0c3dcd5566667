"""What every route needs, built once per app: the hub's services, settings and run launcher."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from fedcore.audit import AuditEntry
from fedcore.runtime.ports import HubServices
from functions.api_app.auth import Caller
from functions.api_app.run_launcher import RunLauncher
from functions.api_app.settings import ApiSettings


@dataclass(frozen=True)
class ApiContext:
    services: HubServices
    settings: ApiSettings
    launcher: RunLauncher

    def audit_admin_action(self, caller: Caller, action: str, details: dict) -> AuditEntry:
        """Record an admin action under the caller's identity, once per API request."""
        return self.services.audit.append(
            caller.actor, action, f"api/{caller.request_id}/{action}", dict(details) | {"caller": caller.identity()})


def api_context(request: Request) -> ApiContext:
    return request.app.state.api_context
