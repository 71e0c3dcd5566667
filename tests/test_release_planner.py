"""Full-batch Gaussian releases that split a budget: land on the target, noise by share."""

import math

import pytest

from fedcore.privacy.accountant import StepRecord, compute_epsilon
from fedcore.privacy.release_planner import RELEASE_EPSILON_TOLERANCE, plan_release_sigmas

DELTA = 1e-5


def releases(sigmas):
    return [StepRecord(sigma, 1.0, 1) for sigma in sigmas]


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
@pytest.mark.parametrize("target", [0.1, 1.0, 3.0, 10.0])
def test_releases_compose_to_the_target(accountant, target):
    # Act
    sigmas = plan_release_sigmas(target, (0.1, 0.1, 0.8), DELTA, accountant)

    # Assert
    epsilon = compute_epsilon(releases(sigmas), DELTA, accountant)
    assert target * (1 - RELEASE_EPSILON_TOLERANCE) <= epsilon <= target


def test_a_larger_share_gets_less_noise_in_proportion_to_one_over_its_square_root():
    # Act
    sigmas = plan_release_sigmas(1.0, (0.8, 0.05, 0.15), DELTA, "rdp")

    # Assert: returned in the order of the shares; each release's rho is its share of the total
    assert sigmas[0] < sigmas[2] < sigmas[1]
    assert sigmas[1] / sigmas[0] == pytest.approx(math.sqrt(0.8 / 0.05), rel=1e-12)
    assert sigmas[2] / sigmas[0] == pytest.approx(math.sqrt(0.8 / 0.15), rel=1e-12)


@pytest.mark.parametrize("accountant", ["rdp", pytest.param("prv", marks=pytest.mark.slow)])  # PRV: about 6 s
def test_prior_history_is_included(accountant):
    # Arrange: a training run that already spent part of the budget
    prior = [StepRecord(2.0, 0.05, 100)]
    shares = (0.3, 0.7)

    # Act
    without_prior = plan_release_sigmas(3.0, shares, DELTA, accountant)
    with_prior = plan_release_sigmas(3.0, shares, DELTA, accountant, prior_history=prior)

    # Assert
    assert all(after > before for after, before in zip(with_prior, without_prior))
    epsilon = compute_epsilon([*prior, *releases(with_prior)], DELTA, accountant)
    assert 3.0 * (1 - RELEASE_EPSILON_TOLERANCE) <= epsilon <= 3.0


def test_shares_below_one_in_total_only_set_the_relative_noise():
    # Act: the same ratios at half the total plan the same noise
    full = plan_release_sigmas(1.0, (0.25, 0.75), DELTA, "rdp")
    half = plan_release_sigmas(1.0, (0.125, 0.375), DELTA, "rdp")

    # Assert: equal up to where each bisection stopped (epsilon within 1e-3 of the target)
    assert half == pytest.approx(full, rel=2e-3)


def test_a_single_release_matches_the_single_step_planner():
    # Arrange
    from fedcore.privacy.planner import plan_noise_multiplier

    # Act
    (sigma,) = plan_release_sigmas(0.5, (1.0,), DELTA, "rdp")

    # Assert
    assert sigma == pytest.approx(plan_noise_multiplier(0.5, 1.0, 1, DELTA), rel=2e-3)


@pytest.mark.parametrize(
    "shares",
    [(), (0.5, 0.0), (-0.1, 0.5), (0.6, 0.6), (math.nan,), (math.inf,), (True, 0.5), ("0.5",), "ab", 0.5],
    ids=["empty", "zero", "negative", "sum-above-one", "nan", "inf", "bool", "string-share", "string", "scalar"],
)
def test_invalid_shares_are_refused(shares):
    with pytest.raises(ValueError, match="share"):
        plan_release_sigmas(1.0, shares, DELTA, "rdp")


def test_prior_history_that_already_reaches_the_target_is_an_error():
    with pytest.raises(ValueError, match="prior history alone"):
        plan_release_sigmas(1.0, (0.5, 0.5), DELTA, "rdp", prior_history=[StepRecord(1.5, 0.04, 2250)])


@pytest.mark.parametrize("target", [0.0, -1.0, math.inf, math.nan])
def test_invalid_target_is_an_error(target):
    with pytest.raises(ValueError, match="target_epsilon"):
        plan_release_sigmas(target, (0.5, 0.5), DELTA, "rdp")
