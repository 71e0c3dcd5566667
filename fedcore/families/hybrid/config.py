"""Settings of the hybrid family's hub-side pretraining (``model.pretrain`` in a run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PretrainConfig(BaseModel):
    """Pretraining the diffusion model on rows sampled from the published marginal model.

    The rows come from a DP model, so pretraining is post-processing and costs no privacy; it
    runs inside the Aggregate step of the measurement round (torch is in the hub image).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = Field(5_000, ge=100, le=1_000_000)  # rows sampled from the marginal model
    epochs: int = Field(20, ge=1, le=1000)  # passes over them, without DP (10,000 x 30 took minutes here)
    batch_size: int = Field(256, ge=8, le=65_536)
