"""Training runs: start and stop (admin), list and inspect (researcher)."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Depends, Path, Query
from pydantic import ValidationError

from fedcore.deployment_defaults import DeploymentDefaults
from fedcore.run_config import RunConfig
from fedcore.tasks.image.spec import image_schema
from functions.api_app.auth import Caller, require_admin, require_researcher
from functions.api_app.context import ApiContext, api_context
from functions.api_app.errors import ApiError
from functions.api_app.run_launcher import ExecutionExistsError, ExecutionNotFoundError
from functions.api_app.schemas.common import ID_PATTERN, error_responses
from functions.api_app.schemas.runs import (
    RoundMetrics, RunDetail, RunList, RunStartRequest, RunStarted, RunStopped, RunSummary,
)

logger = logging.getLogger(__name__)
router = APIRouter(tags=["runs"])
RunId = Path(pattern=ID_PATTERN, description="the run id (also its Step Functions execution name)")
_ENDED = ("ABORTED", "FAILED", "TIMED_OUT")  # execution ended without the round loop's Finalize


@router.post("/runs", response_model=RunStarted, status_code=202, summary="Start a training run (admin)",
             responses=error_responses(409))
def start_run(body: RunStartRequest, caller: Caller = Depends(require_admin),
              ctx: ApiContext = Depends(api_context)) -> RunStarted:
    settings = ctx.settings
    spokes = body.spokes or list(settings.spokes)
    unknown = sorted(set(spokes) - set(settings.spokes))
    if unknown:
        raise ApiError(422, "unknown_spokes", f"not hospitals of this deployment: {unknown}", list(settings.spokes))
    if set(spokes) != set(settings.spokes):
        raise ApiError(422, "spoke_subset_unsupported",
                       "runs train with every hospital of the deployment; leave spokes out or list them all")
    run_id = body.run_id or _new_run_id()
    config = _run_config(body, settings.defaults)
    if config.quorum > len(spokes):
        raise ApiError(422, "invalid_run_config", f"quorum {config.quorum} exceeds the {len(spokes)} hospitals")
    # StartExecution returns a running execution of the same name and input instead of failing: look first.
    if ctx.services.runs.get_run(run_id) is not None or ctx.launcher.describe(run_id) is not None:
        raise ApiError(409, "run_exists", f"run {run_id!r} already exists")
    sent = config.model_dump(mode="json") | {"schema": _run_schema(body, config)}  # the run id travels beside it
    try:
        execution_arn = ctx.launcher.start(run_id, sent)
    except ExecutionExistsError:
        raise ApiError(409, "run_exists", f"run {run_id!r} already exists") from None
    ctx.audit_admin_action(caller, "run.start_requested",
                           {"run_id": run_id, "execution_arn": execution_arn, "config": sent})
    return RunStarted(run_id=run_id, execution_arn=execution_arn, console_url=ctx.launcher.console_url(execution_arn),
                      config=sent)


@router.get("/runs", response_model=RunList, summary="Runs, newest first", dependencies=[Depends(require_researcher)])
def list_runs(offset: int = Query(0, ge=0, le=1_000_000), limit: int = Query(20, ge=1, le=100),
              ctx: ApiContext = Depends(api_context)) -> RunList:
    runs = sorted(ctx.services.runs.list_runs(), key=lambda r: (r.get("created_at", ""), r["run_id"]), reverse=True)
    page = runs[offset:offset + limit]
    return RunList(runs=[_summary(r, r.get("status", "UNKNOWN")) for r in page],
                   next_offset=offset + limit if offset + limit < len(runs) else None)


@router.get("/runs/{run_id}", response_model=RunDetail, summary="One run with its per-round metrics",
            responses=error_responses(404), dependencies=[Depends(require_researcher)])
def get_run(run_id: str = RunId, ctx: ApiContext = Depends(api_context)) -> RunDetail:
    record = ctx.services.runs.get_run(run_id)
    execution = _describe(ctx, run_id)
    if record is None and execution is None:
        raise ApiError(404, "run_not_found", f"no run {run_id!r}")
    execution_status = execution["status"] if execution else None
    if record is None:  # started, but InitRun has not recorded it (yet, or ever)
        status = "STARTING" if execution_status == "RUNNING" else execution_status
        return RunDetail(run_id=run_id, status=status, current_round=0, rounds=None, spokes=[], created_at=None,
                         execution_status=execution_status, config=None, metrics=[])
    status = record.get("status", "UNKNOWN")
    if status == "RUNNING" and execution_status in _ENDED:
        status = execution_status
    metrics = [RoundMetrics(**m) for m in ctx.services.runs.list_rounds(run_id)]
    summary = _summary(record, status, metrics[-1].epsilon if metrics else {})
    return RunDetail(**summary.model_dump(), execution_status=execution_status, error=record.get("error"),
                     config=record.get("config"), metrics=metrics)


@router.post("/runs/{run_id}/stop", response_model=RunStopped, summary="Stop a running run (admin)",
             responses=error_responses(404, 409))
def stop_run(run_id: str = RunId, caller: Caller = Depends(require_admin),
             ctx: ApiContext = Depends(api_context)) -> RunStopped:
    execution = ctx.launcher.describe(run_id)
    if execution is None:
        raise ApiError(404, "run_not_found", f"no execution for run {run_id!r}")
    if execution["status"] != "RUNNING":
        raise ApiError(409, "run_not_running", f"run {run_id!r} is {execution['status']}, not RUNNING")
    try:
        status = ctx.launcher.stop(run_id, cause=f"stopped by {caller.actor} through the research API")
    except ExecutionNotFoundError:
        raise ApiError(404, "run_not_found", f"no execution for run {run_id!r}") from None
    ctx.audit_admin_action(caller, "run.stop_requested",
                           {"run_id": run_id, "execution_arn": execution["executionArn"], "status": status})
    return RunStopped(run_id=run_id, execution_arn=execution["executionArn"], status=status)


def _new_run_id() -> str:
    return f"run-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _run_schema(body: RunStartRequest, config: RunConfig) -> str | dict:
    """The schema the run records: the request's table schema, or an image run's, derived from task.image."""
    if config.task.name == "image":
        if "table_schema" in body.model_fields_set:
            raise ApiError(422, "invalid_run_config", "an image run has no table schema: its classes, size and "
                                                      "channels are task.image")
        return image_schema(config.task.image_spec).to_dict()
    return body.table_schema if isinstance(body.table_schema, str) else body.table_schema.to_dict()


def _run_config(body: RunStartRequest, defaults: DeploymentDefaults) -> RunConfig:
    """The request over the deployment's defaults (applied as InitRun applies them), validated as InitRun will."""
    training = {"epochs": body.epochs_per_round, "batch_size": body.batch_size, "mixed_precision": body.mixed_precision}
    fields = {"rounds": body.rounds, "quorum": body.quorum, "strategy": body.strategy,
              "strategy_params": body.strategy_params, "model": body.model, "task": body.task,
              "training": {k: v for k, v in training.items() if v is not None} or None}
    config = {k: v for k, v in fields.items() if v is not None}
    config["privacy"] = {"target_epsilon": body.target_epsilon} if body.target_epsilon else {}
    try:  # strict: JSON's own types, as for the rest of the request body
        return RunConfig.model_validate(defaults.apply(config), strict=True)
    except ValidationError as exc:
        details = [{"location": [str(p) for p in e["loc"]], "message": e["msg"]} for e in exc.errors()]
        first = details[0]
        where = ".".join(first["location"]) or "run"
        raise ApiError(422, "invalid_run_config", f"the run settings are not valid: {where}: {first['message']}",
                       details) from None
    except (ValueError, TypeError) as exc:  # a check raising outside pydantic's validation is refused alike
        raise ApiError(422, "invalid_run_config", f"the run settings are not valid: {exc}") from None


def _summary(record: dict, status: str, latest_epsilon: dict | None = None) -> RunSummary:
    config = record.get("config") or {}
    return RunSummary(run_id=record["run_id"], status=status, current_round=record.get("current_round", 0),
                      rounds=config.get("rounds"), spokes=record.get("spokes", []), created_at=record.get("created_at"),
                      finished_at=record.get("finished_at"), model_version=record.get("model_version"),
                      epsilon=record.get("epsilon") or latest_epsilon or {})


def _describe(ctx: ApiContext, run_id: str) -> dict | None:
    """The execution's description; None when Step Functions cannot say (the run record still answers)."""
    try:
        return ctx.launcher.describe(run_id)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("could not describe the execution of run %s: %s", run_id, exc)
        return None
