"""DDPM/DDIM sampling: shapes, validity, conditioning, determinism."""

import numpy as np
import pytest
import torch

from fedcore.model import DiffusionConfig, SamplingConfig, build_model, get_weights, sample
from fedcore.model.sampling import timestep_sequence
from fedcore.preprocessing.encoded import TabularLayout

LAYOUT = TabularLayout(3, (2, 3, 4, 1))
SMALL = dict(hidden_dim=32, num_blocks=1, timesteps=30, time_embed_dim=16, norm_groups=4)


def _random_model(cat_diffusion="multinomial"):
    """A model with random (not zero) output layers, so samples depend on the network."""
    model = build_model(LAYOUT, DiffusionConfig(**SMALL, cat_diffusion=cat_diffusion), seed=0)
    with torch.no_grad():
        g = torch.Generator().manual_seed(1)
        for p in model.denoiser.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


@pytest.mark.parametrize("cat_diffusion", ["multinomial", "gaussian_onehot"])
@pytest.mark.parametrize("config", [SamplingConfig(sampler="ddpm"), SamplingConfig(steps=7, eta=0.0),
                                    SamplingConfig(steps=10, eta=1.0, batch_size=16)])
def test_samples_have_layout_shape_finite_values_and_valid_categories(cat_diffusion, config):
    model = _random_model(cat_diffusion)

    table = sample(model, LAYOUT, 50, config, torch.Generator().manual_seed(0))

    assert table.num.shape == (50, 3) and table.num.dtype == np.float32
    assert table.cat.shape == (50, 4) and table.cat.dtype == np.int64
    assert np.isfinite(table.num).all()
    for j, k in enumerate(LAYOUT.cat_cardinalities):
        assert table.cat[:, j].min() >= 0 and table.cat[:, j].max() < k
    assert len(np.unique(table.cat[:, 2])) > 1  # not a constant column


@pytest.mark.parametrize("cat_diffusion", ["multinomial", "gaussian_onehot"])
def test_conditional_sampling_returns_exactly_the_fixed_categories(cat_diffusion):
    model = _random_model(cat_diffusion)

    table = sample(model, LAYOUT, 40, SamplingConfig(steps=5), torch.Generator().manual_seed(0), {1: 2, 2: 3})

    assert np.all(table.cat[:, 1] == 2) and np.all(table.cat[:, 2] == 3)
    assert len(np.unique(table.cat[:, 0])) > 1


def test_conditioning_changes_the_other_columns_through_the_model():
    """With replacement conditioning the fixed value is fed to the denoiser at every step."""
    model = _random_model()
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731

    a = sample(model, LAYOUT, 200, SamplingConfig(steps=5), gen(), {2: 0})
    b = sample(model, LAYOUT, 200, SamplingConfig(steps=5), gen(), {2: 3})

    assert not np.allclose(a.num, b.num)


@pytest.mark.parametrize("conditions", [{4: 0}, {-1: 0}, {0: 2}, {3: 1}])
def test_invalid_conditions_raise(conditions):
    with pytest.raises(ValueError):
        sample(_random_model(), LAYOUT, 5, SamplingConfig(steps=2), torch.Generator(), conditions)


def test_sampling_is_deterministic_given_the_generator_and_from_weights():
    model = _random_model()
    config = SamplingConfig(steps=6, batch_size=7)

    a = sample(model, LAYOUT, 20, config, torch.Generator().manual_seed(5))
    b = sample(get_weights(model), LAYOUT, 20, config, torch.Generator().manual_seed(5),
               model_config=model.config, device="cpu")
    c = sample(model, LAYOUT, 20, config, torch.Generator().manual_seed(6))

    assert np.array_equal(a.num, b.num) and np.array_equal(a.cat, b.cat)
    assert not np.array_equal(a.num, c.num)


def test_sampling_leaves_module_mode_and_weights_alone():
    model = _random_model()
    model.denoiser.train()
    before = get_weights(model)

    sample(model, LAYOUT, 10, SamplingConfig(steps=3), torch.Generator().manual_seed(0))

    assert model.denoiser.training
    assert all(np.array_equal(before[k], v) for k, v in get_weights(model).items())


def test_timestep_sequences():
    assert timestep_sequence(SamplingConfig(sampler="ddpm"), 5) == [4, 3, 2, 1, 0]
    assert timestep_sequence(SamplingConfig(steps=3), 101) == [100, 50, 0]
    with pytest.raises(ValueError, match="steps"):
        timestep_sequence(SamplingConfig(steps=200), 100)


def test_zero_rows_and_layout_mismatch():
    model = _random_model()

    empty = sample(model, LAYOUT, 0, SamplingConfig(steps=2), torch.Generator())

    assert empty.num.shape == (0, 3) and empty.cat.shape == (0, 4)
    with pytest.raises(ValueError, match="layout|built"):
        sample(model, TabularLayout(2, (2,)), 3, SamplingConfig(steps=2), torch.Generator())
