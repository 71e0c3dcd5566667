"""POST /generate: the request, and its two answers (rows inline, or a download link)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from functions.api_app.schemas.common import VERSION_PATTERN, RequestBody

MAX_CONDITIONS = 64  # more fixed columns than any schema here has


class GenerateRequest(RequestBody):
    rows: int = Field(ge=1, description="rows to generate; at most the deployment's API_MAX_ROWS")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="same seed, model and settings: same rows")
    conditions: dict[str, int | str] = Field(
        default_factory=dict, max_length=MAX_CONDITIONS,
        description="categorical column -> the value every generated row must have")
    temperature: float = Field(1.0, ge=0.05, le=10.0, description="divides categorical logits; 1 = as trained")
    sampling_steps: int = Field(50, ge=1, le=1000, description="DDIM steps; at most the model's timesteps")
    model_version: str | None = Field(None, pattern=VERSION_PATTERN,
                                      description="a published version; default: the latest")
    format: Literal["json", "csv"] = "json"


class InlineRows(BaseModel):
    delivery: Literal["inline"] = "inline"
    model_version: str
    rows: int
    format: Literal["json"] = "json"
    columns: list[str]
    data: list[dict[str, Any]]


class DownloadLink(BaseModel):
    """Results above the inline limit: a CSV in the hub bucket behind a presigned GET."""

    delivery: Literal["download"] = "download"
    model_version: str
    rows: int
    format: Literal["csv"] = "csv"
    url: str
    expires_in_seconds: int
    expires_at: datetime
    bytes: int
