"""Forward process, multinomial posterior and the per-row loss."""

import itertools

import numpy as np
import pytest
import torch

from fedcore.model import DiffusionConfig, DiffusionLoss, build_model
from fedcore.model.multinomial import CategoricalCoder, posterior
from fedcore.model.schedules import NoiseSchedule
from fedcore.preprocessing.encoded import TabularLayout

LAYOUT = TabularLayout(3, (2, 3, 4))
SMALL = dict(hidden_dim=32, num_blocks=1, timesteps=50, time_embed_dim=16, norm_groups=4, cat_diffusion="multinomial")


def _batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    num = torch.randn(n, 3, generator=g)
    cat = torch.stack([torch.randint(0, k, (n,), generator=g) for k in LAYOUT.cat_cardinalities], dim=1)
    return num, cat


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedules_decay_from_clean_to_noise(kind):
    for timesteps in (20, 200, 1000):
        schedule = NoiseSchedule.build(kind, timesteps)
        ab = schedule.alpha_bar

        assert ab.shape == (timesteps,)
        assert torch.all(ab[1:] < ab[:-1])
        assert ab[0] > 0.97 and ab[-1] < 0.01


def test_posterior_matches_bayes_rule_by_enumeration():
    cards = (2, 3, 4)
    coder = CategoricalCoder(cards)
    ab_t, ab_s = 0.3, 0.7
    x0 = torch.tensor([[1, 2, 0]])
    xt = torch.tensor([[0, 2, 3]])

    log_post = posterior(coder, coder.log_onehot(x0), coder.log_onehot(xt),
                         torch.tensor(np.log(ab_t)), torch.tensor(np.log(ab_s)))

    for j, k in enumerate(cards):
        ratio = ab_t / ab_s
        q_s_given_x0 = np.array([ab_s * (c == x0[0, j]) + (1 - ab_s) / k for c in range(k)])
        q_t_given_s = np.array([ratio * (xt[0, j] == c) + (1 - ratio) / k for c in range(k)])
        expected = q_s_given_x0 * q_t_given_s / (q_s_given_x0 * q_t_given_s).sum()
        got = log_post[0, j, :k].exp().numpy()
        assert np.allclose(got, expected, atol=1e-5)
        assert np.all(log_post[0, j, k:].exp().numpy() == 0)  # padding slots carry no mass


def test_training_inputs_are_deterministic_and_do_not_modify_the_batch():
    model = build_model(LAYOUT, DiffusionConfig(**SMALL), seed=0)
    num, cat = _batch()
    num_before, cat_before = num.clone(), cat.clone()

    a = model.training_inputs(num, cat, torch.Generator().manual_seed(1))
    b = model.training_inputs(num, cat, torch.Generator().manual_seed(1))
    c = model.training_inputs(num, cat, torch.Generator().manual_seed(2))

    assert torch.equal(num, num_before) and torch.equal(cat, cat_before)
    assert torch.equal(a.x_t, b.x_t) and torch.equal(a.t, b.t)
    assert not torch.equal(a.x_t, c.x_t)
    assert a.x_t.shape == (64, 3 + 9) and a.target.noise.shape == (64, 3)
    assert torch.all((a.t >= 0) & (a.t < 50))


def test_categorical_corruption_follows_alpha_bar():
    model = build_model(LAYOUT, DiffusionConfig(**SMALL), seed=0)
    x0 = torch.zeros(4000, 3, dtype=torch.long)
    g = torch.Generator().manual_seed(0)

    early = model.q_sample_categorical(x0, torch.zeros(4000, dtype=torch.long), g)
    late = model.q_sample_categorical(x0, torch.full((4000,), 49), g)

    assert (early == 0).float().mean() > 0.99
    for j, k in enumerate(LAYOUT.cat_cardinalities):  # near uniform at t = T-1
        assert abs((late[:, j] == 0).float().mean().item() - 1 / k) < 0.05
        assert int(late[:, j].max()) == k - 1


@pytest.mark.parametrize("cat_diffusion", ["multinomial", "gaussian_onehot"])
def test_loss_is_per_row_and_rows_are_independent(cat_diffusion):
    model = build_model(LAYOUT, DiffusionConfig(**{**SMALL, "cat_diffusion": cat_diffusion}), seed=0)
    batch = model.training_inputs(*_batch(8), torch.Generator().manual_seed(0))
    output = torch.randn(8, model.denoiser.out_proj.out_features)
    per_row = DiffusionLoss(model, reduction="none")(output, batch.target)

    single = [
        DiffusionLoss(model, reduction="none")(output[i : i + 1], type(batch.target)(*(f[i : i + 1] for f in batch.target)))
        for i in range(8)
    ]

    assert per_row.shape == (8,)
    assert torch.allclose(per_row, torch.cat(single), atol=1e-6)
    assert torch.isclose(DiffusionLoss(model, reduction="mean")(output, batch.target), per_row.mean())
    assert torch.isclose(DiffusionLoss(model, reduction="sum")(output, batch.target), per_row.sum())


def test_perfect_prediction_has_zero_loss_and_wrong_prediction_does_not():
    model = build_model(LAYOUT, DiffusionConfig(**SMALL), seed=0)
    num, cat = _batch(32)
    batch = model.training_inputs(num, cat, torch.Generator().manual_seed(0))
    logits = 50.0 * model.coder.onehot_flat(cat)  # all mass on the true x_0
    wrong = 50.0 * model.coder.onehot_flat((cat + 1) % torch.tensor(LAYOUT.cat_cardinalities))

    perfect = DiffusionLoss(model, reduction="none")(torch.cat([batch.target.noise, logits], 1), batch.target)
    bad = DiffusionLoss(model, reduction="none")(torch.cat([batch.target.noise, wrong], 1), batch.target)

    assert torch.all(perfect.abs() < 1e-4)
    assert torch.all(bad > perfect)


def test_huber_and_mse_differ_on_large_errors():
    layout = TabularLayout(2, ())
    huber = build_model(layout, DiffusionConfig(**SMALL, loss="huber"), seed=0)
    mse = build_model(layout, DiffusionConfig(**SMALL, loss="mse"), seed=0)
    batch = mse.training_inputs(torch.zeros(4, 2), torch.zeros(4, 0, dtype=torch.long), torch.Generator().manual_seed(0))
    output = batch.target.noise + 3.0

    assert torch.allclose(DiffusionLoss(mse, "none")(output, batch.target), torch.full((4,), 9.0))
    assert torch.allclose(DiffusionLoss(huber, "none")(output, batch.target), torch.full((4,), 2.5))


def test_coder_pads_features_of_different_cardinality():
    coder = CategoricalCoder((2, 3, 1))
    index = torch.tensor(list(itertools.product(range(2), range(3), range(1))))  # (6, 3) every combination

    padded = coder.pad(coder.onehot_flat(index))  # (6, 3, 3)

    assert coder.total == 6 and padded.shape == (6, 3, 3)
    assert torch.equal(padded.argmax(dim=-1), index)
    assert torch.all(padded[:, 0, 2] < -1e3) and torch.all(padded[:, 2, 1:] < -1e3)  # padding slots
