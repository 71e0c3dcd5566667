"""Streaming FedAvg equals the weighted mean, in O(model) memory."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcore.aggregation import ClientUpdate, InvalidUpdateError, StreamingFedAvg

GLOBAL = {"w": np.zeros((4, 3), np.float32), "b": np.zeros(3, np.float64)}


def random_updates(seed, count, examples=None):
    rng = np.random.default_rng(seed)
    return [
        ClientUpdate(
            spoke=f"spoke-{i}",
            weights={name: rng.normal(size=t.shape).astype(t.dtype) for name, t in GLOBAL.items()},
            num_examples=int(examples[i]) if examples is not None else int(rng.integers(1, 500)),
            metrics={"loss": float(rng.uniform(0, 2))},
        )
        for i in range(count)
    ]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), examples=st.lists(st.integers(0, 10_000), min_size=1, max_size=8))
def test_equals_numpy_weighted_average(seed, examples):
    # Arrange
    if sum(examples) == 0:
        examples = [*examples[:-1], 1]
    updates = random_updates(seed, len(examples), examples)

    # Act
    result = StreamingFedAvg().aggregate(GLOBAL, iter(updates))

    # Assert
    for name, reference in GLOBAL.items():
        stacked = np.stack([u.weights[name].astype(np.float64) for u in updates])
        expected = np.average(stacked, axis=0, weights=examples)
        assert result.weights[name].dtype == reference.dtype
        np.testing.assert_allclose(result.weights[name], expected, rtol=1e-6, atol=1e-6)
    assert result.total_examples == sum(examples)
    loss = np.average([u.metrics["loss"] for u in updates], weights=examples)
    assert result.metrics["loss"] == pytest.approx(loss)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), order_seed=st.integers(0, 2**32 - 1))
def test_permutation_invariant(seed, order_seed):
    # Arrange
    updates = random_updates(seed, 6)
    shuffled = [updates[i] for i in np.random.default_rng(order_seed).permutation(6)]

    # Act
    forward = StreamingFedAvg().aggregate(GLOBAL, updates)
    permuted = StreamingFedAvg().aggregate(GLOBAL, shuffled)

    # Assert
    for name in GLOBAL:
        np.testing.assert_allclose(forward.weights[name], permuted.weights[name], rtol=1e-6, atol=1e-7)


def test_does_not_mutate_inputs():
    # Arrange
    updates = random_updates(0, 3)
    copies = [{n: t.copy() for n, t in u.weights.items()} for u in updates]
    global_copy = {n: t.copy() for n, t in GLOBAL.items()}

    # Act
    StreamingFedAvg().aggregate(GLOBAL, updates)

    # Assert
    for update, copy in zip(updates, copies):
        for name in copy:
            np.testing.assert_array_equal(update.weights[name], copy[name])
    for name in GLOBAL:
        np.testing.assert_array_equal(GLOBAL[name], global_copy[name])


@pytest.mark.parametrize(
    "bad_weights",
    [
        {"w": np.full((4, 3), np.nan, np.float32), "b": np.zeros(3)},
        {"w": np.zeros((4, 3), np.float32), "b": np.array([np.inf, 0, 0])},
        {"w": np.zeros((3, 4), np.float32), "b": np.zeros(3)},
        {"w": np.zeros((4, 3), np.float32)},
        {"w": np.zeros((4, 3), np.float32), "b": np.zeros(3), "c": np.zeros(1)},
    ],
    ids=["nan", "inf", "shape", "missing", "extra"],
)
def test_rejects_invalid_updates_naming_the_spoke(bad_weights):
    # Arrange
    updates = [*random_updates(0, 2), ClientUpdate("bad-spoke", bad_weights, 10)]

    # Act / Assert
    with pytest.raises(InvalidUpdateError, match="bad-spoke"):
        StreamingFedAvg().aggregate(GLOBAL, updates)


def test_rejects_zero_total_weight_no_updates_and_duplicates():
    # Arrange
    zero = [ClientUpdate(u.spoke, u.weights, 0) for u in random_updates(0, 2)]
    duplicate = random_updates(0, 1) * 2

    # Act / Assert
    with pytest.raises(ValueError, match="zero examples"):
        StreamingFedAvg().aggregate(GLOBAL, zero)
    with pytest.raises(ValueError, match="no updates"):
        StreamingFedAvg().aggregate(GLOBAL, [])
    with pytest.raises(InvalidUpdateError, match="more than one update"):
        StreamingFedAvg().aggregate(GLOBAL, duplicate)


def test_is_stateless():
    aggregator = StreamingFedAvg()
    assert aggregator.state() == {}
    aggregator.load_state({})
    with pytest.raises(ValueError):
        aggregator.load_state({"x": np.zeros(1)})


def _peak_bytes_streaming(count, model):
    def lazily_generated():
        for i in range(count):
            rng = np.random.default_rng(i)
            yield ClientUpdate(f"s{i}", {"w": rng.standard_normal(model["w"].shape, dtype=np.float32)}, 10)

    tracemalloc.start()
    try:
        StreamingFedAvg().aggregate(model, lazily_generated())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_number_of_spokes():
    # Arrange: a 4 MB float32 model
    model = {"w": np.zeros((1000, 1000), np.float32)}
    model_bytes = model["w"].nbytes

    # Act
    peak_5 = _peak_bytes_streaming(5, model)
    peak_50 = _peak_bytes_streaming(50, model)

    # Assert: keeping every update would add 45 models; streaming adds nothing per spoke
    assert peak_50 <= peak_5 + model_bytes // 4
    assert peak_5 <= 6 * model_bytes  # float64 sum (2x) + one update and its temporaries
