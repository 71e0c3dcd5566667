"""Flower strategies behind the Aggregator interface."""

import numpy as np
import pytest

from fedcore.aggregation import ClientUpdate, InvalidUpdateError, StreamingFedAvg, make_aggregator
from fedcore.aggregation.flower_strategies import FlowerStrategyAggregator
from fedcore.serialization import dump_tensors, load_tensors

GLOBAL = {"layer.weight": np.zeros((3, 2), np.float32), "layer.bias": np.zeros(2, np.float32)}
OPTIONS = {
    "fedprox": {"proximal_mu": 0.1},
    "fedadam": {"eta": 0.05, "beta_1": 0.9, "beta_2": 0.99},
    "fedyogi": {},
    "fedadagrad": {},
    "fedtrimmedavg": {"beta": 0.2},
    "fedmedian": {},
    "krum": {"num_malicious_clients": 1},
}


def updates_from(values_per_spoke, examples=None):
    """One update per spoke whose every weight equals the given value."""
    return [
        ClientUpdate(
            spoke=f"spoke-{i}",
            weights={n: np.full(t.shape, value, t.dtype) for n, t in GLOBAL.items()},
            num_examples=examples[i] if examples else 10,
            metrics={"loss": float(i)},
        )
        for i, value in enumerate(values_per_spoke)
    ]


def random_updates(seed, count=5):
    rng = np.random.default_rng(seed)
    return [
        ClientUpdate(f"spoke-{i}", {n: rng.normal(size=t.shape).astype(t.dtype) for n, t in GLOBAL.items()},
                     int(rng.integers(1, 100)))
        for i in range(count)
    ]


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_each_strategy_returns_the_global_names_shapes_and_dtypes(name):
    # Arrange
    aggregator = make_aggregator(name, **OPTIONS[name])

    # Act
    result = aggregator.aggregate(GLOBAL, random_updates(0))

    # Assert
    assert sorted(result.weights) == sorted(GLOBAL)
    for tensor_name, reference in GLOBAL.items():
        assert result.weights[tensor_name].shape == reference.shape
        assert result.weights[tensor_name].dtype == reference.dtype
        assert np.isfinite(result.weights[tensor_name]).all()
    assert result.spokes == tuple(f"spoke-{i}" for i in range(5))


def test_fedprox_aggregates_like_fedavg_and_exposes_mu():
    # Arrange
    updates = random_updates(1)
    fedprox = make_aggregator("fedprox", proximal_mu=0.3)

    # Act
    prox = fedprox.aggregate(GLOBAL, updates)
    avg = StreamingFedAvg().aggregate(GLOBAL, updates)

    # Assert
    assert fedprox.proximal_mu == 0.3
    assert make_aggregator("fedmedian").proximal_mu is None
    for name in GLOBAL:
        np.testing.assert_allclose(prox.weights[name], avg.weights[name], rtol=1e-5, atol=1e-6)
    assert prox.metrics == pytest.approx(avg.metrics)


def test_fedmedian_is_the_elementwise_median():
    # Arrange
    updates = random_updates(2, count=6)

    # Act
    result = make_aggregator("fedmedian").aggregate(GLOBAL, updates)

    # Assert
    for name in GLOBAL:
        expected = np.median(np.stack([u.weights[name] for u in updates]), axis=0)
        np.testing.assert_allclose(result.weights[name], expected, rtol=1e-6)


def test_fedtrimmedavg_drops_the_outliers():
    # Arrange: one spoke per extreme; beta 0.2 of 5 trims one from each end
    updates = updates_from([1.0, 2.0, 3.0, 4.0, 1e6])

    # Act
    result = make_aggregator("fedtrimmedavg", beta=0.2).aggregate(GLOBAL, updates)

    # Assert
    for tensor in result.weights.values():
        np.testing.assert_allclose(tensor, 3.0)


def test_krum_picks_a_non_outlier():
    # Arrange
    rng = np.random.default_rng(3)
    honest = [
        ClientUpdate(f"honest-{i}", {n: (1.0 + 0.01 * rng.normal(size=t.shape)).astype(t.dtype)
                                     for n, t in GLOBAL.items()}, 10)
        for i in range(4)
    ]
    outlier = ClientUpdate("outlier", {n: np.full(t.shape, 100.0, t.dtype) for n, t in GLOBAL.items()}, 1000)

    # Act
    result = make_aggregator("krum", num_malicious_clients=1).aggregate(GLOBAL, [outlier, *honest])

    # Assert: Krum returns one client's weights unchanged, and it is an honest one
    matches = [u.spoke for u in honest if all(np.array_equal(result.weights[n], u.weights[n]) for n in GLOBAL)]
    assert len(matches) == 1


def test_fedadam_state_survives_a_restart():
    # Arrange: two rounds in one process vs. a new process per round with saved state
    round_1, round_2 = random_updates(10), random_updates(11)
    continuous = make_aggregator("fedadam", **OPTIONS["fedadam"])
    first = continuous.aggregate(GLOBAL, round_1)
    second = continuous.aggregate(first.weights, round_2)

    before_restart = make_aggregator("fedadam", **OPTIONS["fedadam"])
    restarted_first = before_restart.aggregate(GLOBAL, round_1)
    saved = dump_tensors(before_restart.state())  # persisted between Lambda invocations

    # Act
    after_restart = make_aggregator("fedadam", **OPTIONS["fedadam"])
    after_restart.load_state(load_tensors(saved))
    restarted_second = after_restart.aggregate(restarted_first.weights, round_2)

    # Assert
    for name in GLOBAL:
        np.testing.assert_array_equal(restarted_second.weights[name], second.weights[name])
    assert int(after_restart.state()["rounds"]) == 2


def test_fedadam_without_saved_state_differs_from_the_continuous_run():
    # Arrange: shows the state matters (a restart that forgets moments gives another model)
    round_1, round_2 = random_updates(10), random_updates(11)
    continuous = make_aggregator("fedadam", **OPTIONS["fedadam"])
    first = continuous.aggregate(GLOBAL, round_1)
    second = continuous.aggregate(first.weights, round_2)

    # Act
    forgetful = make_aggregator("fedadam", **OPTIONS["fedadam"]).aggregate(first.weights, round_2)

    # Assert
    assert not np.allclose(forgetful.weights["layer.weight"], second.weights["layer.weight"])


def test_load_state_checks_what_it_loads():
    # Arrange
    aggregator = make_aggregator("fedadam")
    aggregator.aggregate(GLOBAL, random_updates(0))
    state = aggregator.state()

    # Act / Assert
    with pytest.raises(ValueError, match="mismatched"):
        make_aggregator("fedadam").load_state({k: v for k, v in state.items() if k != "v_t/layer.bias"})
    with pytest.raises(ValueError, match="rounds"):
        make_aggregator("fedadam").load_state({k: v for k, v in state.items() if k != "rounds"})
    with pytest.raises(ValueError, match="stateless"):
        make_aggregator("krum").load_state(state)
    other_model = make_aggregator("fedadam")
    other_model.load_state(state)
    with pytest.raises(ValueError, match="saved for tensors"):
        other_model.aggregate({"other": np.zeros(2, np.float32)},
                              [ClientUpdate("a", {"other": np.ones(2, np.float32)}, 1)])


def test_flower_aggregators_validate_updates():
    # Arrange
    updates = [*random_updates(0, 2), ClientUpdate("bad", {n: np.full(t.shape, np.nan, t.dtype)
                                                           for n, t in GLOBAL.items()}, 5)]

    # Act / Assert
    with pytest.raises(InvalidUpdateError, match="'bad'"):
        make_aggregator("fedmedian").aggregate(GLOBAL, updates)


def test_invalid_strategy_options_raise_value_error():
    with pytest.raises(ValueError, match="FedProx"):
        FlowerStrategyAggregator("fedprox")  # proximal_mu is required
    with pytest.raises(ValueError, match="set by fedcore"):
        FlowerStrategyAggregator("fedadam", initial_parameters=None)
    with pytest.raises(ValueError):
        FlowerStrategyAggregator("fedtrimmedavg", beta=0.7)
