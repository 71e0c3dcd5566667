"""Configuration of the tabular diffusion model and of its samplers.

Defaults were chosen by measurement on ACTG 175 (federated, 3 hospitals, held-out scoring);
the numbers behind each choice are recorded in ``fedcore/model/README.md``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Literal

Schedule = Literal["linear", "cosine"]
Loss = Literal["mse", "huber"]
CatDiffusion = Literal["multinomial", "gaussian_onehot"]
Sampler = Literal["ddpm", "ddim"]


@dataclass(frozen=True)
class DiffusionConfig:
    """Denoiser architecture and forward process (TabDDPM, Kotelnikov et al. 2023)."""

    hidden_dim: int = 64  # width of the residual MLP; small nets keep DP noise (per weight) affordable
    num_blocks: int = 1  # depth: residual blocks; 1 matched 2-3 without DP and beat them with DP
    dropout: float = 0.0  # dropout inside blocks; DP noise already regularises
    timesteps: int = 200  # T; TabDDPM used 1000, 200 trains as well here and samples 5x faster
    schedule: Schedule = "cosine"  # Nichol & Dhariwal 2021; keeps more signal at small t than linear
    loss: Loss = "mse"  # on the numeric noise prediction (Ho et al. 2020)
    huber_delta: float = 1.0  # transition point of the Huber loss, in noise units
    cat_diffusion: CatDiffusion = "gaussian_onehot"  # beat multinomial (TabDDPM) here, most under DP
    cat_loss_weight: float = 1.0  # weight of the categorical term against the numeric one
    cat_ce_weight: float = 0.0  # multinomial: weight of an auxiliary x_0 cross-entropy (D3PM hybrid)
    linear_basis: int = 5  # knots of the time-interpolated linear map x_t -> output; 0 = none
    time_embed_dim: int = 32  # size of the sinusoidal time embedding
    norm_groups: int = 8  # GroupNorm groups (must divide hidden_dim); per-row, so Opacus-safe
    marginal_prior: bool = True  # add the analytic N(0,1)/uniform prior to the output (prior.py)
    onehot_scale: float = 1.0  # gaussian_onehot: one-hots coded +-this; 0.5 broke conditional sampling

    def __post_init__(self) -> None:
        _check_types(self)  # settings arrive as JSON: 1e9 is a float, "wide" a string
        for name, low, high in _DIFFUSION_BOUNDS:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.schedule not in ("linear", "cosine"):
            raise ValueError(f"schedule must be 'linear' or 'cosine', got {self.schedule!r}")
        if self.loss not in ("mse", "huber"):
            raise ValueError(f"loss must be 'mse' or 'huber', got {self.loss!r}")
        if self.cat_diffusion not in ("multinomial", "gaussian_onehot"):
            raise ValueError(
                f"cat_diffusion must be 'multinomial' or 'gaussian_onehot', got {self.cat_diffusion!r}"
            )
        if self.time_embed_dim < 2 or self.time_embed_dim % 2:
            raise ValueError(f"time_embed_dim must be an even number >= 2, got {self.time_embed_dim}")
        if self.norm_groups < 1 or self.hidden_dim % self.norm_groups:
            raise ValueError(
                f"norm_groups ({self.norm_groups}) must be >= 1 and divide hidden_dim ({self.hidden_dim})"
            )

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> "DiffusionConfig":
        return cls(**data)


# Upper bounds keep a run config from asking for a model no hospital can train (hidden_dim 1e9 is
# 1e18 weights); they sit far above every measured setting (fedcore/model/README.md: 64 wide, 1 block).
_DIFFUSION_BOUNDS = (
    ("hidden_dim", 1, 4096),
    ("num_blocks", 0, 32),
    ("timesteps", 2, 10_000),
    ("linear_basis", 0, 256),
    ("time_embed_dim", 2, 1024),
    ("norm_groups", 1, 4096),
    ("huber_delta", 1e-6, 1e6),
    ("cat_loss_weight", 0.0, 1e3),
    ("cat_ce_weight", 0.0, 1e3),
    ("onehot_scale", 1e-6, 1e3),
)


def _check_types(config) -> None:
    """Each field holds its declared type: ints are ints (not floats or bools), floats are finite numbers."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.type == "int" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise ValueError(f"{field.name} must be an integer, got {value!r}")
        if field.type == "float" and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                      or not math.isfinite(value)):
            raise ValueError(f"{field.name} must be a finite number, got {value!r}")
        if field.type == "bool" and not isinstance(value, bool):
            raise ValueError(f"{field.name} must be true or false, got {value!r}")
        if field.type in ("Schedule", "Loss", "CatDiffusion") and not isinstance(value, str):
            raise ValueError(f"{field.name} must be a string, got {value!r}")


@dataclass(frozen=True)
class SamplingConfig:
    """How to run the reverse process: DDPM (Ho et al. 2020) or DDIM (Song et al. 2021)."""

    sampler: Sampler = "ddim"  # strided sampling: 10k rows in well under 10 s on 2 CPU cores
    steps: int = 50  # ddim only: number of evenly spaced timesteps (ddpm uses all T)
    eta: float = 1.0  # ddim only: 0 = deterministic DDIM, 1 = ancestral noise level
    resample: int = 10  # conditional only: RePaint repeats per step (Lugmayr et al. 2022); 1 = replacement
    cat_temperature: float = 1.0  # divides the predicted categorical logits; 1 = the model as trained
    batch_size: int = 4096  # rows generated per forward pass

    def __post_init__(self) -> None:
        if self.sampler not in ("ddpm", "ddim"):
            raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {self.sampler!r}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.eta < 0:
            raise ValueError(f"eta must be >= 0, got {self.eta}")
        if self.resample < 1:
            raise ValueError(f"resample must be >= 1, got {self.resample}")
        if self.cat_temperature <= 0:
            raise ValueError(f"cat_temperature must be > 0, got {self.cat_temperature}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
