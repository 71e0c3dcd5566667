"""GET /health: public, says nothing but that the function answers."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/health", response_model=Health, summary="Liveness; needs no identity")
def health() -> Health:
    return Health()
