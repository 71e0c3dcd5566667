"""Epsilon from dp_accounting's accountants: golden values (side by side with Opacus),
composition, q = 1, validation, no torch."""

import math
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import norm

from fedcore.privacy.accountant import RDP_ORDERS, StepRecord, coalesce, compute_epsilon

DELTA = 1e-5
ROOT = pathlib.Path(__file__).resolve().parents[1]


def analytic_gaussian_epsilon(noise_multiplier: float, steps: int, delta: float) -> float:
    """Exact epsilon of `steps` Gaussian mechanisms (Balle & Wang 2018, Theorem 8):
    composition is one Gaussian with mu = sqrt(steps) / sigma."""
    mu = math.sqrt(steps) / noise_multiplier

    def delta_at(eps):
        return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2) - delta

    return brentq(delta_at, 0.0, 200.0)


@pytest.mark.parametrize(
    ("accountant", "record", "expected", "tolerance"),
    [
        ("rdp", StepRecord(1.5, 0.04, 2250), 7.329, 0.01),  # Opacus' own RDP test
        ("prv", StepRecord(1.5, 0.04, 2250), 6.777, 0.05),
        ("rdp", StepRecord(4.0, 0.01, 10000), 1.035, 0.02),  # Abadi et al. 2016 setting
        ("prv", StepRecord(4.0, 0.01, 10000), 0.95, 0.05),
    ],
    ids=["rdp-opacus", "prv-opacus", "rdp-abadi", "prv-abadi"],
)
def test_golden_values(accountant, record, expected, tolerance):
    # Act
    epsilon = compute_epsilon([record], DELTA, accountant)

    # Assert
    assert epsilon == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_empty_history_is_zero(accountant):
    assert compute_epsilon([], DELTA, accountant) == 0.0


# Opacus' RDP on its own orders (all at most 63) is the reference: the optimal orders here
# are below 20, and dp_accounting sums the absolute values of the fractional-order series
# (Opacus keeps their signs), so it may only be slightly higher (7.32933 vs 7.32911).
@pytest.mark.parametrize(
    "record",
    [StepRecord(1.5, 0.04, 2250), StepRecord(4.0, 0.01, 10000), StepRecord(2.0, 0.1, 300),
     StepRecord(5.0, 1 / 3, 90), StepRecord(3.0, 1.0, 4)],
)
def test_rdp_matches_opacus_where_its_orders_suffice(record):
    # Arrange
    from opacus.accountants import RDPAccountant

    opacus = RDPAccountant()
    opacus.history = [(record.noise_multiplier, record.sample_rate, record.steps)]
    expected = opacus.get_epsilon(delta=DELTA)

    # Act
    epsilon = compute_epsilon([record], DELTA, "rdp")

    # Assert
    assert expected - 1e-9 <= epsilon <= expected * (1 + 1e-4)


# Unusual sigmas: results are cached per history, and this test must see a fresh computation.
# 276.3 and 2040.7: the setup release at 10% and 1% of a 0.1 target (epsilon 0.01, 0.001).
@pytest.mark.parametrize(("sigma", "steps"), [(1.07, 1), (4.93, 1), (2.03, 3), (276.3, 1), (2040.7, 1)])
def test_prv_at_sample_rate_one_matches_the_analytic_gaussian_mechanism(sigma, steps):
    # Arrange: a setup-round histogram release is StepRecord(sigma / sensitivity, 1.0, 1)
    exact = analytic_gaussian_epsilon(sigma, steps, DELTA)

    # Act
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no divide-by-zero noise at q = 1
        prv = compute_epsilon([StepRecord(sigma, 1.0, steps)], DELTA, "prv")

    # Assert: the pessimistic PLD is an upper bound within about its 1e-4 loss grid
    assert exact - 1e-9 <= prv <= exact + 1e-3


@pytest.mark.parametrize(("sigma", "steps"), [(1.0, 1), (5.0, 1), (2.0, 3), (276.0, 1), (2040.0, 1)])
def test_rdp_at_sample_rate_one_is_a_valid_upper_bound(sigma, steps):
    # Arrange
    exact = analytic_gaussian_epsilon(sigma, steps, DELTA)

    # Act
    rdp = compute_epsilon([StepRecord(sigma, 1.0, steps)], DELTA, "rdp")

    # Assert: RDP is looser than the exact value but not wildly so
    assert exact <= rdp <= exact * 1.25


def test_every_entry_is_composed():
    # Arrange: RDP composes additively; the expected value comes from Opacus' math (an
    # independent implementation) over the same orders: up to 1024 with a subsampled step
    from opacus.accountants.analysis import rdp as analysis

    history = [StepRecord(1.0, 1.0, 1), StepRecord(1.5, 0.04, 500), StepRecord(3.0, 0.01, 100)]
    orders = [a for a in RDP_ORDERS if a <= 1024]
    total_rdp = sum(analysis.compute_rdp(q=r.sample_rate, noise_multiplier=r.noise_multiplier,
                                         steps=r.steps, orders=orders) for r in history)
    expected, _ = analysis.get_privacy_spent(orders=orders, rdp=total_rdp, delta=DELTA)

    # Act
    epsilon = compute_epsilon(history, DELTA)

    # Assert
    assert expected - 1e-9 <= epsilon <= expected * (1 + 1e-4)
    assert epsilon > max(compute_epsilon([r], DELTA) for r in history)


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_two_histories_concatenated_equal_one_combined_history(accountant):
    # Arrange: round 1 and round 2 at the same (sigma, q), and a setup round
    setup = StepRecord(2.0, 1.0, 1)
    round_1, round_2 = StepRecord(1.5, 0.04, 300), StepRecord(1.5, 0.04, 200)

    # Act
    split = compute_epsilon([setup, round_1] + [round_2], DELTA, accountant)
    combined = compute_epsilon([StepRecord(1.5, 0.04, 500), setup], DELTA, accountant)

    # Assert
    assert split == pytest.approx(combined, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    parts=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=6),
    order_seed=st.integers(min_value=0, max_value=2**16),
)
def test_rdp_is_invariant_to_splitting_and_reordering(parts, order_seed):
    # Arrange
    history = [StepRecord(2.0, 0.05, n) for n in parts] + [StepRecord(1.0, 1.0, 1)]
    shuffled = [history[i] for i in np.random.default_rng(order_seed).permutation(len(history))]

    # Act
    as_parts = compute_epsilon(shuffled, DELTA)
    as_one = compute_epsilon([StepRecord(2.0, 0.05, sum(parts)), StepRecord(1.0, 1.0, 1)], DELTA)

    # Assert
    assert as_parts == pytest.approx(as_one, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(min_value=1, max_value=5000), extra=st.integers(min_value=1, max_value=5000))
def test_epsilon_is_monotone_in_steps(steps, extra):
    # Act
    fewer = compute_epsilon([StepRecord(2.0, 0.05, steps)], DELTA)
    more = compute_epsilon([StepRecord(2.0, 0.05, steps + extra)], DELTA)

    # Assert
    assert more >= fewer


def test_coalesce_sums_steps_per_mechanism_without_mutating_input():
    # Arrange
    history = [StepRecord(1.0, 0.1, 5), StepRecord(2.0, 0.1, 1), StepRecord(1.0, 0.1, 7)]
    before = list(history)

    # Act
    merged = coalesce(history)

    # Assert
    assert merged == [StepRecord(1.0, 0.1, 12), StepRecord(2.0, 0.1, 1)]
    assert history == before


def test_step_record_round_trips_through_dict():
    # Arrange
    record = StepRecord(np.float32(1.25), 0.5, np.int64(10))

    # Act
    restored = StepRecord.from_dict(record.to_dict())

    # Assert
    assert restored == record
    assert type(restored.noise_multiplier) is float and type(restored.steps) is int


@pytest.mark.parametrize(
    "kwargs",
    [
        {"noise_multiplier": 0.0, "sample_rate": 0.1, "steps": 1},
        {"noise_multiplier": -1.0, "sample_rate": 0.1, "steps": 1},
        {"noise_multiplier": math.inf, "sample_rate": 0.1, "steps": 1},
        {"noise_multiplier": 1.0, "sample_rate": 0.0, "steps": 1},
        {"noise_multiplier": 1.0, "sample_rate": 1.5, "steps": 1},
        {"noise_multiplier": 1.0, "sample_rate": math.nan, "steps": 1},
        {"noise_multiplier": 1.0, "sample_rate": 0.1, "steps": 0},
        {"noise_multiplier": 1.0, "sample_rate": 0.1, "steps": 2.5},
        {"noise_multiplier": 1.0, "sample_rate": 0.1, "steps": True},
    ],
)
def test_step_record_rejects_invalid_values(kwargs):
    with pytest.raises(ValueError):
        StepRecord(**kwargs)


def test_step_record_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="exactly"):
        StepRecord.from_dict({"noise_multiplier": 1.0, "sample_rate": 0.1, "steps": 1, "eps": 3})


@pytest.mark.parametrize(("delta", "accountant"), [(0.0, "rdp"), (1.0, "rdp"), (1e-5, "gdp")])
def test_compute_epsilon_rejects_bad_delta_or_accountant(delta, accountant):
    with pytest.raises(ValueError):
        compute_epsilon([StepRecord(1.0, 0.1, 1)], delta, accountant)


def test_computing_epsilons_does_not_load_torch():
    # Arrange: a fresh interpreter, so nothing else has imported torch yet
    code = (
        "import sys\n"
        "from fedcore.privacy import StepRecord, compute_epsilon\n"
        "history = [StepRecord(1.5, 0.04, 2250), StepRecord(20.0, 1.0, 1)]\n"
        "print(compute_epsilon(history, 1e-5, 'rdp') > 0, compute_epsilon(history, 1e-5, 'prv') > 0)\n"
        "print(sorted(m for m in ('torch', 'opacus') if m in sys.modules))\n"
    )

    # Act
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    # Assert
    assert completed.stdout.split("\n")[:2] == ["True True", "[]"]
