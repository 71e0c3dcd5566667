"""GET /privacy-budget and its two admin actions."""

from __future__ import annotations

from pydantic import BaseModel, Field

from functions.api_app.schemas.common import RequestBody

RESET_NOTICE = ("A reset opens a new budget period for future training. It does not restore privacy "
                "already spent: the epsilon spent so far stays spent, and lifetime epsilon keeps counting it.")


class SpokeBudget(BaseModel):
    spoke: str
    limit: float | None = Field(description="epsilon limit of the current period; null before the first run")
    spent: float = Field(description="epsilon spent in the current period")
    lifetime_spent: float = Field(description="epsilon of every period, composed; a reset never lowers it")
    period: int = Field(description="budget period number: 0, then +1 per reset")
    resets: int
    estimated_remaining_rounds: int | None = Field(
        description="rounds that still fit at the newest run's per-round spend (capped at 1000); null if unknown")
    estimate_from_run: str | None


class BudgetList(BaseModel):
    spokes: list[SpokeBudget]


class SetLimitRequest(RequestBody):
    spoke: str = Field(min_length=1, max_length=64)
    epsilon_limit: float = Field(gt=0, le=1000)
    reason: str | None = Field(None, max_length=500)


class LimitSet(BaseModel):
    spoke: str
    previous_limit: float | None
    budget: SpokeBudget


class ResetRequest(RequestBody):
    spoke: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500, pattern=r"[^\s\x00-\x1f\x7f]",  # a visible character
                        description="recorded in the audit log")


class ResetDone(BaseModel):
    spoke: str
    closed_period: int
    opened_period: int
    epsilon_spent_in_closed_period: float
    lifetime_epsilon: float
    limit: float
    notice: str = RESET_NOTICE
    budget: SpokeBudget
