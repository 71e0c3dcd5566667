"""The denoiser is Opacus-compatible and built deterministically without the global RNG."""

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


def test_denoiser_output_shape_and_zero_initial_prediction():
    model = build_model(LAYOUT, CONFIG, seed=0)
    x = torch.randn(5, 3 + 9)

    out = model.denoiser(x, torch.tensor([0, 1, 5, 10, 19]))

    assert out.shape == (5, 3 + 9)
    assert torch.count_nonzero(out) == 0  # zero-initialised output layer


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
