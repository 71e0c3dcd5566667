"""GET /models/{version} (its model card), GET /models/{version}/download (its model directory as a zip) and
GET /models/{version}/measurements (the DP measurements behind a synthesis version).

The card and the zip are built from the same files ``simulate`` writes as ``DIR/model``
(``fedcore.runtime.model_directory``): unzipped, the directory loads with its SHA-256 check and serves
``python -m fedcore generate`` or ``predict``. Neither names the hub's storage keys.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from fedcore.runtime.generate import ModelKindError, NoPublishedModelError, find_model_version
from fedcore.runtime.measurements import dp_measurements
from fedcore.runtime.model_directory import model_card, model_directory_zip
from functions.api_app.auth import require_researcher
from functions.api_app.context import ApiContext, api_context
from functions.api_app.errors import ApiError
from functions.api_app.schemas.common import VERSION_PATTERN, error_responses
from functions.api_app.schemas.measurements import Measurements
from functions.api_app.schemas.prediction import ModelCard

router = APIRouter(tags=["models"], dependencies=[Depends(require_researcher)])
Version = Path(pattern=VERSION_PATTERN, description="a published model version")


@router.get("/models/{version}", response_model=ModelCard, summary="A model version's card",
            responses=error_responses(404))
def get_model_card(version: str = Version, ctx: ApiContext = Depends(api_context)) -> dict:
    """Task, what it serves, the version record (metrics and fairness of a predictive task, epsilon per hospital),
    and the SHA-256 of each file of the model directory: exactly the zip's `model_card.json`."""
    return model_card(ctx.services, _record(ctx, version))


@router.get("/models/{version}/download", response_class=Response, summary="A model version as a zip",
            responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "the model directory (weights, encoder, schema, model card) as a zip"},
                       **error_responses(404)})
def download_model(version: str = Version, ctx: ApiContext = Depends(api_context)) -> Response:
    """The model directory under `<version>/`: unzipped, `python -m fedcore predict` (or `generate`) loads it
    after checking every file's SHA-256 against its card."""
    record = _record(ctx, version)
    return Response(model_directory_zip(ctx.services, record), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{record["version"]}.zip"'})


@router.get("/models/{version}/measurements", response_model=Measurements,
            summary="A synthesis version's DP measurements", responses=error_responses(404, 422))
def get_measurements(version: str = Version, ctx: ApiContext = Depends(api_context)) -> dict:
    """The merged noisy setup histograms (and the marginal family's measured 2-way tables where stored) that
    the version was fitted to: post-processing of the hospitals' DP releases, so serving them costs no privacy.
    Nothing exact, nothing per hospital; what the hub does not store is null with its reason."""
    try:
        return dp_measurements(ctx.services, _record(ctx, version))
    except ModelKindError as exc:
        raise ApiError(422, "model_does_not_generate", f"{exc}; measurements belong to synthesis models") from None


def _record(ctx: ApiContext, version: str) -> dict:
    try:
        return find_model_version(ctx.services, version)
    except NoPublishedModelError:
        raise ApiError(404, "model_version_not_found", f"no published model version {version!r}") from None
