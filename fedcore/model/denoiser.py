"""Residual MLP denoiser for mixed-type tabular diffusion (TabDDPM, Kotelnikov et al. 2023).

GroupNorm instead of BatchNorm: it normalises each row on its own, so per-sample gradients
exist and Opacus (ghost clipping included) can bound every patient's contribution. The
module holds parameters only (no buffers) and calls each layer once per forward pass, which
is what Opacus' ghost clipping requires.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fedcore.model.config import DiffusionConfig
from fedcore.model.prior import MarginalPrior


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer-style sinusoidal features of the timestep (Ho et al. 2020, appendix B)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    )  # (dim/2,)
    angles = t.float()[:, None] * freqs[None, :]  # (B, dim/2)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)  # (B, dim)


class ResidualBlock(nn.Module):
    """GroupNorm -> SiLU -> Linear -> GroupNorm -> SiLU -> Dropout -> Linear, plus the input."""

    def __init__(self, width: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, width)
        self.fc1 = nn.Linear(width, width)
        self.norm2 = nn.GroupNorm(groups, width)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(width, width)
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, H) -> (B, H)
        r = self.fc1(self.act(self.norm1(h)))  # (B, H)
        r = self.fc2(self.dropout(self.act(self.norm2(r))))  # (B, H)
        return h + r


class Denoiser(nn.Module):
    """Maps (x_t, t) to the numeric noise estimate and the categorical output, concatenated.

    Input ``x_t`` is (B, in_dim): the noisy numeric features followed by the categorical
    representation (one-hot of x_t for multinomial diffusion, the noisy one-hot for Gaussian).
    Output is (B, out_dim): the predicted numeric noise followed by one block per categorical
    feature (x_0 logits for multinomial, predicted noise for Gaussian one-hot). With a
    ``prior``, the network's output is added to an analytic marginal prior (prior.py).
    """

    def __init__(self, in_dim: int, out_dim: int, config: DiffusionConfig, prior: MarginalPrior | None = None) -> None:
        super().__init__()
        self.prior = prior  # parameter-free skip connection (see prior.py); None = plain network
        width = config.hidden_dim
        self.time_embed_dim = config.time_embed_dim
        self.time_fc1 = nn.Linear(config.time_embed_dim, width)
        self.time_fc2 = nn.Linear(width, width)
        self.in_proj = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(
            ResidualBlock(width, config.norm_groups, config.dropout) for _ in range(config.num_blocks)
        )
        self.out_norm = nn.GroupNorm(config.norm_groups, width)
        self.out_proj = nn.Linear(width, out_dim)
        self.act = nn.SiLU()

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t`` (B, in_dim) float, ``t`` (B,) int64 in [0, T) -> (B, out_dim)."""
        temb = sinusoidal_embedding(t, self.time_embed_dim)  # (B, E)
        temb = self.time_fc2(self.act(self.time_fc1(temb)))  # (B, H)
        h = self.in_proj(x_t) + temb  # (B, H)
        for block in self.blocks:
            h = block(h)  # (B, H)
        raw = self.out_proj(self.act(self.out_norm(h)))  # (B, out_dim)
        return raw if self.prior is None else self.prior.apply(raw, x_t, t)


@torch.no_grad()
def initialize_denoiser(module: Denoiser, generator: torch.Generator) -> None:
    """Fill every parameter from ``generator`` (never the global RNG).

    Linear layers get PyTorch's default (Kaiming-uniform weights, fan-in-scaled biases); the
    last Linear of each residual block and the output layer start at zero, so each block starts
    as the identity and the initial prediction is exactly zero (as in Nichol & Dhariwal 2021's
    zero-initialised output layers), which also makes the very first DP steps less wasteful.
    """
    zero_init = {id(b.fc2) for b in module.blocks} | {id(module.out_proj)}
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            if id(layer) in zero_init:
                layer.weight.zero_()
                layer.bias.zero_()
                continue
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        elif isinstance(layer, nn.GroupNorm):
            layer.weight.fill_(1.0)
            layer.bias.zero_()
