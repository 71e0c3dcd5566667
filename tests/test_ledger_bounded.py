"""The ledger item stays bounded (coalescing) and survives write races (issue 9, item 12)."""

from datetime import UTC, datetime

import pytest

from fedcore.privacy import (
    ConcurrentUpdateError,
    InMemoryLedgerStore,
    LedgerConflictError,
    PrivacyLedger,
    StepRecord,
)
from fedcore.privacy.ledger_coalesce import account_bytes, decode_rounds, encode_rounds

DELTA = 1e-5
SETUP = StepRecord(2.0, 1.0, 1)
ROUND = StepRecord(1.5, 0.04, 250)
DYNAMODB_ITEM_LIMIT = 400 * 1024


def fixed_clock():
    return datetime(2025, 1, 1, tzinfo=UTC)


def make_ledger(store=None, **kwargs):
    return PrivacyLedger(store or InMemoryLedgerStore(), DELTA, clock=fixed_clock, **kwargs)


def charge_run(ledger, spoke, run, rounds, setup=SETUP, round_record=ROUND):
    ledger.charge(spoke, run, 0, setup)
    for r in range(1, rounds + 1):
        ledger.charge(spoke, run, r, [round_record, StepRecord(3.0, 1.0, 1)])


def test_coalescing_a_run_changes_no_epsilon_and_shrinks_the_item():
    # Arrange
    store = InMemoryLedgerStore()
    ledger = make_ledger(store)
    ledger.set_limit("a", 50.0)
    charge_run(ledger, "a", "run-1", 6)
    charge_run(ledger, "a", "run-2", 4, setup=StepRecord(2.5, 1.0, 1), round_record=StepRecord(1.2, 0.05, 100))
    ledger.reset("a", "admin", "new consortium year")
    charge_run(ledger, "a", "run-3", 3)
    before = (ledger.spent("a"), ledger.lifetime_spent("a"), account_bytes(store.get_account("a")))

    # Act
    ledger.coalesce("a", ["run-1", "run-2", "run-3"])

    # Assert
    account = store.get_account("a")
    assert (ledger.spent("a"), ledger.lifetime_spent("a")) == before[:2]  # exactly, not approximately
    assert account["charges"] == [] and account_bytes(account) < before[2] / 2
    assert [e["period"] for e in account["coalesced"]] == [0, 1]
    assert account["coalesced"][0]["runs"] == {"run-1": "0-6", "run-2": "0-4"}
    assert all(ledger.charged("a", "run-1", r) for r in range(7)) and not ledger.charged("a", "run-1", 7)


def test_a_retry_after_coalescing_is_a_replay_and_a_different_record_is_a_conflict():
    # Arrange
    store = InMemoryLedgerStore()
    ledger = make_ledger(store)
    ledger.set_limit("a", 50.0)
    charge_run(ledger, "a", "run-1", 3)
    ledger.coalesce("a", ["run-1"])
    version, spent = store.get_account("a")["version"], ledger.spent("a")

    # Act
    replay = ledger.charge("a", "run-1", 2, [ROUND, StepRecord(3.0, 1.0, 1)])
    with pytest.raises(LedgerConflictError):
        ledger.charge("a", "run-1", 2, StepRecord(0.5, 0.04, 250))
    later_round = ledger.charge("a", "run-1", 4, ROUND)

    # Assert
    assert replay.replayed and replay.epsilon_spent == spent
    assert not later_round.replayed and later_round.epsilon_spent > spent
    assert store.get_account("a")["version"] == version + 1  # only the new round was written


@pytest.mark.slow  # thousands of charges through the accountant (about 8 s)
def test_the_item_stays_bounded_over_thousands_of_charges():
    # Arrange: 800 runs of 3 releases each; kept per charge that is over 400 KB, DynamoDB's item limit
    store = InMemoryLedgerStore()
    ledger = make_ledger(store, coalesce_above_bytes=30_000)
    ledger.set_limit("a", 1e6)
    full_batch = StepRecord(50.0, 1.0, 1)  # sample rate 1 keeps the test fast; the size is what matters
    sizes = []

    # Act
    for run in range(800):
        for round_ in range(3):
            ledger.charge("a", f"run-{run:05d}", round_, full_batch)
        sizes.append(account_bytes(store.get_account("a")))

    # Assert
    assert max(sizes) < 30_000 + 1_000  # one charge past the threshold at most
    assert max(sizes) < DYNAMODB_ITEM_LIMIT / 10
    assert ledger.lifetime_spent("a") == pytest.approx(
        PrivacyLedger(InMemoryLedgerStore(), DELTA)._epsilon([StepRecord(50.0, 1.0, 2400)],
                                                             {"accountant": "rdp", "delta": DELTA}))
    assert ledger.charge("a", "run-00000", 1, full_batch).replayed  # the first run is still recognised
    kept = {(c.run, c.round) for c in ledger.history("a")}
    assert {("run-00799", r) for r in range(3)} <= kept and ("run-00000", 0) not in kept  # newest stay per round


class FirstConditionalWriteFails(InMemoryLedgerStore):
    """Another writer wins the first race: a concurrent charge lands just before our write."""

    def __init__(self, inner_ledger_factory):
        super().__init__()
        self._raced = False
        self._factory = inner_ledger_factory

    def put_account(self, account, expected_version):
        if not self._raced and expected_version is not None:
            self._raced = True
            self._factory(self).charge("a", "other-run", 0, SETUP)  # the concurrent writer
        return super().put_account(account, expected_version)


def test_a_lost_race_is_retried_after_a_jittered_pause_and_nothing_is_lost():
    # Arrange
    store = FirstConditionalWriteFails(lambda s: PrivacyLedger(s, DELTA, sleep=lambda _: None))
    pauses = []
    ledger = make_ledger(store, sleep=pauses.append, backoff_seconds=0.1)
    ledger.set_limit("a", 10.0)

    # Act
    result = ledger.charge("a", "run-1", 1, ROUND)

    # Assert
    assert not result.replayed
    assert {(c.run, c.round) for c in ledger.history("a")} == {("other-run", 0), ("run-1", 1)}
    assert len(pauses) == 1 and 0 <= pauses[0] <= 0.1


def test_retries_give_up_after_max_retries_with_growing_capped_pauses():
    class AlwaysRaced(InMemoryLedgerStore):
        def put_account(self, account, expected_version):
            if expected_version is not None:
                raise ConcurrentUpdateError("someone else wrote first")
            return super().put_account(account, expected_version)

    pauses = []
    ledger = make_ledger(AlwaysRaced(), sleep=pauses.append, max_retries=6, backoff_seconds=0.1,
                         max_backoff_seconds=0.3)
    ledger.set_limit("a", 10.0)

    with pytest.raises(ConcurrentUpdateError):
        ledger.charge("a", "run-1", 1, ROUND)
    assert len(pauses) == 5 and all(0 <= p <= 0.3 for p in pauses)


@pytest.mark.parametrize("rounds", [[], [0], [0, 1, 2, 5], [3, 1, 2, 9, 10, 11, 7]])
def test_round_ranges_round_trip(rounds):
    assert decode_rounds(encode_rounds(rounds)) == sorted(set(rounds))
