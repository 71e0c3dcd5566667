"""DP-SGD through Opacus ghost clipping: clipping, noise, accounting, determinism."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from opacus import PrivacyEngine
from torch.utils.data import DataLoader, TensorDataset

from fedcore.model import DiffusionConfig, DiffusionLoss, build_model, get_weights, initial_weights
from fedcore.preprocessing.encoded import EncodedTable, TabularLayout
from fedcore.training import DPConfig, TrainConfig, train_local

LAYOUT = TabularLayout(2, (2, 3))
MODEL = DiffusionConfig(hidden_dim=16, num_blocks=1, timesteps=20, time_embed_dim=8, norm_groups=4)
SGD = TrainConfig(batch_size=64, epochs=1, learning_rate=1.0, optimizer="sgd", weight_decay=0.0, device="cpu",
                  num_threads=1)


def table(n=120, seed=0) -> EncodedTable:
    rng = np.random.default_rng(seed)
    cat = np.stack([rng.integers(0, 2, n), rng.integers(0, 3, n)], axis=1)
    num = (rng.normal(size=(n, 2)) + cat[:, :1]).astype(np.float32)
    return EncodedTable(num, cat)


def flat_delta(after: dict, before: dict) -> np.ndarray:
    return np.concatenate([(after[k] - before[k]).ravel() for k in sorted(before)])


@pytest.mark.parametrize("cat_diffusion", ["multinomial", "gaussian_onehot"])
def test_returned_spend_is_opacus_accountant_history(cat_diffusion):
    model = dataclasses.replace(MODEL, cat_diffusion=cat_diffusion)
    config = dataclasses.replace(SGD, learning_rate=1e-3, epochs=3, batch_size=50)

    result = train_local(initial_weights(LAYOUT, model, 0), table(120), LAYOUT, model, config, DPConfig(1.3, 0.5), 0)

    batches = math.ceil(120 / 50)  # Opacus: q = 1 / len(loader), len(loader) steps per epoch
    assert result.steps == 3 * batches
    assert result.sample_rate == pytest.approx(1 / batches)
    assert result.noise_multiplier == 1.3


def test_each_update_is_bounded_by_the_clipping_norm():
    """sigma = 0, q = 1 (one full-batch step), SGD lr 1: |delta w| <= C exactly."""
    data = table(120)
    start = initial_weights(LAYOUT, MODEL, seed=0)
    config = dataclasses.replace(SGD, batch_size=1000)
    clip = 1e-3

    private = train_local(start, data, LAYOUT, MODEL, config, DPConfig(0.0, clip), seed=0)
    public = train_local(start, data, LAYOUT, MODEL, config, None, seed=0)

    assert private.steps == 1 and private.sample_rate == 1.0
    assert np.linalg.norm(flat_delta(private.weights, start)) <= clip * (1 + 1e-4)
    assert np.linalg.norm(flat_delta(private.weights, start)) > 0.1 * clip  # clipped, not zeroed
    assert np.linalg.norm(flat_delta(public.weights, start)) > 100 * clip  # the bound is not vacuous


def test_noise_has_std_sigma_times_clip_over_batch():
    """A huge sigma: the one-step update is Gaussian noise of std sigma * C / expected batch."""
    data = table(120)
    start = initial_weights(LAYOUT, MODEL, seed=0)
    sigma, clip = 1e3, 0.5

    result = train_local(start, data, LAYOUT, MODEL, dataclasses.replace(SGD, batch_size=1000),
                         DPConfig(sigma, clip), seed=0)

    delta = flat_delta(result.weights, start)  # lr = 1: delta = -(sum of clipped grads + noise) / 120
    expected = sigma * clip / 120
    assert delta.size > 1000
    assert np.std(delta) == pytest.approx(expected, rel=0.05)
    assert abs(np.mean(delta)) < 5 * expected / np.sqrt(delta.size)


def test_ghost_clipping_equals_brute_force_per_row_clipping():
    """One Opacus ghost-clipping step equals clipping each row's gradient by hand; the K noise
    draws of a row (multiplicity) count as one sample."""
    model = build_model(LAYOUT, MODEL, seed=0)
    with torch.no_grad():  # non-zero output layers so every parameter gets a gradient
        for p in model.denoiser.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    data = table(16)
    batch = model.training_inputs(torch.tensor(data.num), torch.tensor(data.cat), torch.Generator().manual_seed(0), 3)
    before = {k: v.copy() for k, v in get_weights(model).items()}
    clip = 0.05

    expected = {k: torch.zeros(v.shape) for k, v in before.items()}
    criterion = DiffusionLoss(model, reduction="sum")
    for i in range(16):
        model.denoiser.zero_grad()
        row_target = type(batch.target)(*(f[i : i + 1] for f in batch.target))
        criterion(model.denoiser(batch.x_t[i : i + 1], batch.t[i : i + 1]), row_target).backward()
        grads = {k: p.grad.clone() for k, p in model.denoiser.named_parameters()}
        norm = torch.sqrt(sum((g**2).sum() for g in grads.values()))
        for k, g in grads.items():
            expected[k] += g * min(1.0, clip / (norm.item() + 1e-6)) / 16

    optimizer = torch.optim.SGD(model.denoiser.parameters(), lr=1.0)
    loader = DataLoader(TensorDataset(torch.arange(16)), batch_size=16)
    module, optimizer, dp_criterion, _ = PrivacyEngine().make_private(
        module=model.denoiser, optimizer=optimizer, criterion=DiffusionLoss(model), data_loader=loader,
        noise_multiplier=0.0, max_grad_norm=clip, poisson_sampling=False, grad_sample_mode="ghost",
    )
    optimizer.zero_grad()
    dp_criterion(module(batch.x_t, batch.t), batch.target).backward()
    optimizer.step()

    after = get_weights(module)
    for k in before:
        assert np.allclose(before[k] - after[k], expected[k].numpy(), atol=1e-6), k


def test_dp_training_is_deterministic_given_the_seed():
    data = table(120)
    start = initial_weights(LAYOUT, MODEL, seed=0)
    config = dataclasses.replace(SGD, learning_rate=1e-2, epochs=2, batch_size=30, multiplicity=2)

    a = train_local(start, data, LAYOUT, MODEL, config, DPConfig(1.0, 1.0), seed=3)
    b = train_local(start, data, LAYOUT, MODEL, config, DPConfig(1.0, 1.0), seed=3)
    c = train_local(start, data, LAYOUT, MODEL, config, DPConfig(1.0, 1.0), seed=4)

    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert any(not np.array_equal(a.weights[k], c.weights[k]) for k in a.weights)


def test_empty_poisson_batches_still_take_noisy_accounted_steps():
    data = table(10)
    start = initial_weights(LAYOUT, MODEL, seed=0)
    config = dataclasses.replace(SGD, learning_rate=1e-2, batch_size=1, epochs=3)  # q = 0.1: empty batches occur

    result = train_local(start, data, LAYOUT, MODEL, config, DPConfig(2.0, 1.0), seed=0)

    assert result.steps == 30 and result.sample_rate == pytest.approx(0.1)
    assert all(np.isfinite(w).all() for w in result.weights.values())


def test_fedprox_term_is_added_after_noise_and_pulls_towards_global():
    data = table(120)
    start = initial_weights(LAYOUT, MODEL, seed=0)
    config = dataclasses.replace(SGD, learning_rate=1e-2, epochs=4, batch_size=30)

    free = train_local(start, data, LAYOUT, MODEL, config, DPConfig(0.5, 1.0), seed=0)
    prox = train_local(start, data, LAYOUT, MODEL, dataclasses.replace(config, proximal_mu=100.0),
                       DPConfig(0.5, 1.0), seed=0)

    assert np.linalg.norm(flat_delta(prox.weights, start)) < 0.5 * np.linalg.norm(flat_delta(free.weights, start))
    assert prox.steps == free.steps


@pytest.mark.parametrize("field, value", [("noise_multiplier", -1.0), ("noise_multiplier", float("nan")),
                                          ("max_grad_norm", 0.0)])
def test_dp_config_rejects_bad_values(field, value):
    args = {"noise_multiplier": 1.0, "max_grad_norm": 1.0, field: value}
    with pytest.raises(ValueError, match=field):
        DPConfig(**args)
