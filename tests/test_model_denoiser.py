"""The denoiser is Opacus-compatible and built deterministically without the global RNG."""

import dataclasses

import numpy as np
import torch
from opacus.validators import ModuleValidator

from fedcore.model import DiffusionConfig, build_model, get_weights, initial_weights
from fedcore.preprocessing.encoded import TabularLayout

LAYOUT = TabularLayout(3, (2, 3, 4))
CONFIG = DiffusionConfig(hidden_dim=32, num_blocks=2, timesteps=20, time_embed_dim=16, norm_groups=4)


def test_denoiser_passes_opacus_strict_validation_and_has_no_buffers():
    model = build_model(LAYOUT, CONFIG, seed=0)

    errors = ModuleValidator.validate(model.denoiser, strict=False)

    assert errors == []
    ModuleValidator.validate(model.denoiser, strict=True)  # raises on any incompatibility
    assert list(model.denoiser.buffers()) == []
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.denoiser.modules())


def test_initial_network_is_zero_so_the_model_starts_as_its_marginal_prior():
    config = dataclasses.replace(CONFIG, cat_diffusion="multinomial")
    plain = build_model(LAYOUT, dataclasses.replace(config, marginal_prior=False), seed=0)
    model = build_model(LAYOUT, config, seed=0)
    t = torch.tensor([0, 1, 5, 10, 19])
    x = torch.cat([torch.randn(5, 3), model.coder.onehot_flat(torch.tensor([[1, 0, 3]] * 5))], dim=1)

    raw = plain.denoiser(x, t)
    out = model.denoiser(x, t)

    assert raw.shape == out.shape == (5, 3 + 9)
    assert torch.count_nonzero(raw) == 0
    ab = model.schedule.alpha_bar[t].float()
    assert torch.allclose(out[:, :3], (1 - ab).sqrt()[:, None] * x[:, :3], atol=1e-6)  # E[eps | x_t], x_0 ~ N(0, 1)
    probs = torch.softmax(out[:, 3:5], dim=1)  # feature 0 (2 categories), current category 1
    assert torch.allclose(probs[:, 1], ab + (1 - ab) / 2, atol=1e-5)  # q(x_t | x_0) under a uniform prior


def test_gaussian_onehot_prior_is_the_optimal_linear_denoiser_at_init():
    config = dataclasses.replace(CONFIG, cat_diffusion="gaussian_onehot", onehot_scale=0.5)
    model = build_model(LAYOUT, config, seed=0)
    t = torch.tensor([0, 7, 19])
    x = torch.randn(3, 12)

    out = model.denoiser(x, t)

    a, b = model.schedule.alpha_bar[t].float().sqrt()[:, None], (1 - model.schedule.alpha_bar[t].float()).sqrt()[:, None]
    assert torch.allclose(out[:, :3], b * x[:, :3], atol=1e-6)
    assert torch.allclose(out[:, 3:], b * x[:, 3:] / (a**2 * 0.25 + b**2), atol=1e-5)  # x_0 ~ N(0, 0.5^2)
    assert model.denoiser.cat_mean is not None  # learned one-hot means start at zero


def test_network_accepts_noise_draws_as_an_extra_axis():
    model = build_model(LAYOUT, CONFIG, seed=0)
    with torch.no_grad():
        model.denoiser.out_proj.weight.normal_(generator=torch.Generator().manual_seed(0))
    x = torch.randn(4, 3, 12)
    t = torch.randint(0, 20, (4, 3), generator=torch.Generator().manual_seed(0))

    stacked = model.denoiser(x, t)
    one_by_one = torch.stack([model.denoiser(x[:, k], t[:, k]) for k in range(3)], dim=1)

    assert stacked.shape == (4, 3, 12)
    assert torch.allclose(stacked, one_by_one, atol=1e-5)


def test_build_model_is_deterministic_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()

    a = initial_weights(LAYOUT, CONFIG, seed=3)
    b = initial_weights(LAYOUT, CONFIG, seed=3)
    c = initial_weights(LAYOUT, CONFIG, seed=4)

    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_weights_are_float32_and_named_from_the_state_dict():
    model = build_model(LAYOUT, CONFIG, seed=0)

    weights = get_weights(model)

    assert set(weights) == set(model.denoiser.state_dict())
    assert all(w.dtype == np.float32 for w in weights.values())
