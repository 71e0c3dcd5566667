"""Small epsilons: targets down to 0.1 per hospital, with setup shares down to 1%, plan on
both accountants, land on the target, and never rest on the largest RDP order."""

import logging
import warnings

import pytest

from fedcore.families import get_family
from fedcore.federation.privacy_plan import setup_record
from fedcore.privacy.accountant import StepRecord, compute_epsilon
from fedcore.privacy.planner import plan_noise_multiplier
from fedcore.run_config import PrivacySettings, RunConfig

DELTA = 1e-5


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
@pytest.mark.parametrize(("target", "share"), [(0.1, 0.01), (1.0, 0.01)])  # 10%: below
def test_small_targets_plan_a_setup_release_and_training(accountant, target, share, caplog):
    # Arrange: a setup release at share * target (0.001 at the smallest), then DP-SGD with
    # three batches per epoch for 6 rounds of 5 epochs, as an ACTG 175 hospital trains
    caplog.set_level(logging.WARNING)

    # Act
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Opacus' "Optimal order is the largest alpha" among them
        setup = StepRecord(plan_noise_multiplier(target * share, 1.0, 1, DELTA, accountant), 1.0, 1)
        sigma = plan_noise_multiplier(target, 1 / 3, 90, DELTA, accountant, prior_history=[setup])
        setup_epsilon = compute_epsilon([setup], DELTA, accountant)
        total = compute_epsilon([setup, StepRecord(sigma, 1 / 3, 90)], DELTA, accountant)

    # Assert
    assert 0.99 * target * share <= setup_epsilon <= target * share
    assert 0.99 * target <= total <= target
    assert caplog.records == []  # neither "optimal order is the largest" nor dp_accounting's


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
@pytest.mark.parametrize("target", [0.1, 1.0])
def test_a_hospital_plans_at_small_targets(accountant, target):
    # Arrange: `simulate --target-epsilon 1` failed here: its 10% setup share is 0.1
    privacy = PrivacySettings(target_epsilon=target, accountant=accountant)
    config = RunConfig(rounds=6, batch_size=256, epochs_per_round=5, privacy=privacy)

    # Act: what the ledgers compose over the run: every release's mechanisms in the hospital's plan
    plan = get_family("diffusion").plan_spoke(config, rows=700)
    epsilon = compute_epsilon([m for release in plan.releases for m in release], config.privacy.delta, accountant)

    # Assert
    assert compute_epsilon([setup_record(config)], DELTA, accountant) <= 0.1 * target
    assert 0.99 * target <= epsilon <= target


def test_an_epsilon_that_needs_orders_beyond_the_largest_is_reported(caplog):
    # Arrange: at delta 1e-10 the best order for sigma 3e4 lies past 2**16 (unusual values:
    # results are cached, and this test must see a fresh computation)
    caplog.set_level(logging.WARNING, logger="fedcore.privacy.accountant")

    # Act
    epsilon = compute_epsilon([StepRecord(30001.0, 1.0, 1)], 1e-10, "rdp")

    # Assert: still a valid (loose) bound, and said so
    assert 0 < epsilon < 1e-3
    assert "optimal order is the largest" in caplog.text


def test_subsampled_histories_stop_at_order_1024_with_a_valid_bound(caplog):
    # Arrange: a setup release at epsilon 0.001 (best order ~5000) and a tiny DP-SGD round
    caplog.set_level(logging.WARNING, logger="fedcore.privacy.accountant")
    setup = StepRecord(2040.9, 1.0, 1)

    # Act
    alone = compute_epsilon([setup], DELTA, "rdp")
    with_round = compute_epsilon([setup, StepRecord(500.0, 0.01, 10)], DELTA, "rdp")

    # Assert: composition never lowers epsilon; the looser bound is said to be loose
    assert alone < 0.001 < with_round < 0.01
    assert "optimal order is the largest taken (1024)" in caplog.text


def test_unconverged_fractional_orders_are_left_out_quietly(caplog):
    # Arrange: sigma 0.83 at q = 1/3: dp_accounting's series for orders 1.1-1.7 does not
    # converge in 1000 terms and those orders are dropped (they matter only at epsilon ~1e2)
    from opacus.accountants import RDPAccountant

    caplog.set_level(logging.WARNING)
    opacus = RDPAccountant()
    opacus.history = [(0.83, 1 / 3, 90)]

    # Act
    epsilon = compute_epsilon([StepRecord(0.83, 1 / 3, 90)], DELTA, "rdp")

    # Assert: an upper bound near Opacus' (which sums that series to the end), no log noise
    assert opacus.get_epsilon(delta=DELTA) <= epsilon <= 1.05 * opacus.get_epsilon(delta=DELTA)
    assert caplog.records == []
