"""Privacy accounting: epsilon of DP-SGD histories, noise planning, the per-spoke ledger.

Importing this package does not import torch; Opacus (which does) is imported only when
an epsilon is computed.
"""

from fedcore.privacy.accountant import ACCOUNTANTS, StepRecord, compute_epsilon
from fedcore.privacy.ledger import PrivacyLedger
from fedcore.privacy.ledger_errors import (
    BudgetExceededError,
    ConcurrentUpdateError,
    LedgerConflictError,
    LedgerError,
    LedgerSettingsError,
    UnknownSpokeError,
)
from fedcore.privacy.ledger_records import BudgetDecision, Charge, ChargeResult, ResetRecord
from fedcore.privacy.ledger_store import InMemoryLedgerStore, LedgerStore
from fedcore.privacy.planner import plan_noise_multiplier, poisson_sample_rate, steps_per_round

__all__ = [
    "ACCOUNTANTS",
    "BudgetDecision",
    "BudgetExceededError",
    "Charge",
    "ChargeResult",
    "ConcurrentUpdateError",
    "InMemoryLedgerStore",
    "LedgerConflictError",
    "LedgerError",
    "LedgerSettingsError",
    "LedgerStore",
    "PrivacyLedger",
    "ResetRecord",
    "StepRecord",
    "UnknownSpokeError",
    "compute_epsilon",
    "plan_noise_multiplier",
    "poisson_sample_rate",
    "steps_per_round",
]
