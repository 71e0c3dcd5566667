"""Serve the research API on localhost for the sandbox (``python -m fedcore demo --serve``).

Deployed, API Gateway's Cognito authorizer vouches for callers. Locally there is none, so
this module stands in for it: two random bearer tokens, printed once, map to a synthetic
admin and researcher. It refuses to run where a deployed environment is detected (a Lambda,
ECS or Batch runtime) and binds to a loopback address only; ``functions.api`` never imports it.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.types import Scope

from fedcore.deployment_defaults import DEFAULT_DELTA, DeploymentDefaults
from fedcore.runtime.hub_reports import known_spokes
from fedcore.runtime.ports import HubServices
from functions.api_app.app import create_app
from functions.api_app.dashboard.shell import HOSTED_UI_SETTINGS
from functions.api_app.loopback import is_loopback_host
from functions.api_app.settings import ApiSettings, spoke_ids

logger = logging.getLogger(__name__)

DEPLOYED_MARKERS = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT",
                    "ECS_CONTAINER_METADATA_URI", "ECS_CONTAINER_METADATA_URI_V4", "AWS_BATCH_JOB_ID")
LOCAL_HOST = "127.0.0.1"


class DeployedEnvironmentError(RuntimeError):
    """The local authorizer was asked to run where it could face real traffic."""


def refuse_if_deployed(host: str, env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    found = [name for name in DEPLOYED_MARKERS if env.get(name)]
    if found:
        raise DeployedEnvironmentError(f"the local API server does not run in a deployed environment ({found} set)")
    if not is_loopback_host(host):
        raise DeployedEnvironmentError(f"the local API server binds to loopback addresses only, not {host!r}")


class LocalTokenAuthorizer:
    """``Authorization: Bearer <token>`` -> the claims registered for that token, else None."""

    def __init__(self, tokens: Mapping[str, Mapping[str, Any]], env: Mapping[str, str] | None = None) -> None:
        refuse_if_deployed(LOCAL_HOST, env)
        if not tokens or any(len(t) < 32 for t in tokens):
            raise ValueError("local tokens must be at least 32 characters")
        self._tokens = {t.encode(): dict(c) for t, c in tokens.items()}

    def __call__(self, scope: Scope) -> Mapping[str, Any] | None:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, presented = header.partition(b" ")
        if scheme.lower() != b"bearer" or not presented:
            return None
        match = None
        for token, claims in self._tokens.items():  # compare with every token, in constant time each
            if hmac.compare_digest(token, presented.strip()):
                match = claims
        return match


def local_tokens() -> dict[str, dict]:
    """Fresh tokens for a synthetic admin and researcher, shaped like Cognito claims."""
    return {
        secrets.token_urlsafe(32): {"sub": "local-admin", "cognito:username": "local-admin",
                                    "cognito:groups": "admin"},
        secrets.token_urlsafe(32): {"sub": "local-researcher", "cognito:username": "local-researcher",
                                    "cognito:groups": "researcher"},
    }


def dashboard_link(host: str, port: int, token: str) -> str:
    """The dashboard with ``token`` in the URL fragment: the page reads it, keeps it in memory and clears it."""
    return f"http://{host}:{port}/dashboard#token={token}"


def serve_local(services: HubServices | None, state_machine_arn: str, port: int, sfn_client=None, *,
                spokes: list[str] | None = None, host: str = LOCAL_HOST, report: Path | None = None,
                function_environment: Mapping[str, str] | None = None) -> None:
    """Serve until interrupted. ``spokes`` default to SPOKE_IDS when set, else the hospitals of recorded runs.
    ``report``: the demo's report.json, served read-only as GET /sandbox/report (this server only).
    ``function_environment``: the API function's environment to serve with, set in this process. Its Cognito
    hosted UI settings are left out (this server signs in with its own tokens); ones this process already has
    (a stand-in hosted UI) stay.

    ``services`` None: the API function's own adapters from the environment (its tables, bucket, key and
    role credentials), as the deployed function builds them; the sandbox's ``demo --serve`` does this.
    """
    import uvicorn  # the Lambda image never needs it

    refuse_if_deployed(host)
    if function_environment is not None:
        os.environ.update({k: v for k, v in function_environment.items() if k not in HOSTED_UI_SETTINGS})
    if services is None:
        import boto3

        from functions.hub_environment import step_services

        boto3.setup_default_session()  # credentials as the environment now says (an earlier session caches its own)
        services = step_services("api")
    tokens = local_tokens()
    env = os.environ  # the sandbox sets the hub functions' DELTA, ROUNDS and QUORUM; follow them when present
    defaults = DeploymentDefaults.from_env({"DELTA": str(DEFAULT_DELTA), **env})
    settings = ApiSettings(
        state_machine_arn=state_machine_arn, spokes=tuple(spokes or _local_spokes(services)),
        delta=defaults.delta, accountant=defaults.accountant, default_rounds=defaults.rounds,
        default_quorum=defaults.quorum)
    if not hasattr(services.blobs, "presigned_get"):  # no S3 to link to: every result comes back inline
        settings = replace(settings, inline_row_limit=settings.max_rows)
    app = create_app(services, settings, sfn_client=sfn_client, authorizer=LocalTokenAuthorizer(tokens))
    if report is not None:  # real-versus-synthetic scores exist only in the sandbox, which holds real rows
        from functions.api_app.routers.sandbox_report import sandbox_report_router

        app.include_router(sandbox_report_router(report))
    by_role = {claims["cognito:groups"]: token for token, claims in tokens.items()}
    # The CLI's user needs these on the terminal; they are valid only for this process.
    print(f"Research API on http://{host}:{port}  (docs: http://{host}:{port}/docs)", flush=True)
    print(f"  admin token:      {by_role['admin']}", flush=True)
    print(f"  researcher token: {by_role['researcher']}", flush=True)
    print(f"  e.g. curl -H 'Authorization: Bearer {by_role['researcher']}' http://{host}:{port}/models", flush=True)
    # the token rides in the fragment, which a browser never sends to a server (a query string would be logged)
    print("Dashboard login links (each holds its token: keep them private):", flush=True)
    for role in ("researcher", "admin"):
        print(f"  {role + ':':<12}{dashboard_link(host, port, by_role[role])}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _local_spokes(services: HubServices) -> list[str]:
    if os.environ.get("SPOKE_IDS"):
        return list(spoke_ids(os.environ["SPOKE_IDS"]))
    spokes = known_spokes(services, [])
    if not spokes:
        raise ValueError("no hospitals known: pass spokes, set SPOKE_IDS, or train a run first")
    return spokes
