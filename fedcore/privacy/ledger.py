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
- Each account owns its accountant and delta: set when the account is created (the ledger's
  ``accountant``/``delta``, i.e. the deployment's defaults, unless ``set_limit`` names others),
  kept afterwards, and used for every epsilon of that account, charges included. A run that
  plans with other settings is refused by ``require_settings`` before it spends anything.
- History stays bounded: past a size threshold, the charges of all but the most recent runs
  are coalesced (``ledger_coalesce``), which changes no epsilon and keeps replays recognisable.
- A write that loses a race is retried after a jittered, exponentially growing pause.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from fedcore.privacy.accountant import AccountantName, StepRecord, compute_epsilon
from fedcore.privacy.ledger_account import (
    all_records,
    check_key,
    check_spoke,
    coalesced_charge,
    describe_settings,
    open_charges,
    period_records,
    settings_of,
)
from fedcore.privacy.ledger_coalesce import account_bytes, coalesce_runs, coalesced_entry_of, runs_to_coalesce
from fedcore.privacy.ledger_errors import (
    ConcurrentUpdateError,
    LedgerConflictError,
    LedgerSettingsError,
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
        delta: float,  # of the accounts this ledger creates; an existing account keeps its own
        accountant: AccountantName = "rdp",  # likewise
        *,
        default_limit: float | None = None,  # None: unknown spokes are an error
        clock: Callable[[], datetime] = _utc_now,  # injectable for tests
        max_retries: int = 8,  # attempts when a concurrent writer wins the race
        backoff_seconds: float = 0.05,  # first retry waits up to this; doubles per attempt
        max_backoff_seconds: float = 2.0,  # cap of one wait
        sleep: Callable[[float], None] = time.sleep,  # injectable for tests
        rng: random.Random | None = None,  # jitter source; None: a generator seeded by the OS
        coalesce_above_bytes: int = 100_000,  # DynamoDB items stop at 400 KB
        keep_recent_runs: int = 3,  # runs whose charges stay per round when coalescing
        settings_owner: bool = False,  # True: this ledger's accountant/delta rule every account (a hospital's own
        # ledger, whose policy owns its delta); False: each account keeps the ones it was created with (the hub)
    ) -> None:
        compute_epsilon([], delta, accountant)  # validates delta and accountant
        self._store = store
        self._delta = float(delta)
        self._accountant: AccountantName = accountant
        self._default_limit = None if default_limit is None else validate_limit(default_limit)
        self._clock = clock
        if max_retries < 1:
            raise ValueError(f"max_retries must be >= 1, got {max_retries}")
        if not 0 <= backoff_seconds <= max_backoff_seconds:
            raise ValueError("need 0 <= backoff_seconds <= max_backoff_seconds")
        if coalesce_above_bytes < 1 or keep_recent_runs < 0:
            raise ValueError("coalesce_above_bytes must be >= 1 and keep_recent_runs >= 0")
        self._max_retries = max_retries
        self._backoff = (backoff_seconds, max_backoff_seconds)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._coalesce_above = coalesce_above_bytes
        self._keep_recent_runs = keep_recent_runs
        self._settings_owner = settings_owner

    # -- administration -------------------------------------------------------------

    def set_limit(
        self, spoke: str, epsilon_limit: float, *, accountant: AccountantName | None = None,
        delta: float | None = None,
    ) -> None:
        """Set the current period's limit, creating the account if needed.

        A new account takes ``accountant``/``delta`` (None: the ledger's); an existing one keeps
        its own, and naming different ones raises ``LedgerSettingsError``.
        """
        limit = validate_limit(epsilon_limit)
        wanted = (accountant or self._accountant, self._delta if delta is None else float(delta))
        compute_epsilon([], wanted[1], wanted[0])  # validates them

        def mutate(account: dict[str, Any]) -> tuple[None, bool]:
            own = settings_of(account)
            if (accountant or own[0], own[1] if delta is None else wanted[1]) != own:
                raise LedgerSettingsError(
                    f"spoke {spoke!r} accounts with {describe_settings(own)}; an account's accountant and delta "
                    "are fixed when it is created")
            account["limit"] = limit
            return None, True

        self._update(spoke, mutate, create_with_limit=limit, create_settings=wanted)
        logger.info("ledger limit for spoke %s set to %s", spoke, limit)

    def require_settings(self, spoke: str, accountant: str, delta: float) -> None:
        """Refuse (``LedgerSettingsError``) a run whose accountant or delta is not the account's.

        A spoke without an account is compared with what a new account would get (the ledger's).
        Callers check this before anything is spent: InitRun and the budget gate.
        """
        check_spoke(spoke)
        account = self._store.get_account(spoke)
        own = settings_of(self._upgraded(account)) if account is not None else (self._accountant, self._delta)
        if (accountant, float(delta)) != own:
            raise LedgerSettingsError(
                f"the run accounts with {describe_settings((accountant, delta))} but hospital {spoke!r}'s ledger "
                f"account uses {describe_settings(own)}; start the run with the account's settings")

    def settings(self, spoke: str) -> tuple[str, float]:
        """(accountant, delta) of the spoke's account."""
        return settings_of(self._account(spoke))

    def reset(self, spoke: str, actor: str, reason: str) -> ResetRecord:
        """Open a new budget period for ``spoke``; returns the audit record."""
        for name, value in (("actor", actor), ("reason", reason)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"reset needs a non-empty {name}")

        def mutate(account: dict[str, Any]) -> tuple[ResetRecord, bool]:
            charges = open_charges(account)
            record = ResetRecord(
                spoke=spoke,
                closed_period=account["period"],
                opened_period=account["period"] + 1,
                actor=actor,
                reason=reason,
                at=self._clock().isoformat(),
                epsilon_spent_in_closed_period=self._epsilon(period_records(charges, account), account),
                lifetime_epsilon=self._epsilon(all_records(charges, account), account),
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
        check_key(run, round)
        records = (record,) if isinstance(record, StepRecord) else tuple(record)
        if not records or not all(isinstance(r, StepRecord) for r in records):
            raise ValueError(f"a charge needs one or more StepRecords, got {record!r}")

        def mutate(account: dict[str, Any]) -> tuple[ChargeResult, bool]:
            charges = open_charges(account)
            existing = next((c for c in charges if (c.run, c.round) == (run, round)), None)
            if existing is not None and existing.records != records:
                raise LedgerConflictError(
                    f"spoke {spoke!r} run {run!r} round {round} was already charged with "
                    f"{existing.records}, not {records}"
                )
            if existing is None:
                existing = coalesced_charge(account, spoke, run, round, records)
            replayed = existing is not None
            if existing is None:
                existing = Charge(run, round, records, account["period"], self._clock().isoformat())
                account["charges"].append(existing.to_dict())
                charges.append(existing)
            spent = self._epsilon(period_records(charges, account), account)
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
        in_period = period_records(open_charges(account), account)
        spent = self._epsilon(in_period, account)
        after = self._epsilon([*in_period, *planned], account)
        limit = account["limit"]
        return BudgetDecision(spoke, after <= limit, spent, after, limit)

    def remaining_rounds(
        self, spoke: str, per_round: Sequence[StepRecord], *, max_rounds: int = 10_000
    ) -> int:
        """How many more identical rounds fit under the limit (capped at ``max_rounds``)."""
        if not per_round:
            raise ValueError("per_round must contain at least one StepRecord")
        account = self._account(spoke)
        in_period = period_records(open_charges(account), account)
        limit = account["limit"]

        def fits(rounds: int) -> bool:
            # k identical rounds compose like each record with k times the steps.
            scaled = [
                StepRecord(r.noise_multiplier, r.sample_rate, r.steps * rounds) for r in per_round
            ]
            return self._epsilon([*in_period, *scaled], account) <= limit

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
        return self._epsilon(period_records(open_charges(account), account), account)

    def lifetime_spent(self, spoke: str) -> float:
        """Epsilon of every charge in every period, composed."""
        account = self._account(spoke)
        return self._epsilon(all_records(open_charges(account), account), account)

    def history(self, spoke: str) -> tuple[Charge, ...]:
        """The charges not coalesced yet (the most recent runs'), every period, oldest first."""
        return tuple(open_charges(self._account(spoke)))

    def charged(self, spoke: str, run: str, round: int) -> bool:
        """Whether (spoke, run, round) was charged, coalesced or not."""
        account = self._account(spoke)
        return any((c["run"], c["round"]) == (run, round) for c in account["charges"]) \
            or coalesced_entry_of(account, run, round) is not None

    def coalesce(self, spoke: str, runs: Sequence[str]) -> None:
        """Coalesce the charges of ``runs`` now (the ledger also does it past its size threshold)."""
        def mutate(account: dict[str, Any]) -> tuple[None, bool]:
            before = len(account["charges"])
            coalesce_runs(account, runs)
            return None, len(account["charges"]) != before

        self._update(spoke, mutate, create_with_limit=None)

    def resets(self, spoke: str) -> tuple[ResetRecord, ...]:
        return tuple(ResetRecord.from_dict(r) for r in self._account(spoke)["resets"])

    def limit(self, spoke: str) -> float:
        return float(self._account(spoke)["limit"])

    # -- internals ------------------------------------------------------------------

    def _epsilon(self, records: Sequence[StepRecord], account: dict[str, Any]) -> float:
        accountant, delta = settings_of(account)
        return compute_epsilon(records, delta, accountant)  # type: ignore[arg-type]

    def _new_account(
        self, spoke: str, limit: float, settings: tuple[str, float] | None = None
    ) -> dict[str, Any]:
        accountant, delta = settings or (self._accountant, self._delta)
        return {
            "schema": _SCHEMA,
            "spoke": spoke,
            "limit": limit,
            "accountant": accountant,  # fixed at creation: every epsilon of this account uses it
            "delta": delta,  # likewise
            "period": 0,  # current budget period; each reset opens the next
            "charges": [],  # Charge.to_dict() of every period, oldest first (not coalesced yet)
            "coalesced": [],  # per period: merged mechanisms of finished runs and their rounds
            "resets": [],  # ResetRecord.to_dict(), oldest first
        }

    def _upgraded(self, account: dict[str, Any]) -> dict[str, Any]:
        """Accounts written before they kept their settings were charged with this ledger's; a settings
        owner restates every account with its own."""
        if self._settings_owner:
            account["accountant"], account["delta"] = self._accountant, self._delta
        account.setdefault("accountant", self._accountant)
        account.setdefault("delta", self._delta)
        account.setdefault("coalesced", [])
        return account

    def _account(self, spoke: str) -> dict[str, Any]:
        check_spoke(spoke)
        account = self._store.get_account(spoke)
        if account is not None:
            return self._upgraded(account)
        if self._default_limit is None:
            raise UnknownSpokeError(f"spoke {spoke!r} has no ledger account; set a limit first")
        return self._new_account(spoke, self._default_limit)

    def _update(
        self,
        spoke: str,
        mutate: Callable[[dict[str, Any]], tuple[_T, bool]],  # -> (result, changed)
        create_with_limit: float | None,
        create_settings: tuple[str, float] | None = None,
    ) -> _T:
        """Read, mutate a copy, write conditionally on the version read; retry on races
        after a jittered, exponentially growing pause ("full jitter")."""
        check_spoke(spoke)
        for attempt in range(self._max_retries):
            if attempt:
                base, cap = self._backoff
                self._sleep(self._rng.uniform(0, min(cap, base * 2 ** (attempt - 1))))
            account = self._store.get_account(spoke)
            expected_version = None if account is None else account["version"]
            if account is not None:
                account = self._upgraded(account)
            else:
                if create_with_limit is None:
                    raise UnknownSpokeError(
                        f"spoke {spoke!r} has no ledger account; set a limit first"
                    )
                account = self._new_account(spoke, create_with_limit, create_settings)
            result, changed = mutate(account)
            if not changed:
                return result
            if account_bytes(account) > self._coalesce_above:
                coalesce_runs(account, runs_to_coalesce(account, self._keep_recent_runs))
            charges = open_charges(account)
            account["epsilon_spent"] = self._epsilon(period_records(charges, account), account)
            account["lifetime_epsilon"] = self._epsilon(all_records(charges, account), account)
            try:
                self._store.put_account(account, expected_version)
                return result
            except ConcurrentUpdateError:
                logger.info("ledger write for spoke %s lost a race (attempt %d); retrying", spoke, attempt + 1)
        raise ConcurrentUpdateError(
            f"ledger account {spoke!r} kept changing; gave up after {self._max_retries} attempts"
        )
