"""Errors raised by the privacy ledger and its stores."""

from __future__ import annotations

__all__ = [
    "BudgetExceededError",
    "ConcurrentUpdateError",
    "LedgerConflictError",
    "LedgerError",
    "LedgerSettingsError",
    "UnknownSpokeError",
]


class LedgerError(Exception):
    """Base class for privacy-ledger errors."""


class ConcurrentUpdateError(LedgerError):
    """A conditional write lost a race: the account's version changed since it was read."""


class LedgerConflictError(LedgerError):
    """A (spoke, run, round) key was charged before with a different step record."""


class UnknownSpokeError(LedgerError, LookupError):
    """The spoke has no ledger account and the ledger has no default limit."""


class BudgetExceededError(LedgerError):
    """Raised by callers that treat a refused budget check as an error."""

    def __init__(self, message: str, *, spoke: str, epsilon_after: float, limit: float) -> None:
        super().__init__(message)
        self.spoke = spoke
        self.epsilon_after = epsilon_after
        self.limit = limit


class LedgerSettingsError(LedgerError, ValueError):
    """A run's accountant or delta is not the one the hospital's ledger account accounts with."""
