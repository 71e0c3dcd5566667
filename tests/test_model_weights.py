"""get_weights / set_weights: copies, round trips, and loud failures on mismatch."""

import numpy as np
import pytest
import torch
from opacus import GradSampleModule

from fedcore.model import DiffusionConfig, build_model, get_weights, set_weights
from fedcore.preprocessing.encoded import TabularLayout

LAYOUT = TabularLayout(2, (3, 2))
CONFIG = DiffusionConfig(hidden_dim=16, num_blocks=1, timesteps=10, time_embed_dim=8, norm_groups=4)


def test_round_trip_restores_every_tensor():
    source = get_weights(build_model(LAYOUT, CONFIG, seed=1))
    target = build_model(LAYOUT, CONFIG, seed=2)

    set_weights(target, source)

    restored = get_weights(target)
    assert all(np.array_equal(restored[k], source[k]) for k in source)


def test_get_weights_returns_copies_and_set_weights_does_not_alias():
    model = build_model(LAYOUT, CONFIG, seed=1)
    weights = get_weights(model)
    before = weights["in_proj.weight"].copy()

    weights["in_proj.weight"] += 1.0
    assert np.array_equal(get_weights(model)["in_proj.weight"], before)

    set_weights(model, weights)
    weights["in_proj.weight"] += 1.0
    assert np.allclose(get_weights(model)["in_proj.weight"], before + 1.0)


def test_names_strip_opacus_wrapper_prefix():
    model = build_model(LAYOUT, CONFIG, seed=1)
    wrapped = GradSampleModule(model.denoiser)

    names = set(get_weights(wrapped))

    assert names == set(get_weights(model))
    assert not any(n.startswith("_module.") for n in names)
    set_weights(wrapped, get_weights(model))  # loads through the wrapper as well


def test_missing_or_unexpected_names_raise():
    model = build_model(LAYOUT, CONFIG, seed=1)
    weights = get_weights(model)
    missing = {k: v for k, v in weights.items() if k != "out_proj.bias"}
    extra = {**weights, "surprise": np.zeros(1, np.float32)}

    with pytest.raises(ValueError, match="out_proj.bias"):
        set_weights(model, missing)
    with pytest.raises(ValueError, match="surprise"):
        set_weights(model, extra)


def test_shape_mismatch_raises_and_leaves_model_unchanged():
    model = build_model(LAYOUT, CONFIG, seed=1)
    before = get_weights(model)
    other = get_weights(build_model(TabularLayout(3, (3, 2)), CONFIG, seed=1))

    with pytest.raises(ValueError, match="in_proj.weight"):
        set_weights(model, other)
    assert all(np.array_equal(get_weights(model)[k], before[k]) for k in before)


def test_set_weights_keeps_device_and_dtype():
    model = build_model(LAYOUT, CONFIG, seed=1)
    weights = {k: v.astype(np.float64) for k, v in get_weights(model).items()}

    set_weights(model, weights)

    assert all(p.dtype == torch.float32 for p in model.denoiser.parameters())
