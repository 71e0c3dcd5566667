"""Local training without DP: learning, determinism, no mutation, FedProx, input checks."""

import dataclasses

import numpy as np
import pytest

from fedcore.model import DiffusionConfig, SamplingConfig, initial_weights, sample
from fedcore.preprocessing.encoded import EncodedTable, TabularLayout
from fedcore.training import TrainConfig, evaluate_loss, train_local

import torch

LAYOUT = TabularLayout(2, (2, 3))
MODEL = DiffusionConfig(hidden_dim=32, num_blocks=1, timesteps=40, time_embed_dim=16, norm_groups=4)
FAST = TrainConfig(batch_size=64, epochs=2, learning_rate=3e-3, device="cpu", num_threads=1)


def toy_table(n=300, seed=0) -> EncodedTable:
    """Category c0 decides the sign of both numerics; c1 is independent noise."""
    rng = np.random.default_rng(seed)
    c0 = (rng.random(n) < 0.3).astype(np.int64)
    sign = np.where(c0 == 1, 1.0, -1.0)[:, None]
    num = (1.5 * sign + 0.3 * rng.normal(size=(n, 2))).astype(np.float32)
    c1 = rng.integers(0, 3, n)
    return EncodedTable(num, np.stack([c0, c1], axis=1))


def test_training_reduces_held_out_loss():
    data, held_out = toy_table(400, 0), toy_table(400, 1)
    start = initial_weights(LAYOUT, MODEL, seed=0)

    result = train_local(start, data, LAYOUT, MODEL, dataclasses.replace(FAST, epochs=8), None, seed=0)

    before = evaluate_loss(start, held_out, LAYOUT, MODEL, seed=0, device="cpu")
    after = evaluate_loss(result.weights, held_out, LAYOUT, MODEL, seed=0, device="cpu")
    assert after < 0.8 * before
    assert np.isfinite(result.mean_loss) and result.seconds > 0


def test_step_count_and_sample_rate_without_dp():
    data = toy_table(300)

    result = train_local(initial_weights(LAYOUT, MODEL, 0), data, LAYOUT, MODEL, FAST, None, seed=0)

    assert result.steps == 2 * 5  # ceil(300 / 64) batches per epoch
    assert result.sample_rate == pytest.approx(64 / 300)
    assert result.noise_multiplier is None and result.num_examples == 300


def test_same_seed_same_weights_other_seed_other_weights():
    data = toy_table(200)
    start = initial_weights(LAYOUT, MODEL, seed=0)

    a = train_local(start, data, LAYOUT, MODEL, FAST, None, seed=7)
    b = train_local(start, data, LAYOUT, MODEL, FAST, None, seed=7)
    c = train_local(start, data, LAYOUT, MODEL, FAST, None, seed=8)

    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert any(not np.array_equal(a.weights[k], c.weights[k]) for k in a.weights)


def test_arguments_and_global_rng_are_left_alone():
    data = toy_table(200)
    start = initial_weights(LAYOUT, MODEL, seed=0)
    start_copy = {k: v.copy() for k, v in start.items()}
    num, cat = data.num.copy(), data.cat.copy()
    rng_state = torch.random.get_rng_state()

    train_local(start, data, LAYOUT, dataclasses.replace(MODEL, dropout=0.1), FAST, None, seed=0)

    assert all(np.array_equal(start[k], start_copy[k]) for k in start)
    assert np.array_equal(data.num, num) and np.array_equal(data.cat, cat)
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_fedprox_keeps_the_local_model_near_the_global_one():
    """With mu = 1 / lr, each SGD step lands at w_global - lr * grad: no drift accumulates."""
    data = toy_table(200)
    start = initial_weights(LAYOUT, MODEL, seed=0)
    sgd = dataclasses.replace(FAST, optimizer="sgd", learning_rate=1e-2, weight_decay=0.0, epochs=3)

    free = train_local(start, data, LAYOUT, MODEL, sgd, None, seed=0)
    prox = train_local(start, data, LAYOUT, MODEL, dataclasses.replace(sgd, proximal_mu=100.0), None, seed=0)

    def drift(weights):
        return np.sqrt(sum(np.sum((weights[k] - start[k]) ** 2) for k in start))

    assert free.steps == prox.steps == 12
    assert 0 < drift(prox.weights) < 0.3 * drift(free.weights)


def test_multiplicity_and_lr_schedule_train():
    data = toy_table(200)
    config = dataclasses.replace(FAST, multiplicity=4, lr_schedule="cosine")

    result = train_local(initial_weights(LAYOUT, MODEL, 0), data, LAYOUT, MODEL, config, None, seed=0)

    assert result.steps == 2 * 4 and np.isfinite(result.mean_loss)


def test_trained_model_reproduces_the_toy_dependency():
    """End to end: the sampled sign of the numerics follows the sampled category."""
    data = toy_table(600)
    model = dataclasses.replace(MODEL, cat_diffusion="gaussian_onehot")
    config = dataclasses.replace(FAST, epochs=40, batch_size=128, learning_rate=1e-2)
    result = train_local(initial_weights(LAYOUT, model, 0), data, LAYOUT, model, config, None, seed=0)

    table = sample(result.weights, LAYOUT, 1000, SamplingConfig(steps=20), torch.Generator().manual_seed(0),
                   model_config=model, device="cpu")

    share = table.cat[:, 0].mean()
    assert 0.15 < share < 0.45  # about 30% in category 1
    assert np.mean(table.num[table.cat[:, 0] == 1, 0] > 0) > 0.8
    assert np.mean(table.num[table.cat[:, 0] == 0, 0] < 0) > 0.8
    conditioned = sample(result.weights, LAYOUT, 300, SamplingConfig(steps=20), torch.Generator().manual_seed(1),
                         {0: 1}, model_config=model, device="cpu")
    assert np.mean(conditioned.num[:, 0] > 0) > 0.8


@pytest.mark.parametrize(
    "table, message",
    [
        (EncodedTable(np.zeros((5, 3), np.float32), np.zeros((5, 2), np.int64)), "numeric"),
        (EncodedTable(np.zeros((5, 2), np.float32), np.zeros((5, 1), np.int64)), "categorical"),
        (EncodedTable(np.full((5, 2), np.nan, np.float32), np.zeros((5, 2), np.int64)), "NaN"),
        (EncodedTable(np.zeros((5, 2), np.float32), np.full((5, 2), 2, np.int64)), "out of range"),
        (EncodedTable(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.int64)), "empty"),
    ],
)
def test_bad_tables_are_rejected(table, message):
    with pytest.raises(ValueError, match=message):
        train_local(initial_weights(LAYOUT, MODEL, 0), table, LAYOUT, MODEL, FAST, None, seed=0)


@pytest.mark.parametrize(
    "field, value",
    [("batch_size", 0), ("epochs", 0), ("learning_rate", 0.0), ("optimizer", "lion"), ("weight_decay", -1.0),
     ("max_grad_norm", 0.0), ("proximal_mu", -0.1), ("multiplicity", 0), ("lr_schedule", "step"), ("momentum", 1.0)],
)
def test_train_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})
