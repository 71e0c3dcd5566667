"""GET /clients and GET /metrics/history: the hospitals and their rounds, read-only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from fedcore.runtime.hub_reports import client_report, known_spokes, round_history
from functions.api_app.auth import require_researcher
from functions.api_app.context import ApiContext, api_context
from functions.api_app.errors import ApiError
from functions.api_app.schemas.common import ID_PATTERN, error_responses
from functions.api_app.schemas.history import Client, ClientList, MetricsPage
from functions.api_app.schemas.runs import RoundMetrics

router = APIRouter(dependencies=[Depends(require_researcher)])


@router.get("/clients", response_model=ClientList, tags=["clients"],
            summary="Hospitals with status, last round seen and participation rate")
def list_clients(ctx: ApiContext = Depends(api_context)) -> ClientList:
    spokes = known_spokes(ctx.services, ctx.settings.spokes)
    return ClientList(clients=[Client(**row) for row in client_report(ctx.services, spokes)])


@router.get("/metrics/history", response_model=MetricsPage, tags=["runs"], responses=error_responses(404),
            summary="Per-round metrics, oldest run first")
def metrics_history(
    run_id: str | None = Query(None, pattern=ID_PATTERN, description="only this run"),
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(100, ge=1, le=500),
    ctx: ApiContext = Depends(api_context),
) -> MetricsPage:
    if run_id is not None and ctx.services.runs.get_run(run_id) is None:
        raise ApiError(404, "run_not_found", f"no run {run_id!r}")
    history = round_history(ctx.services, run_id)
    page = history[offset:offset + limit]
    return MetricsPage(metrics=[RoundMetrics(**m) for m in page],
                       next_offset=offset + limit if offset + limit < len(history) else None)
