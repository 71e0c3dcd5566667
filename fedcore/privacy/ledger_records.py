"""Values the privacy ledger stores and returns."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fedcore.privacy.accountant import StepRecord
from fedcore.privacy.ledger_errors import BudgetExceededError

__all__ = ["BudgetDecision", "Charge", "ChargeResult", "ResetRecord", "validate_limit"]


def validate_limit(epsilon_limit: float) -> float:
    if isinstance(epsilon_limit, bool) or not isinstance(epsilon_limit, (int, float)):
        raise ValueError(f"epsilon limit must be a number, got {epsilon_limit!r}")
    if not math.isfinite(epsilon_limit) or epsilon_limit <= 0:
        raise ValueError(f"epsilon limit must be finite and > 0, got {epsilon_limit!r}")
    return float(epsilon_limit)


@dataclass(frozen=True)
class Charge:
    """One release's privacy spend, keyed (spoke, run, round): every mechanism it applied.

    A release may apply several mechanisms (DESIGN.md section 3: its DP record is a list of
    mechanisms); they are charged together, once, under the release's key.
    """

    run: str
    round: int
    records: tuple[StepRecord, ...]
    period: int  # budget period the charge counts against (0, then +1 per reset)
    charged_at: str  # ISO 8601 UTC

    @property
    def record(self) -> StepRecord:
        """The mechanism of a one-mechanism charge (setup statistics, a DP-SGD round)."""
        if len(self.records) != 1:
            raise ValueError(f"charge ({self.run}, {self.round}) has {len(self.records)} mechanisms")
        return self.records[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "round": self.round,
            "records": [r.to_dict() for r in self.records],
            "period": self.period,
            "charged_at": self.charged_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Charge:
        raw = data["records"] if "records" in data else [data["record"]]  # "record": before multi-mechanism releases
        return cls(
            run=data["run"],
            round=int(data["round"]),
            records=tuple(StepRecord.from_dict(r) for r in raw),
            period=int(data["period"]),
            charged_at=data["charged_at"],
        )


@dataclass(frozen=True)
class ChargeResult:
    """Outcome of ``PrivacyLedger.charge``; the charge is recorded even when over limit."""

    spoke: str
    charge: Charge
    epsilon_spent: float  # this period, after the charge
    limit: float
    over_limit: bool  # epsilon_spent > limit: training should have been stopped earlier
    replayed: bool  # True when this (spoke, run, round) was already charged identically


@dataclass(frozen=True)
class BudgetDecision:
    """Whether a spoke may run the planned steps without exceeding its limit."""

    spoke: str
    allowed: bool  # epsilon_after <= limit
    epsilon_spent: float  # this period, before the planned steps
    epsilon_after: float  # this period, if the planned steps run
    limit: float

    def require_allowed(self) -> None:
        """Raise ``BudgetExceededError`` when the plan is refused."""
        if not self.allowed:
            raise BudgetExceededError(
                f"spoke {self.spoke!r} would reach epsilon {self.epsilon_after:.4f}, "
                f"over its limit {self.limit}",
                spoke=self.spoke,
                epsilon_after=self.epsilon_after,
                limit=self.limit,
            )


@dataclass(frozen=True)
class ResetRecord:
    """Audit record of a budget reset: a new period opens; nothing is erased."""

    spoke: str
    closed_period: int
    opened_period: int
    actor: str  # who reset it
    reason: str  # why, for the audit log
    at: str  # ISO 8601 UTC
    epsilon_spent_in_closed_period: float
    lifetime_epsilon: float  # over all periods, unchanged by the reset
    limit: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResetRecord:
        return cls(**data)
