"""``create_app``: the research API over any ``HubServices`` (DynamoDB/S3, moto, or in memory)."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from fedcore.runtime.ports import HubServices
from functions.api_app.auth import Authorizer, AuthMiddleware, cognito_event_claims
from functions.api_app.body_limit import BodySizeLimitMiddleware
from functions.api_app.context import ApiContext
from functions.api_app.dashboard import DashboardMiddleware, DashboardSettings, caller_router
from functions.api_app.errors import install_error_handlers
from functions.api_app.offline_docs import mount_offline_docs
from functions.api_app.routers import (
    audit_log, clients_metrics, health, model_card, model_versions, prediction, privacy_budget, runs,
)
from functions.api_app.routers.generation import generation_router
from functions.api_app.run_launcher import RunLauncher
from functions.api_app.schemas.common import error_responses
from functions.api_app.settings import ApiSettings
from functions.api_app.strict_query import reject_unknown_query_parameters

DESCRIPTION = """Synthetic patients from models that hospitals trained together with differential privacy.

Every route but `/health` needs a Cognito identity (API Gateway checks the token); admin routes
need the `admin` group, the others `researcher` or `admin`. Errors are
`{"error": {"code", "message", "details"}}` with a stable, machine-readable `code`."""


def create_app(services: HubServices, settings: ApiSettings, sfn_client=None,
               authorizer: Authorizer = cognito_event_claims) -> FastAPI:
    """``authorizer`` maps a request's ASGI scope to its caller's claims; the default reads the
    API Gateway Cognito authorizer's claims from the Lambda event and nothing else."""
    if settings.inline_row_limit < settings.max_rows and not hasattr(services.blobs, "presigned_get"):
        raise ValueError("results above the inline limit are served by presigned URL, which this blob store "
                         "cannot make; use S3 or set inline_row_limit to max_rows")
    app = FastAPI(title="FedCore research API", version="1.0.0", description=DESCRIPTION,
                  dependencies=[Depends(reject_unknown_query_parameters)],
                  docs_url=None, redoc_url=None)  # served by mount_offline_docs, without a CDN
    mount_offline_docs(app)
    app.state.api_context = ApiContext(services, settings, RunLauncher(settings, sfn_client))
    install_error_handlers(app)
    app.include_router(health.router, responses=error_responses(413, 422))
    protected = error_responses(400, 401, 403, 413, 422)
    for router in (generation_router(settings), prediction.router, model_versions.router, model_card.router,
                   runs.router, privacy_budget.router, audit_log.router, clients_metrics.router, caller_router):
        app.include_router(router, responses=protected)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes,
                       allowances=(prediction.image_body_allowance(settings),))  # images to /predict: their own limit
    app.add_middleware(AuthMiddleware, authorizer=authorizer)  # added late: runs early, so 401 precedes all else
    # the dashboard's page shell and static files need no token (a navigation carries none) and hold no data
    app.add_middleware(DashboardMiddleware, settings=DashboardSettings.from_env())
    return app
