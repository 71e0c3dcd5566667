"""Residual MLP denoiser for mixed-type tabular diffusion (TabDDPM, Kotelnikov et al. 2023).

GroupNorm instead of BatchNorm: it normalises each row on its own, so per-sample gradients
exist and Opacus (ghost clipping included) can bound every patient's contribution. The norms
carry no affine parameters (the next Linear layer rescales), which lets the network take
inputs with extra leading dimensions, (B, K, D): K noise draws of the same patient row
(noise multiplicity, Dockhorn et al. 2022) stay one sample for Opacus, whose Linear layers
handle the 3-D input while each draw is normalised separately. The module holds parameters
only (no buffers) and calls each layer once per forward pass, as ghost clipping requires.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fedcore.model.config import DiffusionConfig
from fedcore.model.prior import MarginalPrior
from fedcore.model.schedules import NoiseSchedule
from fedcore.preprocessing.encoded import TabularLayout

_MEAN_GAIN = 4.0  # one-hot means are s * tanh(4 w): Adam moves w by ~lr, so means move ~4x faster


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer-style sinusoidal features of the timestep (Ho et al. 2020, appendix B)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    )  # (dim/2,)
    angles = t.float()[..., None] * freqs  # (..., dim/2)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)  # (..., dim)


class RowGroupNorm(nn.Module):
    """Parameter-free GroupNorm over the last dimension of (..., H), one row (draw) at a time."""

    def __init__(self, groups: int, width: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, width, affine=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm(h.reshape(-1, h.shape[-1])).reshape(h.shape)  # (..., H)


class ResidualBlock(nn.Module):
    """GroupNorm -> SiLU -> Linear -> GroupNorm -> SiLU -> Dropout -> Linear, plus the input."""

    def __init__(self, width: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = RowGroupNorm(groups, width)
        self.fc1 = nn.Linear(width, width)
        self.norm2 = RowGroupNorm(groups, width)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(width, width)
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (..., H) -> (..., H)
        r = self.fc1(self.act(self.norm1(h)))  # (..., H)
        r = self.fc2(self.dropout(self.act(self.norm2(r))))  # (..., H)
        return h + r


class TimeInterpolatedLinear(nn.Module):
    """x_t -> A(t) x_t + b with A(t) piecewise linear in t between ``knots`` evenly spaced knots.

    The optimal denoiser of Gaussian data is linear in x_t at every t, so this path learns the
    pairwise (covariance-like) structure directly, with few and well-conditioned parameters;
    measured here it lifted pair trends by 0.02-0.04 with and without DP.
    """

    def __init__(self, in_dim: int, out_dim: int, knots: int, timesteps: int) -> None:
        super().__init__()
        self.knots, self.timesteps = knots, timesteps
        self.proj = nn.Linear(in_dim * knots, out_dim)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # (..., D), (...) -> (..., out)
        centers = torch.linspace(0, 1, self.knots, device=t.device)  # (NB,)
        spacing = 1.0 / max(self.knots - 1, 1)
        phi = torch.relu(1 - (t.float()[..., None] / self.timesteps - centers).abs() / spacing)  # (..., NB) hats
        return self.proj((phi[..., :, None] * x_t[..., None, :]).flatten(-2))  # (..., out)


class OneHotMean(nn.Module):
    """Learned mean of every +-s one-hot dimension, s * tanh(4 w), for the Gaussian prior.

    A Linear on a constant input, so Opacus clips and noises it like any other weight; the
    gain of 4 lets Adam (steps of about lr in w) move the means 4x faster.
    """

    def __init__(self, dims: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.weight_of_one = nn.Linear(1, dims, bias=False)

    def forward(self, like: torch.Tensor) -> torch.Tensor:  # (..., D) -> (..., dims)
        ones = torch.ones(*like.shape[:-1], 1, device=like.device)  # (..., 1)
        return self.scale * torch.tanh(_MEAN_GAIN * self.weight_of_one(ones))


class Denoiser(nn.Module):
    """Maps (x_t, t) to the numeric noise estimate and the categorical output, concatenated.

    Input ``x_t`` is (..., in_dim): the noisy numeric features followed by the categorical
    representation (one-hot of x_t for multinomial diffusion, the noisy one-hot for Gaussian).
    Output is (..., out_dim): the predicted numeric noise followed by one block per categorical
    feature (x_0 logits for multinomial, predicted noise for Gaussian one-hot). With a
    ``prior``, the network's output is added to an analytic marginal prior (prior.py).
    """

    def __init__(self, layout: TabularLayout, config: DiffusionConfig) -> None:
        super().__init__()
        width = config.hidden_dim
        cat_dims = sum(layout.cat_cardinalities)
        in_dim = out_dim = layout.num_features + cat_dims
        gaussian_cat = config.cat_diffusion == "gaussian_onehot"
        self.prior = None  # parameter-free skip connection (see prior.py); None = plain network
        if config.marginal_prior:
            schedule = NoiseSchedule.build(config.schedule, config.timesteps)
            self.prior = MarginalPrior(schedule, layout.num_features, layout.cat_cardinalities,
                                       multinomial=not gaussian_cat, onehot_scale=config.onehot_scale)
        self.cat_mean = None
        if config.marginal_prior and gaussian_cat and cat_dims:
            self.cat_mean = OneHotMean(cat_dims, config.onehot_scale)
        self.time_embed_dim = config.time_embed_dim
        self.time_fc1 = nn.Linear(config.time_embed_dim, width)
        self.time_fc2 = nn.Linear(width, width)
        self.in_proj = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(
            ResidualBlock(width, config.norm_groups, config.dropout) for _ in range(config.num_blocks)
        )
        self.out_norm = RowGroupNorm(config.norm_groups, width)
        self.out_proj = nn.Linear(width, out_dim)
        self.act = nn.SiLU()
        self.linear = None
        if config.linear_basis:
            self.linear = TimeInterpolatedLinear(in_dim, out_dim, config.linear_basis, config.timesteps)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t`` (..., in_dim) float, ``t`` (...) int64 in [0, T) -> (..., out_dim)."""
        temb = sinusoidal_embedding(t, self.time_embed_dim)  # (..., E)
        temb = self.time_fc2(self.act(self.time_fc1(temb)))  # (..., H)
        h = self.in_proj(x_t) + temb  # (..., H)
        for block in self.blocks:
            h = block(h)  # (..., H)
        raw = self.out_proj(self.act(self.out_norm(h)))  # (..., out_dim)
        if self.linear is not None:
            raw = raw + self.linear(x_t, t)  # (..., out_dim)
        if self.prior is None:
            return raw
        cat_mean = None
        if self.cat_mean is not None:
            cat_mean = self.cat_mean(x_t).reshape(-1, self.cat_mean.weight_of_one.out_features)  # (rows, sum K)
        lead = raw.shape[:-1]
        out = self.prior.apply(raw.reshape(-1, raw.shape[-1]), x_t.reshape(-1, x_t.shape[-1]), t.reshape(-1), cat_mean)
        return out.reshape(*lead, out.shape[-1])


@torch.no_grad()
def initialize_denoiser(module: Denoiser, generator: torch.Generator) -> None:
    """Fill every parameter from ``generator`` (never the global RNG).

    Linear layers get PyTorch's default (Kaiming-uniform weights, fan-in-scaled biases); the
    last Linear of each residual block, the output layers and the one-hot means start at zero,
    so each block starts as the identity and the network's initial output is exactly zero
    (Nichol & Dhariwal 2021 zero-initialise output layers likewise): the model starts as its
    marginal prior (prior.py).
    """
    zero_init = {id(b.fc2) for b in module.blocks} | {id(module.out_proj)}
    if module.linear is not None:
        zero_init.add(id(module.linear.proj))
    if module.cat_mean is not None:
        zero_init.add(id(module.cat_mean.weight_of_one))
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            if id(layer) in zero_init:
                layer.weight.zero_()
                if layer.bias is not None:
                    layer.bias.zero_()
                continue
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
