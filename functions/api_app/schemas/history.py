"""GET /audit-log, GET /metrics/history and GET /clients."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from functions.api_app.schemas.runs import RoundMetrics


class AuditEntryOut(BaseModel):
    seq: int
    timestamp: str
    actor: str
    action: str
    event_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class ChainCheck(BaseModel):
    """Verification of the contiguous chain from the entry before the page's first to its last."""

    ok: bool
    from_seq: int
    to_seq: int
    checked: int
    first_bad_seq: int | None
    reason: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_after_seq: int | None = Field(description="pass as after_seq for the next page; null at the end")
    verification: ChainCheck | None = None


class MetricsPage(BaseModel):
    metrics: list[RoundMetrics]
    next_offset: int | None


class LastRound(BaseModel):
    run_id: str
    round: int


class Client(BaseModel):
    spoke: str
    status: Literal["active", "dropped", "never_seen"]
    last_round_seen: LastRound | None
    rounds_expected: int
    rounds_participated: int
    participation_rate: float | None


class ClientList(BaseModel):
    clients: list[Client]
