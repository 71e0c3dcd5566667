"""GET /models: the published model versions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class QualitySummary(BaseModel):
    rounds: int = Field(description="training rounds behind this version")
    final_training_loss: float | None = Field(description="aggregated loss of the last round")
    evaluation: dict[str, Any] | None = Field(
        None, description="held-out quality scores when the publishing run recorded them")


class ModelVersion(BaseModel):
    version: str
    run_id: str
    round: int
    created_at: str
    sha256: str = Field(description="SHA-256 of the sealed model object")
    latest: bool
    model: dict[str, Any] = Field(description="DiffusionConfig of the denoiser")
    table_schema: dict[str, Any] = Field(serialization_alias="schema", description="the table schema it generates")
    epsilon: dict[str, float] = Field(description="epsilon per hospital when it was published")
    delta: float | None
    quality: QualitySummary


class ModelList(BaseModel):
    models: list[ModelVersion]
