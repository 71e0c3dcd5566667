"""POST /runs, GET /runs, GET /runs/{id}, POST /runs/{id}/stop."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainValidator

from fedcore.datasets import BUILTIN_SCHEMAS
from fedcore.run_config import (
    AGGREGATION_STRATEGIES, DEFAULT_FAMILY, DiffusionModelSettings, HybridModelSettings, MarginalModelSettings,
    TrainingSettings,
)
from fedcore.schema import Schema
from fedcore.training.config import RunMixedPrecision
from fedcore.tasks.settings import TaskSettings
from functions.api_app.schemas.common import ID_PATTERN, RequestBody


def _model_object(value: Any) -> dict[str, Any]:
    """The object as sent: RunConfig checks it with the rest of the run (as InitRun will), so a bad
    setting gets the run's own message and an invalid_run_config error."""
    if not isinstance(value, dict):
        raise ValueError("model must be an object")
    return value


# Documented as its variants (anyOf, not a discriminated oneOf: ``family`` may be left out).
ModelObject = Annotated[dict[str, Any], PlainValidator(
    _model_object, json_schema_input_type=DiffusionModelSettings | MarginalModelSettings | HybridModelSettings)]


TaskObject = Annotated[dict[str, Any], PlainValidator(_model_object, json_schema_input_type=TaskSettings)]


class RunStartRequest(RequestBody):
    """A run's settings; anything left out takes the deployment's (then RunConfig's) default."""

    run_id: str | None = Field(None, pattern=ID_PATTERN, description="default: generated from the time")
    rounds: int | None = Field(None, ge=1, le=1000)
    quorum: int | None = Field(None, ge=1, le=1000)
    spokes: list[str] | None = Field(None, min_length=1, max_length=100,
                                     description="the hospitals to train with; default and today: all of them")
    target_epsilon: float | None = Field(None, gt=0, le=100, description="per hospital, over the whole run")
    strategy: Literal[AGGREGATION_STRATEGIES] | None = None  # type: ignore[valid-type]
    strategy_params: dict[str, int | float] | None = Field(
        None, max_length=16, description="the strategy's own parameters, e.g. {\"proximal_mu\": 0.01} for fedprox, "
                                         "{\"num_malicious_clients\": 1} for krum; unknown names are refused")
    epochs_per_round: int | None = Field(None, ge=1, le=1000, description=(
        f"local epochs per round at each hospital (default {TrainingSettings().epochs})"))
    batch_size: int | None = Field(None, ge=1, le=1_000_000, description=(
        f"expected DP-SGD batch, capped at a hospital's rows (default {TrainingSettings().batch_size})"))
    mixed_precision: RunMixedPrecision | None = Field(None, description=(
        "predictive and image tasks: \"auto\" (default) trains under bfloat16 autocast on hospitals' GPUs that "
        "support it and in float32 elsewhere; \"off\": float32 everywhere"))
    model: ModelObject | None = Field(None, description=(
        "the model family's settings, by family: diffusion takes the denoiser's settings, e.g. "
        "{\"family\": \"diffusion\", \"hidden_dim\": 128}; marginal takes {\"marginal\": {...}}; hybrid takes both "
        f"and {{\"pretrain\": {{...}}}}. Without family: {DEFAULT_FAMILY} (runs started here use DP)"))
    table_schema: Literal[BUILTIN_SCHEMAS] | Schema = Field(  # type: ignore[valid-type]
        "healthcare", alias="schema", description="a built-in schema name or a schema object")
    task: TaskObject | None = Field(None, description=(
        "what the run trains: {\"name\": \"synthesis\"} (default), {\"name\": \"risk\", \"target\": \"cens\", "
        "\"exclude\": [\"days\"]}, {\"name\": \"survival\", \"time\": \"days\", \"event\": \"cens\"} or "
        "{\"name\": \"image\", \"image\": {\"size\": 224, \"channels\": 1, \"classes\": [\"negative\", "
        "\"positive\"]}} (no schema: the image spec replaces it), with the predictive tasks' settings (evaluation, "
        "early_stopping_patience, hidden_dim, ...) and compute (\"cpu\" or \"gpu\": the hospitals' Batch queue)"))


class RunStarted(BaseModel):
    run_id: str
    status: Literal["STARTING"] = "STARTING"
    execution_arn: str
    console_url: str
    config: dict[str, Any]


class RunSummary(BaseModel):
    run_id: str
    status: str
    current_round: int
    rounds: int | None
    spokes: list[str]
    created_at: str | None
    finished_at: str | None = None
    model_version: str | None = None
    epsilon: dict[str, float] = Field(default_factory=dict, description="per hospital, latest known")


class RunList(BaseModel):
    runs: list[RunSummary]
    next_offset: int | None


class RoundMetrics(BaseModel):
    run_id: str
    round: int
    loss: float | None = Field(None, description="mean training loss; null in DP runs (an exact loss is not "
                                                 "released by a hospital under DP)")
    spokes: list[str] = Field(default_factory=list, description="hospitals whose update was aggregated")
    rejected: dict[str, str] = Field(default_factory=dict, description="hospital -> why its update was refused")
    failed: list[str] = Field(default_factory=list, description="hospitals whose training job failed")
    bytes_in: int | None = None
    bytes_out: int | None = None
    aggregate_seconds: float | None = None
    round_seconds: float | None = None
    epsilon: dict[str, float] = Field(default_factory=dict, description="per hospital, after this round")
    kind: str | None = Field(None, description="what the round released: train, evaluate, select, measure")
    validation: dict[str, Any] | None = Field(None, description=(
        "predictive tasks: the federated validation metrics of the model received this round (model_round), "
        "summed from every hospital's noisy counts: never an exact per-hospital number"))
    stopped_early: bool | None = None


class RunDetail(RunSummary):
    execution_status: str | None = Field(None, description="the Step Functions execution's own status")
    error: str | None = None
    config: dict[str, Any] | None
    metrics: list[RoundMetrics]


class RunStopped(BaseModel):
    run_id: str
    execution_arn: str
    status: str = Field(description="the execution's status after the stop request, e.g. ABORTED")
