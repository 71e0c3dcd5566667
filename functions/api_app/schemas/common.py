"""Shapes shared by every area: the error body and the request-model base."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"  # run ids, as RunSpec and Step Functions allow
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"  # "<run id>-r<round>"


class RequestBody(BaseModel):
    """Request bodies take exactly their fields, with JSON's own types (no "5" for 5)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorInfo(BaseModel):
    code: str = Field(description="machine-readable, stable: e.g. no_published_model, forbidden")
    message: str = Field(description="for people")
    details: Any = Field(None, description="field errors for invalid_request; else usually null")


class ErrorResponse(BaseModel):
    error: ErrorInfo


def error_responses(*statuses: int) -> dict[int, dict]:
    """OpenAPI entries for the listed error statuses, all with the ErrorResponse body."""
    return {status: {"model": ErrorResponse} for status in statuses}
