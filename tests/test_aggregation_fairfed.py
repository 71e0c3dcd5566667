"""FairFed: fairness-gap weights, capped per hospital, carried between rounds as named tensors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcore.aggregation import ClientUpdate, InvalidUpdateError, StreamingFedAvg, make_aggregator
from fedcore.aggregation.fairfed import FairFed, fairfed_shares
from fedcore.aggregation.registry import validate_strategy_params
from fedcore.aggregation.strategy_params import FairFedParams
from fedcore.serialization import dump_tensors, load_tensors

GLOBAL = {"w": np.zeros((3, 2), np.float32), "b": np.zeros(2, np.float64)}


def update(spoke, value, examples, gap=None, loss=None):
    """An update whose every weight equals ``value``."""
    metrics = {} if gap is None else {"fairness_gap": gap}
    if loss is not None:
        metrics["loss"] = loss
    return ClientUpdate(spoke, {n: np.full(t.shape, value, t.dtype) for n, t in GLOBAL.items()}, examples, metrics)


def random_updates(seed, examples):
    rng = np.random.default_rng(seed)
    return [ClientUpdate(f"spoke-{i}", {n: rng.normal(size=t.shape).astype(t.dtype) for n, t in GLOBAL.items()},
                         int(n), {"loss": float(rng.uniform(0, 2))})
            for i, n in enumerate(examples)]


# Three hospitals, row shares (0.25, 0.5, 0.25); gaps (0.10, 0.02, 0.03), mean 0.05, so
# Δ - mean = (+0.05, -0.03, -0.02): "a" is further than average from the global fairness.
def three_hospitals():
    return [update("a", 1.0, 100, gap=0.10), update("b", 2.0, 200, gap=0.02), update("c", 4.0, 100, gap=0.03)]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), examples=st.lists(st.integers(1, 10_000), min_size=1, max_size=6))
def test_without_gaps_it_is_fedavg(seed, examples):
    # Arrange
    updates = random_updates(seed, examples)

    # Act
    fair = FairFed().aggregate(GLOBAL, updates)
    avg = StreamingFedAvg().aggregate(GLOBAL, updates)

    # Assert
    for name, reference in GLOBAL.items():
        assert fair.weights[name].dtype == reference.dtype
        np.testing.assert_allclose(fair.weights[name], avg.weights[name], rtol=1e-6, atol=1e-6)
    assert (fair.spokes, fair.total_examples) == (avg.spokes, avg.total_examples)
    assert fair.metrics == pytest.approx(avg.metrics)


@pytest.mark.parametrize(("beta", "expected"), [(1.0, (0.20, 0.53, 0.27)), (2.0, (0.15, 0.56, 0.29))])
def test_each_weight_moves_by_beta_times_its_gap_above_the_mean(beta, expected):
    # Arrange: by hand, w = row share - beta * (Δ - mean Δ); these already sum to 1 and no cap binds
    aggregator = FairFed(beta=beta)

    # Act
    result = aggregator.aggregate(GLOBAL, three_hospitals())

    # Assert: "a" (gap above the mean) loses weight, "b" and "c" (below it) gain
    assert list(aggregator.last_weights) == ["a", "b", "c"]
    assert list(aggregator.last_weights.values()) == pytest.approx(expected, abs=1e-12)
    model_value = expected[0] * 1.0 + expected[1] * 2.0 + expected[2] * 4.0  # e.g. 0.2 + 1.06 + 1.08 = 2.34
    np.testing.assert_allclose(result.weights["b"], model_value, rtol=1e-12)
    np.testing.assert_allclose(result.weights["w"], model_value, rtol=1e-6)


def test_a_hospital_without_a_gap_keeps_its_weight_before_renormalisation():
    # Arrange: equal rows; gaps (0.3, none, 0.1): mean of the reported 0.2, so deviations (+0.1, 0, -0.1)
    updates = [update("a", 0.0, 10, gap=0.3), update("b", 0.0, 10), update("c", 0.0, 10, gap=0.1)]
    aggregator = FairFed()

    # Act
    aggregator.aggregate(GLOBAL, updates)

    # Assert
    third = 1 / 3
    assert list(aggregator.last_weights.values()) == pytest.approx([third - 0.1, third, third + 0.1], abs=1e-12)


def test_the_second_round_starts_from_the_first_rounds_weights_also_after_a_restart():
    # Arrange: one process for both rounds vs. a new one for round 2 with the saved state
    continuous = FairFed()
    continuous.aggregate(GLOBAL, three_hospitals())
    saved = dump_tensors(continuous.state())  # persisted between Lambda invocations
    restarted = FairFed()

    # Act
    restarted.load_state(load_tensors(saved))
    second = restarted.aggregate(GLOBAL, three_hospitals())
    reference = continuous.aggregate(GLOBAL, three_hospitals())

    # Assert: (0.20, 0.53, 0.27) - (0.05, -0.03, -0.02), by hand
    assert list(restarted.last_weights.values()) == pytest.approx([0.15, 0.56, 0.29], abs=1e-12)
    assert restarted.last_weights == continuous.last_weights
    for name in GLOBAL:
        np.testing.assert_array_equal(second.weights[name], reference.weights[name])
    state = restarted.state()
    assert sorted(state) == ["weight/a", "weight/b", "weight/c"]
    assert all(t.dtype == np.float64 and t.shape == (1,) for t in state.values())


def test_a_hospital_that_sits_out_a_round_keeps_its_weight_in_the_state():
    # Arrange
    aggregator = FairFed()
    aggregator.aggregate(GLOBAL, three_hospitals())  # (0.20, 0.53, 0.27)

    # Act
    aggregator.aggregate(GLOBAL, [update("a", 0.0, 100), update("b", 0.0, 200)])

    # Assert: a and b renormalised from 0.20 and 0.53; c's 0.27 waits for its return
    assert aggregator.last_weights == pytest.approx({"a": 0.20 / 0.73, "b": 0.53 / 0.73})
    assert float(aggregator.state()["weight/c"][0]) == pytest.approx(0.27)


def test_a_hospital_reporting_no_gap_against_large_gaps_never_exceeds_its_cap():
    # Arrange: equal rows (share 1/3, cap 2/3); "a" claims Δ=0 every round, the others 0.9
    def round_updates():
        return [update("a", 10.0, 50, gap=0.0), update("b", 0.0, 50, gap=0.9), update("c", 0.0, 50, gap=0.9)]

    capped, uncapped = FairFed(max_weight_ratio=2.0), FairFed(max_weight_ratio=100.0)

    # Act
    capped_rounds = []
    for _ in range(5):
        capped.aggregate(GLOBAL, round_updates())
        capped_rounds.append(capped.last_weights)
    for _ in range(2):
        uncapped.aggregate(GLOBAL, round_updates())

    # Assert: round 1 by hand: u = (1/3 + 0.6, 1/3 - 0.3, 1/3 - 0.3); a is cut to its cap 2/3 and the
    # other 1/3 is spread over b and c; later rounds clip b and c to 0, and what a's cap leaves goes to
    # them by row share. Without the cap, a takes the whole model by round 2.
    for weights in capped_rounds:
        assert weights == pytest.approx({"a": 2 / 3, "b": 1 / 6, "c": 1 / 6}, abs=1e-12)
        assert weights["a"] <= 2 / 3 + 1e-12
    assert uncapped.last_weights == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.0}, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 1000), st.floats(0, 1), st.none() | st.floats(0, 1)), min_size=1, max_size=8),
    beta=st.floats(0.01, 10), ratio=st.floats(1, 100),
)
def test_shares_are_a_distribution_within_the_caps_whatever_is_reported(data, beta, ratio):
    # Arrange: any row counts, any previous weights, any gaps (some missing)
    rows = np.array([max(n, 1) if i == 0 else n for i, (n, _, _) in enumerate(data)], np.float64)
    row_shares = rows / rows.sum()
    previous = np.array([p for _, p, _ in data])
    gaps = [g for _, _, g in data]

    # Act
    shares = fairfed_shares(previous, row_shares, gaps, beta, ratio)

    # Assert: the precise guarantee: after normalisation, 0 <= w_k <= ratio x row share_k, sum 1
    assert shares.sum() == pytest.approx(1.0, abs=1e-9)
    assert (shares >= 0).all()
    assert (shares <= ratio * row_shares + 1e-12).all()


def test_when_no_cap_binds_shares_are_the_clipped_weights_renormalised():
    # Arrange: previous (0.5, 0.3, 0.2), deviations (+0.3, -0.1, -0.2) with beta 1 -> u = (0.2, 0.4, 0.4)
    previous, row_shares = np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.3, 0.3])
    gaps = [0.5, 0.1, 0.0]  # mean 0.2

    # Act
    shares = fairfed_shares(previous, row_shares, gaps, beta=1.0, max_weight_ratio=2.0)

    # Assert
    np.testing.assert_allclose(shares, [0.2, 0.4, 0.4], atol=1e-12)


def test_invalid_updates_reported_to_on_invalid_are_left_out():
    # Arrange: a NaN tensor, a negative gap and a NaN gap, among the three good hospitals
    bad = [ClientUpdate("nan-weights", {"w": np.full((3, 2), np.nan, np.float32), "b": np.zeros(2)}, 100,
                        {"fairness_gap": 0.0}),
           update("negative-gap", 9.0, 100, gap=-0.5), update("nan-gap", 9.0, 100, gap=float("nan"))]
    good = three_hospitals()
    reported = []

    # Act
    aggregator = FairFed()
    result = aggregator.aggregate(GLOBAL, [good[0], *bad, good[1], good[2]],
                                  on_invalid=lambda spoke, error: reported.append((spoke, error)))
    reference = FairFed().aggregate(GLOBAL, good)

    # Assert
    assert [spoke for spoke, _ in reported] == ["nan-weights", "negative-gap", "nan-gap"]
    assert all(isinstance(error, InvalidUpdateError) for _, error in reported)
    assert result.spokes == ("a", "b", "c") and result.total_examples == 400
    assert list(aggregator.last_weights.values()) == pytest.approx([0.20, 0.53, 0.27], abs=1e-12)
    for name in GLOBAL:
        np.testing.assert_array_equal(result.weights[name], reference.weights[name])
    assert sorted(aggregator.state()) == ["weight/a", "weight/b", "weight/c"]


@pytest.mark.parametrize("bad", [update("bad", 0.0, 10, gap=-0.1), update("bad", 0.0, 10, gap=float("inf")),
                                 ClientUpdate("bad", {"w": np.zeros((2, 3), np.float32), "b": np.zeros(2)}, 10)],
                         ids=["negative-gap", "infinite-gap", "shape"])
def test_without_on_invalid_an_invalid_update_raises_naming_the_spoke(bad):
    with pytest.raises(InvalidUpdateError, match="'bad'"):
        FairFed().aggregate(GLOBAL, [*three_hospitals(), bad])


def test_metrics_are_the_tallys_example_weighted_means():
    # Arrange
    updates = [update("a", 0.0, 100, gap=0.1, loss=1.0), update("b", 0.0, 300, gap=0.3, loss=3.0)]

    # Act
    result = FairFed().aggregate(GLOBAL, updates)

    # Assert
    assert result.metrics == pytest.approx({"loss": 2.5, "fairness_gap": 0.25})


@pytest.mark.parametrize("state", [
    {"rounds": np.array(1)},
    {"weight/": np.array([0.5])},
    {"weight/a": np.array(0.5)},
    {"weight/a": np.array([0.5, 0.5])},
    {"weight/a": np.array([1], np.int64)},
    {"weight/a": np.array([np.nan])},
    {"weight/a": np.array([-0.1])},
    {"weight/a": np.array([1.5])},
], ids=["unknown-name", "empty-spoke", "scalar", "two-values", "integer", "nan", "negative", "above-one"])
def test_load_state_refuses_anything_but_spoke_weights(state):
    with pytest.raises(ValueError, match="fairfed state"):
        FairFed().load_state(state)


def test_loading_an_empty_state_starts_afresh():
    # Arrange
    aggregator = FairFed()
    aggregator.aggregate(GLOBAL, three_hospitals())

    # Act
    aggregator.load_state({})

    # Assert
    assert aggregator.state() == {} and aggregator.last_weights == {}


def test_params_are_validated_through_the_registry():
    # Arrange / Act
    default = make_aggregator("fairfed")
    tuned = make_aggregator("fairfed", beta=0.5, max_weight_ratio=3)

    # Assert
    assert isinstance(default, FairFed)
    assert (default.beta, default.max_weight_ratio) == (FairFedParams().beta, FairFedParams().max_weight_ratio)
    assert (default.beta, default.max_weight_ratio) == (1.0, 2.0)
    assert (tuned.beta, tuned.max_weight_ratio) == (0.5, 3.0)
    assert validate_strategy_params("fairfed", {}) == {}  # only the ones given: FairFed's defaults apply
    assert validate_strategy_params("fairfed", {"beta": 2}) == {"beta": 2.0}
    with pytest.raises(ValueError, match="beta"):
        validate_strategy_params("fairfed", {"beta": 0})
    with pytest.raises(ValueError, match="beta"):
        make_aggregator("fairfed", beta=0)
    with pytest.raises(ValueError, match="beta"):
        FairFed(beta=10.5)
    with pytest.raises(ValueError, match="max_weight_ratio"):
        make_aggregator("fairfed", max_weight_ratio=0.5)
    with pytest.raises(ValueError, match="fairfed takes no parameter 'gamma'"):
        validate_strategy_params("fairfed", {"gamma": 1.0})
    with pytest.raises(ValueError, match="fairfed takes no parameter 'gamma'"):
        make_aggregator("fairfed", gamma=1.0)
