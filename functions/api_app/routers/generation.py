"""POST /generate: synthetic rows from a published model, inline or as a presigned CSV download."""

# No "from __future__ import annotations": the request model is built at run time, so FastAPI must see
# the class itself in the signature, not a string.

import json
import uuid
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import Field, create_model

from fedcore.model.config import SamplingConfig
from fedcore.runtime import layout
from fedcore.runtime.generate import (
    ModelKindError, NoPublishedModelError, find_model_version, generate_from_version, serving_task,
)
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import read_schema
from functions.api_app.auth import Caller, require_researcher
from functions.api_app.context import ApiContext, api_context
from functions.api_app.errors import ApiError
from functions.api_app.schemas.common import error_responses
from functions.api_app.schemas.generation import DownloadLink, GenerateRequest, InlineRows
from functions.api_app.settings import ApiSettings


def generation_router(settings: ApiSettings) -> APIRouter:
    """The request model carries this deployment's row maximum, so the OpenAPI document states it."""
    request_model = create_model(
        "GenerateRequest", __base__=GenerateRequest,
        rows=(int, Field(ge=1, le=settings.max_rows, description=(
            f"rows to generate (at most {settings.max_rows}); above {settings.inline_row_limit} "
            "they come back as a CSV download link"))))
    router = APIRouter(tags=["generation"])

    @router.post(
        "/generate", response_model=InlineRows | DownloadLink, summary="Generate synthetic patients",
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                         "description": "rows inline (JSON or CSV), or a download link for large results"},
                   **error_responses(404, 409)})
    def generate(body: request_model, caller: Caller = Depends(require_researcher),  # type: ignore[valid-type]
                 ctx: ApiContext = Depends(api_context)):
        services = ctx.services
        record = _model_version(services, body.model_version)
        _check_against_model(services, record, body)
        sampling = SamplingConfig(sampler="ddim", steps=body.sampling_steps, cat_temperature=body.temperature)
        frame = generate_from_version(services, record, body.rows, sampling, body.seed, body.conditions)
        if body.rows <= ctx.settings.inline_row_limit:
            if body.format == "csv":
                return Response(frame.to_csv(index=False), media_type="text/csv",
                                headers={"X-Model-Version": record["version"]})
            return InlineRows(model_version=record["version"], rows=len(frame), columns=list(frame.columns),
                              data=json.loads(frame.to_json(orient="records")))
        return _download(services, ctx.settings, record["version"], frame.to_csv(index=False).encode(), len(frame))

    return router


def _model_version(services: HubServices, version: str | None) -> dict:
    if not services.runs.list_model_versions():
        raise ApiError(409, "no_published_model", "no model has been published yet; finish a training run first")
    try:
        record = find_model_version(services, version, serves="generate")
    except NoPublishedModelError as exc:
        if version is None:  # only predictive models are published so far
            raise ApiError(409, "no_published_model", str(exc)) from None
        raise ApiError(404, "model_version_not_found", f"no published model version {version!r}") from None
    try:
        serving_task(record, "generate")
    except ModelKindError as exc:
        raise ApiError(422, "model_does_not_generate", f"{exc}; use POST /predict") from None
    return record


def _check_against_model(services: HubServices, record: dict, body: GenerateRequest) -> None:
    family = record.get("family", "diffusion")
    if family == "marginal":  # sampling a graphical model has no temperature and no denoising steps
        defaults = GenerateRequest.model_fields
        meaningless = [name for name in ("temperature", "sampling_steps")
                       if getattr(body, name) != defaults[name].default]
        if meaningless:
            raise ApiError(422, "setting_not_used_by_model",
                           f"{', '.join(meaningless)} mean nothing to a {family} model; leave them at their defaults",
                           {name: f"only the default {defaults[name].default} is accepted" for name in meaningless})
        timesteps = body.sampling_steps
    else:
        timesteps = int(record["model"].get("timesteps", 0))
    if body.sampling_steps > timesteps:
        raise ApiError(422, "invalid_sampling_steps",
                       f"sampling_steps must be at most the model's {timesteps} timesteps")
    if not body.conditions:
        return
    categorical = {c.name: c for c in read_schema(services.blobs, record["run_id"]).categorical_columns}
    problems = {}
    for name, value in body.conditions.items():
        if name not in categorical:
            problems[name] = f"not a categorical column; these can be fixed: {sorted(categorical)}"
        elif str(value) not in {str(c) for c in categorical[name].categories}:
            problems[name] = f"{value!r} is not a category; categories are {list(categorical[name].categories)}"
    if problems:
        raise ApiError(422, "invalid_conditions", "conditions must fix categorical columns to their categories",
                       problems)


def _download(services: HubServices, settings: ApiSettings, version: str, csv: bytes, rows: int) -> DownloadLink:
    key = layout.synthetic_key(f"{version}/{uuid.uuid4().hex}")
    services.blobs.put(key, csv, content_type="text/csv")
    url = services.blobs.presigned_get(key, settings.presign_expiry_seconds)
    expires_at = datetime.now(timezone.utc) + timedelta(seconds=settings.presign_expiry_seconds)
    return DownloadLink(model_version=version, rows=rows, url=url, expires_in_seconds=settings.presign_expiry_seconds,
                        expires_at=expires_at, bytes=len(csv))
