"""Model and sampling configs reject bad values at construction."""

import dataclasses

import pytest

from fedcore.model import DiffusionConfig, SamplingConfig


@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden_dim", 0),
        ("num_blocks", -1),
        ("dropout", 1.0),
        ("timesteps", 1),
        ("schedule", "quadratic"),
        ("loss", "l1"),
        ("cat_diffusion", "ordinal"),
        ("time_embed_dim", 7),
        ("norm_groups", 3),  # does not divide the default hidden_dim
        ("huber_delta", 0.0),
        ("cat_loss_weight", -1.0),
    ],
)
def test_diffusion_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        DiffusionConfig(**{field: value})


@pytest.mark.parametrize(
    "field, value",
    [("sampler", "euler"), ("steps", 0), ("eta", -0.1), ("cat_temperature", 0.0), ("batch_size", 0)],
)
def test_sampling_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        SamplingConfig(**{field: value})


def test_configs_are_frozen_and_round_trip():
    config = DiffusionConfig(hidden_dim=64, norm_groups=4)

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hidden_dim = 32  # type: ignore[misc]
    assert DiffusionConfig.from_dict(config.to_dict()) == config
