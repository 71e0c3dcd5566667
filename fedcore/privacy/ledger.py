"""Per-spoke privacy ledger: budget limits, idempotent charges, checks and resets.

DESIGN.md sections 3 and 6. Rules kept here:

- A released update is always charged: ``charge`` records even past the limit and
  reports ``over_limit``; ``check`` is what stops training before a limit is crossed.
- A charge is keyed (spoke, run, round): a replay with the same record changes nothing,
  a replay with a different record raises ``LedgerConflictError``.
- Epsilon is always recomputed with ``compute_epsilon`` over the stored history (the
  current period for ``spent``, all periods for ``lifetime_spent``); the account's
  ``epsilon_spent``/``lifetime_epsilon`` fields are a denormalized copy for readers.
- A reset opens a new budget period; history and lifetime epsilon stay visible.
- Unknown spokes: with ``default_limit=None`` (the default) every operation on a spoke
  without an account raises ``UnknownSpokeError``, so nothing trains or is charged
  without an explicit limit; with a default limit, accounts are created on first charge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from fedcore.privacy.accountant import AccountantName, StepRecord, compute_epsilon
from fedcore.privacy.ledger_errors import (
    ConcurrentUpdateError,
    LedgerConflictError,
    UnknownSpokeError,
)
from fedcore.privacy.ledger_records import (
    BudgetDecision,
    Charge,
    ChargeResult,
    ResetRecord,
    validate_limit,
)
from fedcore.privacy.ledger_store import LedgerStore

logger = logging.getLogger(__name__)

__all__ = ["PrivacyLedger"]

_T = TypeVar("_T")
_SCHEMA = 1


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PrivacyLedger:
    """Privacy accounting for every spoke, over a ``LedgerStore``."""

    def __init__(
        self,
        store: LedgerStore,
        delta: float,
        accountant: AccountantName = "rdp",
        *,
        default_limit: float | None = None,  # None: unknown spokes are an error
        clock: Callable[[], datetime] = _utc_now,  # injectable for tests
        max_retries: int = 8,  # attempts when a concurrent writer wins the race
    ) -> None:
        compute_epsilon([], delta, accountant)  # validates delta and accountant
        self._store = store
        self._delta = delta
        self._accountant: AccountantName = accountant
        self._default_limit = None if default_limit is None else validate_limit(default_limit)
        self._clock = clock
        if max_retries < 1:
            raise ValueError(f"max_retries must be >= 1, got {max_retries}")
        self._max_retries = max_retries

    # -- administration -------------------------------------------------------------

    def set_limit(self, spoke: str, epsilon_limit: float) -> None:
        """Set the current period's limit, creating the account if needed."""
        limit = validate_limit(epsilon_limit)

        def mutate(account: dict[str, Any]) -> tuple[None, bool]:
            account["limit"] = limit
            return None, True

        self._update(spoke, mutate, create_with_limit=limit)
        logger.info("ledger limit for spoke %s set to %s", spoke, limit)

    def reset(self, spoke: str, actor: str, reason: str) -> ResetRecord:
        """Open a new budget period for ``spoke``; returns the audit record."""
        for name, value in (("actor", actor), ("reason", reason)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"reset needs a non-empty {name}")

        def mutate(account: dict[str, Any]) -> tuple[ResetRecord, bool]:
            charges = _charges(account)
            record = ResetRecord(
                spoke=spoke,
                closed_period=account["period"],
                opened_period=account["period"] + 1,
                actor=actor,
                reason=reason,
                at=self._clock().isoformat(),
                epsilon_spent_in_closed_period=self._epsilon(_in_period(charges, account)),
                lifetime_epsilon=self._epsilon(_records(charges)),
                limit=account["limit"],
            )
            account["resets"].append(record.to_dict())
            account["period"] += 1
            return record, True

        record = self._update(spoke, mutate, create_with_limit=None)
        logger.warning("ledger reset for spoke %s by %s: %s", spoke, actor, reason)
        return record

    # -- charging and checking ------------------------------------------------------

    def charge(
        self, spoke: str, run: str, round: int, record: StepRecord | Sequence[StepRecord]
    ) -> ChargeResult:
        """Record a release's spend (one mechanism or several), exactly once per (spoke, run, round)."""
        _check_key(run, round)
        records = (record,) if isinstance(record, StepRecord) else tuple(record)
        if not records or not all(isinstance(r, StepRecord) for r in records):
            raise ValueError(f"a charge needs one or more StepRecords, got {record!r}")

        def mutate(account: dict[str, Any]) -> tuple[ChargeResult, bool]:
            charges = _charges(account)
            existing = next((c for c in charges if (c.run, c.round) == (run, round)), None)
            if existing is not None and existing.records != records:
                raise LedgerConflictError(
                    f"spoke {spoke!r} run {run!r} round {round} was already charged with "
                    f"{existing.records}, not {records}"
                )
            replayed = existing is not None
            if existing is None:
                existing = Charge(run, round, records, account["period"], self._clock().isoformat())
                account["charges"].append(existing.to_dict())
                charges.append(existing)
            spent = self._epsilon(_in_period(charges, account))
            result = ChargeResult(
                spoke=spoke,
                charge=existing,
                epsilon_spent=spent,
                limit=account["limit"],
                over_limit=spent > account["limit"],
                replayed=replayed,
            )
            return result, not replayed  # a replay writes nothing

        result = self._update(spoke, mutate, create_with_limit=self._default_limit)
        if result.over_limit and not result.replayed:
            logger.warning(
                "spoke %s charged past its limit: epsilon %.4f > %s (run %s round %s)",
                spoke, result.epsilon_spent, result.limit, run, round,
            )
        return result

    def check(self, spoke: str, planned: Sequence[StepRecord]) -> BudgetDecision:
        """Would ``planned`` keep the spoke within its limit? Refuses if epsilon_after > limit."""
        account = self._account(spoke)
        period_records = _in_period(_charges(account), account)
        spent = self._epsilon(period_records)
        after = self._epsilon([*period_records, *planned])
        limit = account["limit"]
        return BudgetDecision(spoke, after <= limit, spent, after, limit)

    def remaining_rounds(
        self, spoke: str, per_round: Sequence[StepRecord], *, max_rounds: int = 10_000
    ) -> int:
        """How many more identical rounds fit under the limit (capped at ``max_rounds``)."""
        if not per_round:
            raise ValueError("per_round must contain at least one StepRecord")
        account = self._account(spoke)
        period_records = _in_period(_charges(account), account)
        limit = account["limit"]

        def fits(rounds: int) -> bool:
            # k identical rounds compose like each record with k times the steps.
            scaled = [
                StepRecord(r.noise_multiplier, r.sample_rate, r.steps * rounds) for r in per_round
            ]
            return self._epsilon([*period_records, *scaled]) <= limit

        if not fits(1):
            return 0
        low, high = 1, 2  # invariant: fits(low); high is unknown or does not fit
        while high <= max_rounds and fits(high):
            low, high = high, high * 2
        high = min(high, max_rounds + 1)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        return low

    # -- reading --------------------------------------------------------------------

    def spent(self, spoke: str) -> float:
        """Epsilon of the current budget period."""
        account = self._account(spoke)
        return self._epsilon(_in_period(_charges(account), account))

    def lifetime_spent(self, spoke: str) -> float:
        """Epsilon of every charge in every period, composed."""
        return self._epsilon(_records(_charges(self._account(spoke))))

    def history(self, spoke: str) -> tuple[Charge, ...]:
        """Every charge of every period, oldest first."""
        return tuple(_charges(self._account(spoke)))

    def resets(self, spoke: str) -> tuple[ResetRecord, ...]:
        return tuple(ResetRecord.from_dict(r) for r in self._account(spoke)["resets"])

    def limit(self, spoke: str) -> float:
        return float(self._account(spoke)["limit"])

    # -- internals ------------------------------------------------------------------

    def _epsilon(self, records: Sequence[StepRecord]) -> float:
        return compute_epsilon(records, self._delta, self._accountant)

    def _new_account(self, spoke: str, limit: float) -> dict[str, Any]:
        return {
            "schema": _SCHEMA,
            "spoke": spoke,
            "limit": limit,
            "period": 0,  # current budget period; each reset opens the next
            "charges": [],  # Charge.to_dict() of every period, oldest first
            "resets": [],  # ResetRecord.to_dict(), oldest first
        }

    def _account(self, spoke: str) -> dict[str, Any]:
        _check_spoke(spoke)
        account = self._store.get_account(spoke)
        if account is not None:
            return account
        if self._default_limit is None:
            raise UnknownSpokeError(f"spoke {spoke!r} has no ledger account; set a limit first")
        return self._new_account(spoke, self._default_limit)

    def _update(
        self,
        spoke: str,
        mutate: Callable[[dict[str, Any]], tuple[_T, bool]],  # -> (result, changed)
        create_with_limit: float | None,
    ) -> _T:
        """Read, mutate a copy, write conditionally on the version read; retry on races."""
        _check_spoke(spoke)
        for _ in range(self._max_retries):
            account = self._store.get_account(spoke)
            expected_version = None if account is None else account["version"]
            if account is None:
                if create_with_limit is None:
                    raise UnknownSpokeError(
                        f"spoke {spoke!r} has no ledger account; set a limit first"
                    )
                account = self._new_account(spoke, create_with_limit)
            result, changed = mutate(account)
            if not changed:
                return result
            charges = _charges(account)
            account["epsilon_spent"] = self._epsilon(_in_period(charges, account))
            account["lifetime_epsilon"] = self._epsilon(_records(charges))
            account["accountant"], account["delta"] = self._accountant, self._delta
            try:
                self._store.put_account(account, expected_version)
                return result
            except ConcurrentUpdateError:
                logger.info("ledger write for spoke %s lost a race; retrying", spoke)
        raise ConcurrentUpdateError(
            f"ledger account {spoke!r} kept changing; gave up after {self._max_retries} attempts"
        )


def _charges(account: dict[str, Any]) -> list[Charge]:
    return [Charge.from_dict(c) for c in account["charges"]]


def _records(charges: Sequence[Charge]) -> list[StepRecord]:
    return [record for charge in charges for record in charge.records]


def _in_period(charges: Sequence[Charge], account: dict[str, Any]) -> list[StepRecord]:
    return _records([c for c in charges if c.period == account["period"]])


def _check_spoke(spoke: str) -> None:
    if not isinstance(spoke, str) or not spoke:
        raise ValueError(f"spoke must be a non-empty string, got {spoke!r}")


def _check_key(run: str, round: int) -> None:
    if not isinstance(run, str) or not run:
        raise ValueError(f"run must be a non-empty string, got {run!r}")
    if isinstance(round, bool) or not isinstance(round, int) or round < 0:
        raise ValueError(f"round must be an int >= 0, got {round!r}")
