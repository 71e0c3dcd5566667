"""POST /predict: a risk or survival model's predictions for rows sent as JSON or CSV, or an image
model's for images sent as one PNG or an .npz.

Rows and images are patient data: nothing here logs them, and errors name a column and a row number,
or a file or key, never a value or a pixel (``fedcore.runtime.predict``). Image bodies have their own
size limit (``image_body_allowance``); API Gateway must pass them as binary media types.
"""

from __future__ import annotations

import json

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from fedcore.runtime.generate import ModelKindError, NoPublishedModelError, find_model_version, serving_task
from fedcore.runtime.predict import (
    MAX_IMAGES, PNG_SIGNATURE, ImageInputError, ModelInputKindError, PredictionInputError, PredictionTimesError,
    predict_from_version, predict_images_from_version,
)
from fedcore.table import TableError, read_csv_bytes
from functions.api_app.auth import require_researcher
from functions.api_app.body_limit import BodyAllowance
from functions.api_app.context import ApiContext, api_context
from functions.api_app.errors import ApiError
from functions.api_app.schemas.common import VERSION_PATTERN, error_responses
from functions.api_app.schemas.prediction import PredictRequest, Predictions
from functions.api_app.settings import ApiSettings

PATH = "/predict"
IMAGE_MEDIA_TYPES = ("image/png", "application/x-npz")  # binary media types in API Gateway too
router = APIRouter(tags=["prediction"])
_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": PredictRequest.model_json_schema()},
    "text/csv": {"schema": {"type": "string", "description": "a header row of column names, then one row per "
                                                            "patient; an empty cell is a missing value"}},
    "image/png": {"schema": {"type": "string", "format": "binary",
                             "description": "image models: one PNG image (grayscale or RGB, 8 or 16 bit)"}},
    "application/x-npz": {"schema": {"type": "string", "format": "binary", "description":
                                     f"image models: an .npz (numpy.savez) whose 'images' array is uint8 (N,H,W), "
                                     f"(N,H,W,C) or (N,C,H,W) with C 1 or 3; at most {MAX_IMAGES} images"}},
}}}


def image_body_allowance(settings: ApiSettings) -> BodyAllowance:
    """Image bodies of POST /predict may be larger than other bodies: up to ``max_image_body_bytes``."""
    return BodyAllowance("POST", PATH, frozenset(IMAGE_MEDIA_TYPES), settings.max_image_body_bytes)


@router.post(PATH, response_model=Predictions, summary="Predict with a risk, survival or image model",
             dependencies=[Depends(require_researcher)], openapi_extra=_BODY, responses=error_responses(404, 415))
async def predict(
    request: Request, ctx: ApiContext = Depends(api_context),
    version: str | None = Query(None, pattern=VERSION_PATTERN,
                                description="text/csv and image bodies only: the model version"),
    times: str | None = Query(None, pattern=r"^[0-9.eE+-]+(,[0-9.eE+-]+)*$",
                              description="text/csv bodies only: survival times, comma-separated"),
) -> Predictions:
    """Rows as JSON (`{"version", "rows": [{column: value}], "times"?}`) or as CSV text (`Content-Type: text/csv`,
    `?version=` and `?times=`). Label and excluded columns are ignored; an empty cell, null or a missing key is a
    missing value. A column the schema lacks or a value it does not allow is a 422 `invalid_rows` whose details
    name the column and the row (counted from 1, the CSV header not counted), never the value.

    Images, for an image model, as one PNG (`Content-Type: image/png`) or an .npz (`application/x-npz`), with
    `?version=`: one prediction per image, in the .npz's order. An image that cannot be read is a 422
    `invalid_images` naming the problem; images sent to a table model are a 422 `model_does_not_take_images`,
    rows sent to an image model a 422 `model_does_not_take_rows`."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    frame = images = time_list = None
    if media_type == "application/json":
        if version is not None or times is not None:
            raise ApiError(422, "invalid_request", "with a JSON body, give version and times in the body")
        parsed = _json_request(body)
        frame, version, time_list = _rows_frame(parsed.rows), parsed.version, parsed.times
    elif media_type == "text/csv":
        if version is None:
            raise ApiError(422, "invalid_request", "with a CSV body, give the model version as ?version=")
        frame, time_list = _csv_rows(body), _times(times)
    elif media_type in IMAGE_MEDIA_TYPES:
        if version is None or times is not None:
            raise ApiError(422, "invalid_request", "with an image body, give the model version as ?version= "
                                                   "(and no times: an image model gives class probabilities)")
        images = _image_body(media_type, body)
    else:
        raise ApiError(415, "unsupported_media_type", "send rows as application/json or text/csv, or images as "
                                                      "image/png or application/x-npz")
    record = _predictive_version(ctx, version)
    predictions = await _predictions(ctx, record, frame, time_list, images)
    return Predictions(version=record["version"], task=record["task"], columns=list(predictions.columns),
                       predictions=predictions.to_dict(orient="records"))


async def _predictions(ctx: ApiContext, record: dict, frame: pd.DataFrame | None, times: list[float] | None,
                       images: bytes | None) -> pd.DataFrame:
    """The runtime's predictions for rows or images, its refusals as API errors."""
    try:
        if images is not None:
            return await run_in_threadpool(predict_images_from_version, ctx.services, record, images)
        return await run_in_threadpool(predict_from_version, ctx.services, record, frame, times)
    except ModelInputKindError as exc:
        code = "model_does_not_take_images" if images is not None else "model_does_not_take_rows"
        raise ApiError(422, code, str(exc)) from None
    except ImageInputError as exc:  # names the image's problem (file, key, shape), never a pixel
        raise ApiError(422, "invalid_images", str(exc)) from None
    except PredictionTimesError as exc:
        raise ApiError(422, "invalid_times", str(exc)) from None
    except PredictionInputError as exc:
        raise ApiError(422, "invalid_rows", str(exc), [p.to_dict() for p in exc.problems]) from None


def _image_body(media_type: str, body: bytes) -> bytes:
    """The body, unless its bytes contradict its media type (the reader tells a PNG from an .npz by them)."""
    is_png = body.startswith(PNG_SIGNATURE)
    if media_type == "image/png" and not is_png:
        raise ApiError(422, "invalid_images", "the image/png body is not a PNG image (no PNG signature)")
    if media_type == "application/x-npz" and is_png:
        raise ApiError(422, "invalid_images", "the application/x-npz body is a PNG image; send it as image/png")
    return body


def _json_request(body: bytes) -> PredictRequest:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]) \
            from None
    try:
        return PredictRequest.model_validate(data)
    except ValidationError as exc:  # the handler keeps location, message and type: never the input value
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def _rows_frame(rows: list[dict]) -> pd.DataFrame:
    """A key missing from some rows is a missing value in those rows."""
    return pd.DataFrame.from_records(rows)


def _csv_rows(body: bytes) -> pd.DataFrame:
    try:
        return read_csv_bytes(body, "the CSV body")
    except TableError as exc:  # names the body and the header's problem, not a row's values
        raise ApiError(422, "invalid_csv", str(exc)) from None


def _times(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise ApiError(422, "invalid_times", "times must be numbers separated by commas") from None


def _predictive_version(ctx: ApiContext, version: str) -> dict:
    try:
        record = find_model_version(ctx.services, version)
    except NoPublishedModelError:
        raise ApiError(404, "model_version_not_found", f"no published model version {version!r}") from None
    try:
        serving_task(record, "predict")
    except ModelKindError as exc:
        raise ApiError(422, "model_does_not_predict", f"{exc}; use POST /generate") from None
    return record
