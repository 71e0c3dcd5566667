"""One hospital's local training round, with or without DP-SGD (Abadi et al. 2016, via Opacus).

DP uses Opacus with Poisson sampling and ghost clipping (Li et al. 2022, "Large language
models can be strong differentially private learners"): the criterion returns one loss per
row, Opacus computes every row's gradient norm from activations and backprops without
materialising per-row gradients, and a second backward pass sums the clipped gradients.
The privacy spend returned is read back from Opacus' own accountant history, so the ledger
composes exactly the (noise multiplier, sample rate, steps) that were used.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fedcore.model.config import DiffusionConfig
from fedcore.model.diffusion import TabularDiffusion
from fedcore.model.loss import DiffusionLoss
from fedcore.model.weights import build_model, get_weights, resolve_device, set_weights
from fedcore.preprocessing.encoded import EncodedTable, TabularLayout
from fedcore.training.config import DPConfig, TrainConfig
from fedcore.training.dp_sgd import (
    accounted_spend, add_proximal_term, make_optimizer, silence_known_opacus_warnings, thread_limit,
)
from fedcore.training.data import check_table, shuffled_loader, table_dataset

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalTrainResult:
    """The local model after one round and what it cost in privacy (``noise_multiplier``,
    ``sample_rate``, ``steps`` are exactly what Opacus' accountant recorded; for non-DP
    training ``noise_multiplier`` is None and ``sample_rate`` is min(1, batch_size / N))."""

    weights: dict[str, np.ndarray]
    num_examples: int
    mean_loss: float
    steps: int
    sample_rate: float
    noise_multiplier: float | None
    seconds: float


def _seeds(seed: int) -> list[int]:
    """Independent seeds for data order, diffusion noise, DP noise and dropout."""
    return [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(4, dtype=np.uint64) % (2**63)]


def train_local(
    global_weights: dict[str, np.ndarray],
    data: EncodedTable,
    layout: TabularLayout,
    model_config: DiffusionConfig,
    train_config: TrainConfig,
    dp: DPConfig | None,
    seed: int,
) -> LocalTrainResult:
    """Train the global model on one hospital's rows for ``train_config.epochs`` epochs.

    Returns the full local weights (not a delta). The optimizer starts fresh every round: its
    moments would otherwise be private state carried between rounds, and FedAvg averages
    weights only. With ``dp``, every step is DP-SGD over Poisson-sampled rows with the K noise
    draws of a row (``train_config.multiplicity``) clipped together as one sample. Runs on CUDA
    when present (``device="auto"``). Deterministic on CPU for a given seed: every draw comes
    from generators seeded from ``seed``; the global torch RNG is touched only inside a forked,
    seeded scope (for dropout). Arguments are not modified.
    """
    check_table(data, layout)
    started = time.perf_counter()
    device = resolve_device(train_config.device)
    data_seed, noise_seed, dp_seed, dropout_seed = _seeds(seed)
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), warnings.catch_warnings(), thread_limit(train_config.num_threads):
        silence_known_opacus_warnings()
        torch.manual_seed(dropout_seed)  # only dropout draws from the (forked) global RNG
        model = build_model(layout, model_config, seed=0)
        set_weights(model, global_weights)
        model.to(device)
        model.denoiser.train()
        loader = shuffled_loader(table_dataset(data), train_config.batch_size, torch.Generator().manual_seed(data_seed))
        noise_gen = torch.Generator(device=device).manual_seed(noise_seed)
        optimizer = make_optimizer(model.denoiser.parameters(), train_config)
        if train_config.proximal_mu > 0:
            add_proximal_term(optimizer, model.denoiser, train_config.proximal_mu)
        criterion = DiffusionLoss(model, reduction="mean")
        module: nn.Module = model.denoiser
        engine = None
        if dp is not None:
            from opacus import PrivacyEngine  # imported here: non-DP training does not need it

            engine = PrivacyEngine(accountant="rdp")
            module, optimizer, criterion, loader = engine.make_private(
                module=module,
                optimizer=optimizer,
                criterion=criterion,
                data_loader=loader,
                noise_multiplier=dp.noise_multiplier,
                max_grad_norm=dp.max_grad_norm,
                poisson_sampling=True,
                grad_sample_mode="ghost",
                noise_generator=torch.Generator(device=device).manual_seed(dp_seed),
            )
        steps, loss_sum, rows = _run_epochs(
            model, module, optimizer, criterion, loader, noise_gen, train_config, device, private=dp is not None
        )
        weights = get_weights(module)
    if engine is not None:
        sigma, sample_rate, steps = accounted_spend(engine, dp, steps)
    else:
        sigma, sample_rate = None, min(1.0, train_config.batch_size / len(data))
    seconds = time.perf_counter() - started
    mean_loss = loss_sum / max(rows, 1)
    logger.info("local training: %d rows, %d steps, mean loss %.4f, %.1f s, dp=%s", len(data), steps, mean_loss,
                seconds, dp is not None)
    return LocalTrainResult(weights, len(data), float(mean_loss), steps, float(sample_rate), sigma, seconds)


def _run_epochs(model: TabularDiffusion, module: nn.Module, optimizer, criterion, loader, noise_gen,
                config: TrainConfig, device: torch.device, private: bool) -> tuple[int, float, int]:
    """The training loop shared by the DP and non-DP paths: (steps, sum of row losses, rows)."""
    steps, loss_sum, rows = 0, 0.0, 0
    scheduler = None
    if config.lr_schedule == "cosine":
        inner = getattr(optimizer, "original_optimizer", optimizer)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(inner, T_max=config.epochs * len(loader))
    for _ in range(config.epochs):
        for num, cat in loader:
            num, cat = num.to(device, non_blocking=True), cat.to(device, non_blocking=True)  # (B, Dn), (B, Dc)
            batch = model.training_inputs(num, cat, noise_gen, config.multiplicity)
            output = module(batch.x_t, batch.t)  # (B, out_dim) or (B, K, out_dim)
            loss = criterion(output, batch.target)  # scalar; a per-row-aware wrapper under DP
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm is not None and not private:  # DP clips per row instead
                torch.nn.utils.clip_grad_norm_(module.parameters(), config.max_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            steps += 1
            b = int(num.shape[0])
            if b:
                loss_sum += float(loss.item()) * b
                rows += b
    return steps, loss_sum, rows
