"""GET /sandbox/report (the local server only): the demo's real-versus-synthetic scores."""

from __future__ import annotations

from pydantic import BaseModel, Field

SANDBOX_LABEL = "Sandbox only: real vs synthetic (from the demo's report)"


class ColumnShape(BaseModel):
    metric: str
    score: float | None


class SandboxReport(BaseModel):
    label: str = Field(SANDBOX_LABEL, description="says where these scores come from: never a deployment")
    family: str | None = None
    column_shapes: float | None = Field(description="SDMetrics column shapes, real holdout vs synthetic, in [0, 1]")
    column_pair_trends: float | None = Field(description="SDMetrics column pair trends, in [0, 1]")
    pairs_scored: int | None = None
    pairs_total: int | None = None
    per_column: dict[str, ColumnShape] = Field(default_factory=dict, description="column shape score per column")
    utility: dict[str, float | str | None] = Field(
        default_factory=dict, description="train on synthetic, test on real (tstr) against train on real (trtr)")
