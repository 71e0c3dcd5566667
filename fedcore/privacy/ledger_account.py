"""Reading a ledger account (the JSON-compatible dict a ``LedgerStore`` keeps): its charges, its
mechanisms per period, its own accountant and delta, and the checks on keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fedcore.privacy.accountant import ACCOUNTANTS, StepRecord
from fedcore.privacy.ledger_coalesce import coalesced_entry_of, coalesced_records, same_parameters
from fedcore.privacy.ledger_errors import LedgerConflictError
from fedcore.privacy.ledger_records import Charge

__all__ = ["all_records", "check_key", "check_spoke", "coalesced_charge", "describe_settings", "open_charges",
           "period_records", "records_of", "settings_of"]


def open_charges(account: dict[str, Any]) -> list[Charge]:
    """The charges not coalesced yet, every period, oldest first."""
    return [Charge.from_dict(c) for c in account["charges"]]


def records_of(charges: Sequence[Charge]) -> list[StepRecord]:
    return [record for charge in charges for record in charge.records]


def all_records(charges: Sequence[Charge], account: dict[str, Any]) -> list[StepRecord]:
    """Every period's mechanisms: open charges and coalesced entries."""
    return [*records_of(charges), *coalesced_records(account)]


def period_records(charges: Sequence[Charge], account: dict[str, Any]) -> list[StepRecord]:
    """The current period's mechanisms: its open charges and its coalesced entry."""
    period = account["period"]
    return [*records_of([c for c in charges if c.period == period]), *coalesced_records(account, period)]


def settings_of(account: dict[str, Any]) -> tuple[str, float]:
    """(accountant, delta) the account was created with."""
    accountant, delta = account["accountant"], float(account["delta"])
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"ledger account {account.get('spoke')!r} has an unknown accountant {accountant!r}")
    return accountant, delta


def describe_settings(settings: tuple[str, float]) -> str:
    return f"accountant {settings[0]!r} at delta {settings[1]:g}"


def coalesced_charge(
    account: dict[str, Any], spoke: str, run: str, round_: int, records: tuple[StepRecord, ...]
) -> Charge | None:
    """A replay of a coalesced (run, round): the Charge it stands for, or a conflict; None if not coalesced."""
    entry = coalesced_entry_of(account, run, round_)
    if entry is None:
        return None
    if not same_parameters(entry, records):
        raise LedgerConflictError(
            f"spoke {spoke!r} run {run!r} round {round_} was already charged (now coalesced) with "
            f"other mechanisms than {records}")
    return Charge(run, round_, records, entry["period"], entry["charged_at"])


def check_spoke(spoke: str) -> None:
    if not isinstance(spoke, str) or not spoke:
        raise ValueError(f"spoke must be a non-empty string, got {spoke!r}")


def check_key(run: str, round: int) -> None:
    if not isinstance(run, str) or not run:
        raise ValueError(f"run must be a non-empty string, got {run!r}")
    if isinstance(round, bool) or not isinstance(round, int) or round < 0:
        raise ValueError(f"round must be an int >= 0, got {round!r}")
