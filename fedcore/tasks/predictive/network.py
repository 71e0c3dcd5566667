"""The predictive tasks' network: a residual MLP with GroupNorm (Opacus cannot use BatchNorm).

input Linear -> ``blocks`` x [x + Linear(SiLU(GroupNorm(Linear(GroupNorm(x)))))] -> GroupNorm, SiLU ->
output Linear. The output is class logits (risk) or one hazard logit per time interval (survival).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fedcore.model.weights import get_weights

NORM_GROUPS = 8  # GroupNorm groups; hidden_dim must be a multiple (checked by the task settings' bounds)


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        groups = NORM_GROUPS if width % NORM_GROUPS == 0 else 1
        self.norm1 = nn.GroupNorm(groups, width)
        self.linear1 = nn.Linear(width, width)
        self.norm2 = nn.GroupNorm(groups, width)
        self.linear2 = nn.Linear(width, width)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, W) -> (B, W)
        h = self.linear1(self.act(self.norm1(x)))
        return x + self.linear2(self.act(self.norm2(h)))


class ResidualMLP(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int, blocks: int, outputs: int) -> None:
        super().__init__()
        groups = NORM_GROUPS if hidden_dim % NORM_GROUPS == 0 else 1
        self.input = nn.Linear(input_dim, hidden_dim)
        self.blocks = nn.Sequential(*(ResidualBlock(hidden_dim) for _ in range(blocks)))
        self.norm = nn.GroupNorm(groups, hidden_dim)
        self.act = nn.SiLU()
        self.output = nn.Linear(hidden_dim, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, outputs)
        return self.output(self.act(self.norm(self.blocks(self.input(x)))))


def build_network(input_dim: int, hidden_dim: int, blocks: int, outputs: int, seed: int) -> ResidualMLP:
    """Identical for identical arguments; uses a private generator, never the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        network = ResidualMLP(input_dim, hidden_dim, blocks, outputs)
        nn.init.zeros_(network.output.weight)  # start from the constant prediction (prior-like)
        nn.init.zeros_(network.output.bias)
    return network


def initial_network_weights(input_dim: int, hidden_dim: int, blocks: int, outputs: int,
                            seed: int) -> dict[str, np.ndarray]:
    return get_weights(build_network(input_dim, hidden_dim, blocks, outputs, seed))
