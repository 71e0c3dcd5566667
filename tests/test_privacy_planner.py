"""Noise planning: the smallest sigma that meets a target, given prior spend."""

import pytest

from fedcore.privacy.accountant import StepRecord, compute_epsilon
from fedcore.privacy.planner import plan_noise_multiplier, poisson_sample_rate, steps_per_round

DELTA = 1e-5


def test_planned_sigma_meets_the_target_and_a_smaller_one_does_not():
    # Act
    sigma = plan_noise_multiplier(3.0, sample_rate=0.04, steps=500, delta=DELTA)

    # Assert
    assert compute_epsilon([StepRecord(sigma, 0.04, 500)], DELTA) <= 3.0
    assert compute_epsilon([StepRecord(sigma - 0.05, 0.04, 500)], DELTA) > 3.0


def test_planner_recovers_the_golden_sigma():
    # Opacus' test: sigma 1.5, q 0.04, 2250 steps -> 7.329 with RDP
    assert plan_noise_multiplier(7.3291, 0.04, 2250, DELTA) == pytest.approx(1.5, abs=0.002)


def test_prior_history_is_included():
    # Arrange
    prior = [StepRecord(2.0, 1.0, 1), StepRecord(1.2, 0.04, 300)]

    # Act
    without_prior = plan_noise_multiplier(6.0, 0.04, 300, DELTA)
    with_prior = plan_noise_multiplier(6.0, 0.04, 300, DELTA, prior_history=prior)

    # Assert
    assert with_prior > without_prior
    assert compute_epsilon([*prior, StepRecord(with_prior, 0.04, 300)], DELTA) <= 6.0
    assert compute_epsilon([*prior, StepRecord(with_prior - 0.05, 0.04, 300)], DELTA) > 6.0


def test_prv_planning_at_sample_rate_one():
    # Arrange: setup-round histograms with a target of epsilon 1
    sigma = plan_noise_multiplier(1.0, sample_rate=1.0, steps=1, delta=DELTA, accountant="prv")

    # Assert
    assert compute_epsilon([StepRecord(sigma, 1.0, 1)], DELTA, "prv") <= 1.0
    assert compute_epsilon([StepRecord(sigma - 0.05, 1.0, 1)], DELTA, "prv") > 1.0


def test_prior_history_that_already_reaches_the_target_is_an_error():
    # Arrange
    prior = [StepRecord(1.5, 0.04, 2250)]  # 7.33 with RDP

    # Act / Assert
    with pytest.raises(ValueError, match="prior history alone"):
        plan_noise_multiplier(5.0, 0.04, 100, DELTA, prior_history=prior)


def test_unreachable_target_is_an_error():
    with pytest.raises(ValueError, match="unreachable"):
        plan_noise_multiplier(0.05, 0.5, 1000, DELTA, max_noise_multiplier=4.0)


@pytest.mark.parametrize("target", [0.0, -1.0, float("inf"), float("nan")])
def test_invalid_target_is_an_error(target):
    with pytest.raises(ValueError):
        plan_noise_multiplier(target, 0.1, 10, DELTA)


def test_steps_per_round_is_epochs_times_ceil_of_one_over_q():
    # 1000 rows, batch 64: q = 0.064, ceil(1000 / 64) = 16 steps per epoch
    assert poisson_sample_rate(1000, 64) == 0.064
    assert steps_per_round(1000, 64, 3) == 48
    assert steps_per_round(1024, 64, 1) == 16


@pytest.mark.parametrize(("rows", "batch_size", "epochs"), [(0, 1, 1), (10, 0, 1), (10, 11, 1), (10, 5, 0)])
def test_steps_per_round_rejects_invalid_sizes(rows, batch_size, epochs):
    with pytest.raises(ValueError):
        steps_per_round(rows, batch_size, epochs)
