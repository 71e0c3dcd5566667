"""A run's ``task``: what it trains (DESIGN.md section 1) and the predictive tasks' settings.

``synthesis`` trains a model family (``RunConfig.model``); ``risk`` and ``survival`` train a
residual MLP with DP-SGD and score it every round by federated evaluation from noisy counts.
Which columns the task reads is checked against the run's schema by the task itself
(``fedcore.tasks.registry.check_task_schema``), before any privacy is spent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fedcore.tasks.image.spec import ImageSpec, JsonTuple
from fedcore.tasks.registry import TASK_NAMES

PREDICTIVE_ONLY = ("target", "exclude", "time", "event", "positive", "hidden_dim", "blocks", "time_bins",
                   "evaluation", "early_stopping_patience", "image")
TABULAR_ONLY = ("target", "exclude", "time", "event", "positive", "hidden_dim", "blocks", "time_bins")
ComputeClass = Literal["cpu", "gpu"]


class EvaluationSettings(BaseModel):
    """Each hospital's federated evaluation: a local validation split, scored and released with noise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    validation_share: float = Field(0.2, gt=0, le=0.5)  # of each hospital's rows, kept out of its training
    # public cap on the validation rows a hospital scores: it bounds the survival pair counts' sensitivity
    # (one row is in at most max_validation_rows - 1 pairs) and is the same for every hospital
    max_validation_rows: int = Field(300, ge=10, le=5000)
    epsilon_share: float = Field(0.2, gt=0, lt=0.5)  # of the run's target epsilon, over every evaluation release
    score_bins: int = Field(8, ge=2, le=100)  # bins of the predicted-score histograms (AUC, calibration)


class TaskSettings(BaseModel):
    """``task: {name, target, exclude, time, event, ...}``; the predictive settings mean nothing to synthesis."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal[TASK_NAMES] = "synthesis"  # type: ignore[valid-type]
    target: str | None = None  # risk: the class column (default: the schema's target)
    exclude: JsonTuple = ()  # columns that are neither features nor labels (e.g. days when predicting cens)
    time: str | None = None  # survival: days to event or censoring (default: the schema's target)
    event: str | None = None  # survival: 1 = event observed, 0 = censored
    positive: str | None = None  # risk: the class whose rates fairness compares (default: the last category)
    hidden_dim: int = Field(64, ge=8, le=1024)  # width of the residual MLP
    blocks: int = Field(2, ge=1, le=8)  # residual blocks (Linear, GroupNorm, SiLU, Linear)
    time_bins: int = Field(12, ge=2, le=100)  # survival: discrete time intervals of the hazard model
    evaluation: EvaluationSettings = EvaluationSettings()
    # stop when the federated validation metric (AUC or C-index) has not improved for this many rounds and
    # publish the best evaluated model; None: train every round and publish the last model (noisy validation
    # metrics of a few hundred rows pick a model poorly, so restoring the best is tied to early stopping)
    early_stopping_patience: int | None = Field(None, ge=1, le=100)
    image: ImageSpec | None = None  # image: what the images are (size, channels, classes); default ImageSpec()
    # which of each hospital's AWS Batch queues runs the trainer: the image task's default is "gpu", every
    # other task's "cpu" (a marginal model or a 64-wide MLP gains nothing from a GPU instance)
    compute: ComputeClass | None = None

    @model_validator(mode="after")
    def _settings_of_its_task(self) -> "TaskSettings":
        if self.name == "synthesis":
            given = sorted(self.model_fields_set & set(PREDICTIVE_ONLY))
            if given:
                raise ValueError(f"task.{given[0]} is a setting of the predictive tasks (risk, survival), "
                                 "not of synthesis")
        if self.name == "image":
            given = sorted(self.model_fields_set & set(TABULAR_ONLY))
            if given:
                raise ValueError(f"task.{given[0]} is a setting of the tabular tasks; the image task reads "
                                 "task.image (size, channels, classes)")
        elif self.image is not None:
            raise ValueError(f"task.image is the image task's spec, not a setting of {self.name}")
        if self.name == "risk" and (self.time or self.event):
            raise ValueError("task.time and task.event are survival settings; risk predicts task.target")
        if self.name == "survival" and self.target:
            raise ValueError("survival reads task.time and task.event, not task.target")
        if len(set(self.exclude)) != len(self.exclude):
            raise ValueError(f"task.exclude lists a column twice: {list(self.exclude)}")
        return self

    @property
    def predictive(self) -> bool:
        return self.name != "synthesis"

    @property
    def image_spec(self) -> ImageSpec:
        """The image task's spec (its default when the run gave none)."""
        return self.image or ImageSpec()

    @property
    def compute_class(self) -> ComputeClass:
        """The queue class the run's trainer jobs are submitted to."""
        return self.compute or ("gpu" if self.name == "image" else "cpu")
