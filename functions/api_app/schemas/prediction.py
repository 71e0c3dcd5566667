"""POST /predict (rows as JSON; images are binary bodies) and a model card (GET /models/{version}): the bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.api_app.schemas.common import VERSION_PATTERN, RequestBody

MAX_TIMES = 200  # as fedcore.runtime.predict checks; the body limit bounds the rows
Cell = int | float | str | None  # a row's value; null (or a missing key) is a missing value


class PredictRequest(RequestBody):
    version: str = Field(pattern=VERSION_PATTERN, description="a published risk or survival model version")
    rows: list[dict[str, Cell]] = Field(
        min_length=1, description="rows to predict for: feature column -> value; label and excluded columns are "
                                  "ignored, a missing key or null is a missing value")
    times: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(
        None, min_length=1, max_length=MAX_TIMES,
        description="survival only: times at which to give S(t); default: the model's time grid")


class Predictions(BaseModel):
    version: str
    task: str = Field(description="risk, survival or image")
    columns: list[str] = Field(description="risk and image: p_<class> per class in schema (spec) order; survival: "
                                           "s_<time> per time")
    predictions: list[dict[str, float]] = Field(description="one object per input row or image, in order")


class PrivacySummary(BaseModel):
    dp: bool
    epsilon_per_hospital: dict[str, float]
    delta: float | None
    max_epsilon: float | None


class CardVersion(BaseModel):
    """The published version record, less the hub's storage keys; a task may add fields."""

    model_config = ConfigDict(extra="allow")

    version: str
    run_id: str
    round: int
    created_at: str
    task: str = "synthesis"
    family: str | None = None
    model: dict[str, Any]
    metrics: dict[str, Any] | None = Field(None, description="predictive: federated validation metrics (noisy counts)")
    fairness: dict[str, Any] | None = Field(None, description="predictive: per-group report of each sensitive column")
    epsilon: dict[str, float] = Field(description="epsilon per hospital when it was published")
    delta: float | None = None


class ModelCard(BaseModel):
    """Exactly the ``model_card.json`` of the version's directory (GET /models/{version}/download)."""

    format: int
    task: str
    serves: Literal["generate", "predict"]
    version: CardVersion
    privacy: PrivacySummary
    sha256: dict[str, str] = Field(description="SHA-256 of each file of the model directory, checked on load")
