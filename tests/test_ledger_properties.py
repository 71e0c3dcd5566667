"""Ledger invariants over random sequences of limits, charges, checks and resets."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fedcore.privacy import (
    InMemoryLedgerStore,
    LedgerConflictError,
    PrivacyLedger,
    StepRecord,
    compute_epsilon,
)

DELTA = 1e-5
SPOKES = ("a", "b")
# Few distinct (sigma, q) pairs keep Opacus' RDP cheap (results are cached per history).
RECORDS = (
    StepRecord(1.0, 1.0, 1),
    StepRecord(2.0, 1.0, 3),
    StepRecord(3.0, 0.01, 50),
    StepRecord(3.0, 0.01, 80),
)


class LedgerMachine(RuleBasedStateMachine):
    """A model of the ledger: charges keyed (spoke, run, round) with their period."""

    @initialize()
    def set_up(self):
        self.ledger = PrivacyLedger(InMemoryLedgerStore(), DELTA)
        self.limits = {"a": 2.0, "b": 6.0}
        for spoke, limit in self.limits.items():
            self.ledger.set_limit(spoke, limit)
        self.charges = {spoke: {} for spoke in SPOKES}  # (run, round) -> (record, period)
        self.period = {spoke: 0 for spoke in SPOKES}
        self.lifetime_before_reset = {spoke: 0.0 for spoke in SPOKES}

    def period_records(self, spoke):
        return [r for r, p in self.charges[spoke].values() if p == self.period[spoke]]

    @rule(
        spoke=st.sampled_from(SPOKES),
        run=st.sampled_from(("r1", "r2")),
        round_=st.integers(0, 2),  # few keys, so replays and conflicts are common
        record=st.sampled_from(RECORDS),
    )
    def charge(self, spoke, run, round_, record):
        key = (run, round_)
        existing = self.charges[spoke].get(key)
        if existing is not None and existing[0] != record:
            with pytest.raises(LedgerConflictError):
                self.ledger.charge(spoke, run, round_, record)
            return
        result = self.ledger.charge(spoke, run, round_, record)
        assert result.replayed == (existing is not None)
        if existing is None:
            self.charges[spoke][key] = (record, self.period[spoke])
        assert result.over_limit == (result.epsilon_spent > self.limits[spoke])

    @rule(spoke=st.sampled_from(SPOKES), planned=st.lists(st.sampled_from(RECORDS), max_size=2))
    def check(self, spoke, planned):
        decision = self.ledger.check(spoke, planned)
        expected_after = compute_epsilon([*self.period_records(spoke), *planned], DELTA)
        assert decision.epsilon_after == pytest.approx(expected_after, rel=1e-12)
        assert decision.allowed == (expected_after <= self.limits[spoke])

    @rule(spoke=st.sampled_from(SPOKES))
    def reset(self, spoke):
        history_before = self.ledger.history(spoke)
        lifetime_before = self.ledger.lifetime_spent(spoke)
        record = self.ledger.reset(spoke, actor="admin", reason="test")
        assert record.lifetime_epsilon == pytest.approx(lifetime_before)
        assert self.ledger.history(spoke) == history_before
        self.period[spoke] += 1

    @invariant()
    def spent_is_the_accountant_over_the_period_history(self):
        for spoke in SPOKES:
            assert self.ledger.spent(spoke) == pytest.approx(
                compute_epsilon(self.period_records(spoke), DELTA), rel=1e-12
            )

    @invariant()
    def lifetime_covers_every_charge_and_is_at_least_spent(self):
        for spoke in SPOKES:
            all_records = [r for r, _ in self.charges[spoke].values()]
            lifetime = self.ledger.lifetime_spent(spoke)
            assert lifetime == pytest.approx(compute_epsilon(all_records, DELTA), rel=1e-12)
            assert lifetime >= self.ledger.spent(spoke) - 1e-12

    @invariant()
    def history_holds_each_key_once_and_is_never_lost(self):
        for spoke in SPOKES:
            history = self.ledger.history(spoke)
            assert {(c.run, c.round): (c.record, c.period) for c in history} == self.charges[spoke]
            assert len(history) == len(self.charges[spoke])


LedgerMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=12, deadline=None)
TestLedgerInvariants = LedgerMachine.TestCase
