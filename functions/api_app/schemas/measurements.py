"""GET /models/{version}/measurements: the DP measurements the hub holds for a synthesis version."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SetupHistogram(BaseModel):
    column: str
    kind: Literal["numeric", "categorical", "discrete"]
    labels: list[str] = Field(description="one label per cell, in order (numeric: its range)")
    edges: list[float] | None = Field(description="numeric: the cells' edges (one more than the cells); else null")
    counts: list[float] = Field(description="noisy counts per cell, summed over the hospitals (may be negative)")
    noise_std: list[float] = Field(description="the Gaussian noise's standard deviation of each cell's count")
    missing: float | None = Field(description="noisy count of missing values, when the column has a missing cell")


class MeasuredMarginal(BaseModel):
    columns: list[str] = Field(description="the pair of columns measured")
    labels: list[list[str]] = Field(description="each column's cell labels (its missing cell last, if any)")
    counts: list[list[float]] = Field(description="noisy counts, summed over the hospitals (may be negative)")
    noise_std: float | None = Field(description="the Gaussian noise's standard deviation of each cell's count")


class Measurements(BaseModel):
    version: str
    family: str = Field(description="the synthesis family: marginal, diffusion or hybrid")
    histograms: list[SetupHistogram] | None = Field(
        description="the merged noisy setup histograms (DP, what the hospitals released); null when not stored")
    histograms_reason: str | None = Field(description="why histograms is null")
    marginals: list[MeasuredMarginal] | None = Field(
        description="the marginal family's noisy measured 2-way tables (DP); null when not stored")
    marginals_reason: str | None = Field(description="why marginals is null")
