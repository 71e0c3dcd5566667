"""Pieces every DP-SGD training loop here shares: the optimizer, FedProx's term, CPU threads,
Opacus' known warnings, and reading back what Opacus' accountant recorded."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from fedcore.training.config import DPConfig, TrainConfig


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.learning_rate, weight_decay=config.weight_decay, momentum=config.momentum)


def add_proximal_term(optimizer: torch.optim.Optimizer, module: nn.Module, mu: float) -> None:
    """FedProx (Li et al. 2020): add mu (w - w_global) to every gradient just before the step.

    The term does not depend on any patient, so it is added after Opacus' clipping and noise
    (a hook on the underlying optimizer) rather than being clipped with the per-row losses.
    """
    anchors = [p.detach().clone() for p in module.parameters()]

    def hook(opt: torch.optim.Optimizer, args, kwargs) -> None:
        with torch.no_grad():
            for p, anchor in zip(module.parameters(), anchors):
                if p.grad is not None:
                    p.grad.add_(p.detach() - anchor, alpha=mu)

    optimizer.register_step_pre_hook(hook)


@contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op CPU threads, then restore the previous setting. Tiny tabular
    models train faster on one thread when other processes share the cores."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def silence_known_opacus_warnings() -> None:
    # Seeded noise is deliberate (reproducible runs); the hook warning is about the inputs
    # (x_t, t) not requiring grad, which is expected: only parameters need gradients.
    warnings.filterwarnings("ignore", message="Secure RNG turned off")
    warnings.filterwarnings("ignore", message="Full backward hook is firing")


def accounted_spend(engine, dp: DPConfig, steps: int) -> tuple[float, float, int]:
    """(noise_multiplier, sample_rate, steps) from Opacus' accountant, checked against the loop."""
    history = list(engine.accountant.history)
    if len(history) != 1:
        raise RuntimeError(f"expected one (sigma, q, steps) entry in the accountant history, got {history}")
    sigma, q, accounted = history[0]
    if accounted != steps or sigma != dp.noise_multiplier:
        raise RuntimeError(f"accountant recorded {history}, the loop took {steps} steps at sigma {dp.noise_multiplier}")
    return float(sigma), float(q), int(accounted)
