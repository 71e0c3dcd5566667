"""PrivacyLedger behaviour: limits, idempotent charges, checks, resets, concurrency."""

from datetime import UTC, datetime

import pytest

from fedcore.privacy import (
    BudgetExceededError,
    ConcurrentUpdateError,
    InMemoryLedgerStore,
    LedgerConflictError,
    PrivacyLedger,
    StepRecord,
    UnknownSpokeError,
    compute_epsilon,
)

DELTA = 1e-5
ROUND = StepRecord(1.5, 0.04, 250)
SETUP = StepRecord(2.0, 1.0, 1)


def fixed_clock():
    return datetime(2025, 1, 1, tzinfo=UTC)


def make_ledger(**kwargs):
    return PrivacyLedger(InMemoryLedgerStore(), DELTA, clock=fixed_clock, **kwargs)


def test_charge_records_and_spent_is_the_accountant_over_the_history():
    # Arrange
    ledger = make_ledger()
    ledger.set_limit("a", 10.0)

    # Act
    ledger.charge("a", "run-1", 0, SETUP)
    result = ledger.charge("a", "run-1", 1, ROUND)

    # Assert
    expected = compute_epsilon([SETUP, ROUND], DELTA)
    assert result.epsilon_spent == pytest.approx(expected)
    assert ledger.spent("a") == pytest.approx(expected)
    assert [(c.run, c.round, c.record) for c in ledger.history("a")] == [("run-1", 0, SETUP), ("run-1", 1, ROUND)]
    assert not result.over_limit and not result.replayed


def test_replayed_charge_does_not_double_charge():
    # Arrange
    ledger = make_ledger()
    ledger.set_limit("a", 10.0)
    first = ledger.charge("a", "run-1", 1, ROUND)

    # Act
    replay = ledger.charge("a", "run-1", 1, ROUND)

    # Assert
    assert replay.replayed
    assert replay.charge == first.charge
    assert len(ledger.history("a")) == 1
    assert ledger.spent("a") == pytest.approx(first.epsilon_spent)


def test_same_key_with_a_different_record_is_a_conflict():
    # Arrange
    ledger = make_ledger()
    ledger.set_limit("a", 10.0)
    ledger.charge("a", "run-1", 1, ROUND)

    # Act / Assert
    with pytest.raises(LedgerConflictError, match="round 1"):
        ledger.charge("a", "run-1", 1, StepRecord(1.0, 0.04, 250))
    assert len(ledger.history("a")) == 1


def test_charge_past_the_limit_is_recorded_and_flagged():
    # Arrange: a released update is always charged
    ledger = make_ledger()
    ledger.set_limit("a", 1.0)

    # Act
    result = ledger.charge("a", "run-1", 1, ROUND)

    # Assert
    assert result.over_limit
    assert len(ledger.history("a")) == 1
    assert ledger.spent("a") > 1.0


def test_check_refuses_exactly_when_epsilon_after_exceeds_the_limit():
    # Arrange
    ledger = make_ledger()
    after_one = compute_epsilon([ROUND], DELTA)
    ledger.set_limit("a", after_one)
    ledger.set_limit("b", after_one * 0.999)

    # Act
    at_limit = ledger.check("a", [ROUND])
    just_over = ledger.check("b", [ROUND])

    # Assert
    assert at_limit.allowed and at_limit.epsilon_after == pytest.approx(after_one)
    assert not just_over.allowed
    with pytest.raises(BudgetExceededError):
        just_over.require_allowed()
    at_limit.require_allowed()


def test_check_includes_the_whole_period_history():
    # Arrange
    ledger = make_ledger()
    ledger.set_limit("a", 100.0)
    ledger.charge("a", "run-1", 0, SETUP)

    # Act
    decision = ledger.check("a", [ROUND, ROUND])

    # Assert
    assert decision.epsilon_spent == pytest.approx(compute_epsilon([SETUP], DELTA))
    assert decision.epsilon_after == pytest.approx(compute_epsilon([SETUP, ROUND, ROUND], DELTA))


def test_remaining_rounds_counts_identical_rounds_that_fit():
    # Arrange
    ledger = make_ledger()
    limit = compute_epsilon([StepRecord(1.5, 0.04, 250 * 7)], DELTA) + 1e-9  # exactly 7 rounds
    ledger.set_limit("a", limit)
    ledger.charge("a", "run-1", 1, ROUND)

    # Act
    remaining = ledger.remaining_rounds("a", [ROUND])

    # Assert
    assert remaining == 6
    assert ledger.check("a", [ROUND] * 6).allowed
    assert not ledger.check("a", [ROUND] * 7).allowed


def test_remaining_rounds_is_zero_when_over_and_capped_when_huge():
    # Arrange
    ledger = make_ledger()
    ledger.set_limit("a", 0.5)
    ledger.set_limit("b", 1000.0)

    # Act / Assert
    assert ledger.remaining_rounds("a", [ROUND]) == 0
    assert ledger.remaining_rounds("b", [StepRecord(50.0, 0.001, 1)], max_rounds=40) == 40


def test_reset_opens_a_new_period_and_keeps_history_and_lifetime():
    # Arrange
    ledger = make_ledger()
    ledger.set_limit("a", 3.0)
    ledger.charge("a", "run-1", 1, ROUND)
    lifetime_before = ledger.lifetime_spent("a")

    # Act
    record = ledger.reset("a", actor="admin@consortium", reason="annual budget renewal")
    ledger.charge("a", "run-2", 1, ROUND)

    # Assert
    assert record.closed_period == 0 and record.opened_period == 1
    assert record.epsilon_spent_in_closed_period == pytest.approx(lifetime_before)
    assert record.actor == "admin@consortium" and record.at == fixed_clock().isoformat()
    assert ledger.spent("a") == pytest.approx(compute_epsilon([ROUND], DELTA))
    assert ledger.lifetime_spent("a") == pytest.approx(compute_epsilon([ROUND, ROUND], DELTA))
    assert [c.period for c in ledger.history("a")] == [0, 1]
    assert ledger.resets("a") == (record,)


def test_replay_after_reset_still_does_not_charge_again():
    # Arrange
    ledger = make_ledger()
    ledger.set_limit("a", 3.0)
    ledger.charge("a", "run-1", 1, ROUND)
    ledger.reset("a", "admin", "renewal")

    # Act
    replay = ledger.charge("a", "run-1", 1, ROUND)

    # Assert
    assert replay.replayed and replay.charge.period == 0
    assert ledger.spent("a") == 0.0


def test_unknown_spoke_is_an_error_without_a_default_limit():
    # Arrange
    ledger = make_ledger()

    # Act / Assert
    with pytest.raises(UnknownSpokeError):
        ledger.check("nobody", [ROUND])
    with pytest.raises(UnknownSpokeError):
        ledger.charge("nobody", "run-1", 1, ROUND)
    with pytest.raises(UnknownSpokeError):
        ledger.reset("nobody", "admin", "why")


def test_default_limit_creates_accounts_on_first_charge():
    # Arrange
    ledger = make_ledger(default_limit=5.0)

    # Act
    decision = ledger.check("new", [ROUND])
    ledger.charge("new", "run-1", 1, ROUND)

    # Assert
    assert decision.limit == 5.0 and decision.epsilon_spent == 0.0
    assert ledger.limit("new") == 5.0 and len(ledger.history("new")) == 1


@pytest.mark.parametrize("limit", [0.0, -1.0, float("inf"), float("nan"), True])
def test_invalid_limits_are_rejected(limit):
    with pytest.raises(ValueError):
        make_ledger().set_limit("a", limit)


@pytest.mark.parametrize(("run", "round_"), [("", 1), ("r", -1), ("r", 1.0), ("r", True)])
def test_invalid_charge_keys_are_rejected(run, round_):
    # Arrange
    ledger = make_ledger()
    ledger.set_limit("a", 1.0)

    # Act / Assert
    with pytest.raises(ValueError):
        ledger.charge("a", run, round_, ROUND)


def test_store_rejects_a_stale_version():
    # Arrange: two writers read version 1
    store = InMemoryLedgerStore()
    store.put_account({"spoke": "a", "limit": 1.0}, expected_version=None)
    first, second = store.get_account("a"), store.get_account("a")

    # Act
    store.put_account({**first, "limit": 2.0}, expected_version=first["version"])

    # Assert
    with pytest.raises(ConcurrentUpdateError):
        store.put_account({**second, "limit": 3.0}, expected_version=second["version"])
    with pytest.raises(ConcurrentUpdateError):
        store.put_account({"spoke": "a"}, expected_version=None)  # create-only
    assert store.get_account("a")["limit"] == 2.0 and store.get_account("a")["version"] == 2


class RacingStore(InMemoryLedgerStore):
    """Lets another hub instance charge round 2 between our read and our write, once."""

    def __init__(self):
        super().__init__()
        self.raced = False
        self.rival: PrivacyLedger | None = None

    def put_account(self, account, expected_version):
        if not self.raced and self.rival is not None and account.get("charges"):
            self.raced = True
            self.rival.charge("a", "run-1", 2, ROUND)
        return super().put_account(account, expected_version)


def test_concurrent_charges_are_both_kept():
    # Arrange
    store = RacingStore()
    ledger = PrivacyLedger(store, DELTA)
    ledger.set_limit("a", 100.0)
    store.rival = PrivacyLedger(store, DELTA)

    # Act
    ledger.charge("a", "run-1", 1, ROUND)

    # Assert: our first write lost the race, the retry kept the rival's charge too
    assert store.raced
    assert sorted(c.round for c in ledger.history("a")) == [1, 2]
    assert ledger.spent("a") == pytest.approx(compute_epsilon([ROUND, ROUND], DELTA))


def test_ledger_gives_up_after_repeated_races():
    # Arrange
    class AlwaysStale(InMemoryLedgerStore):
        def put_account(self, account, expected_version):
            if expected_version is not None:
                raise ConcurrentUpdateError("someone else wrote")
            return super().put_account(account, expected_version)

    ledger = PrivacyLedger(AlwaysStale(), DELTA, max_retries=3)
    ledger.set_limit("a", 1.0)

    # Act / Assert
    with pytest.raises(ConcurrentUpdateError, match="3 attempts"):
        ledger.charge("a", "run-1", 1, ROUND)


def test_stored_account_is_json_and_carries_denormalized_epsilon():
    # Arrange
    store = InMemoryLedgerStore()
    ledger = PrivacyLedger(store, DELTA)
    ledger.set_limit("a", 10.0)

    # Act
    ledger.charge("a", "run-1", 1, ROUND)
    account = store.get_account("a")

    # Assert
    assert account["epsilon_spent"] == pytest.approx(ledger.spent("a"))
    assert account["charges"][0]["records"] == [ROUND.to_dict()]  # a release charges a list of mechanisms
    assert store.list_spokes() == ["a"]
