"""Noise schedules: the per-step betas and their cumulative products.

Linear schedule from Ho et al. 2020 (rescaled to T steps as in Nichol & Dhariwal 2021 and
TabDDPM), cosine schedule from Nichol & Dhariwal 2021.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_MAX_BETA = 0.999  # Nichol & Dhariwal 2021: avoids a singular last step of the cosine schedule


def linear_betas(timesteps: int) -> torch.Tensor:
    """Ho et al. 2020's 1e-4..0.02 over 1000 steps, scaled by 1000/T so any T ends as noisy."""
    scale = 1000.0 / timesteps
    return torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64, device="cpu").clamp(max=_MAX_BETA)


def cosine_betas(timesteps: int, offset: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal 2021, eq. 17: alpha_bar(t) = cos^2(((t/T + s)/(1 + s)) * pi/2)."""
    steps = torch.arange(timesteps + 1, dtype=torch.float64, device="cpu") / timesteps  # (T+1,)
    alpha_bar = torch.cos((steps + offset) / (1 + offset) * math.pi / 2) ** 2  # (T+1,)
    betas = 1 - alpha_bar[1:] / alpha_bar[:-1]  # (T,)
    return betas.clamp(max=_MAX_BETA)


@dataclass(frozen=True)
class NoiseSchedule:
    """Per-step quantities in float64 on CPU (also when built under a meta-device context); index ``t`` in [0, T) is the t-th forward step.

    ``alpha_bar[t]`` is the product of ``1 - beta`` up to and including step ``t``, so
    ``q(x_t | x_0) = N(sqrt(alpha_bar[t]) x_0, (1 - alpha_bar[t]) I)``.
    """

    betas: torch.Tensor  # (T,)
    alphas: torch.Tensor  # (T,)
    alpha_bar: torch.Tensor  # (T,)

    @classmethod
    def build(cls, kind: str, timesteps: int) -> "NoiseSchedule":
        if kind == "linear":
            betas = linear_betas(timesteps)
        elif kind == "cosine":
            betas = cosine_betas(timesteps)
        else:
            raise ValueError(f"unknown schedule {kind!r}; choose 'linear' or 'cosine'")
        alphas = 1 - betas
        return cls(betas=betas, alphas=alphas, alpha_bar=torch.cumprod(alphas, dim=0))

    @property
    def timesteps(self) -> int:
        return int(self.betas.shape[0])
