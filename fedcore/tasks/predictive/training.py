"""One hospital's local training of a predictive network, with or without DP-SGD (Opacus).

The same loop as the synthesis model's (``fedcore.training.local_training``): Poisson sampling and
ghost clipping under DP, the optimizer fresh every round, FedProx's term after the noise, and the
spend read back from Opacus' accountant so the ledger composes exactly what was used.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fedcore.model.weights import get_weights, resolve_device, set_weights
from fedcore.training.config import DPConfig, TrainConfig
from fedcore.training.dp_sgd import (
    accounted_spend, add_proximal_term, make_optimizer, silence_known_opacus_warnings, thread_limit,
)
from fedcore.training.data import shuffled_loader


@dataclass(frozen=True)
class PredictorTrainResult:
    weights: dict[str, np.ndarray]
    mean_loss: float
    steps: int
    sample_rate: float
    noise_multiplier: float | None


def train_predictor(network: nn.Module, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                    criterion: nn.Module, config: TrainConfig, dp: DPConfig | None, seed: int,
                    on_step=None, mixed_precision: bool | None = None) -> PredictorTrainResult:
    """Train ``network`` (started from ``weights``) on features ``x`` (N, ...) and targets ``y`` (N, L).

    ``mixed_precision=True`` runs the forward pass under bfloat16 autocast. Off by default (None = off):
    ResNet-18 under CPU bfloat16 autocast ended with non-finite weights in some test runs (with and without
    DP), and the CUDA path has not been validated on a GPU, so nothing turns it on until it is.
    ``on_step(rows)`` is called after each optimizer step (progress)."""
    if len(x) < 1:
        raise ValueError("no training rows")
    device = resolve_device(config.device)
    amp = bool(mixed_precision)
    data_seed, dp_seed = (int(s) for s in np.random.SeedSequence(int(seed)).generate_state(2) % (2**31 - 1))
    with warnings.catch_warnings(), thread_limit(config.num_threads):
        silence_known_opacus_warnings()
        set_weights(network, weights)
        network.to(device).train()
        dataset = torch.utils.data.TensorDataset(torch.as_tensor(x, dtype=torch.float32),
                                                 torch.as_tensor(y, dtype=torch.float32))
        loader = shuffled_loader(dataset, config.batch_size, torch.Generator().manual_seed(data_seed))
        optimizer = make_optimizer(network.parameters(), config)
        if config.proximal_mu > 0:
            add_proximal_term(optimizer, network, config.proximal_mu)
        module, engine = network, None
        if dp is not None:
            from opacus import PrivacyEngine

            engine = PrivacyEngine(accountant="rdp")
            module, optimizer, criterion, loader = engine.make_private(
                module=network, optimizer=optimizer, criterion=criterion, data_loader=loader,
                noise_multiplier=dp.noise_multiplier, max_grad_norm=dp.max_grad_norm, poisson_sampling=True,
                grad_sample_mode="ghost", noise_generator=torch.Generator(device=device).manual_seed(dp_seed),
            )
        steps, loss_sum, rows = 0, 0.0, 0
        for _ in range(config.epochs):
            for features, targets in loader:
                features, targets = features.to(device, non_blocking=True), targets.to(device, non_blocking=True)
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                    outputs = module(features)
                loss = criterion(outputs.float(), targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                steps += 1
                if on_step is not None:
                    on_step(len(features))
                if len(features):
                    loss_sum += float(loss.item()) * len(features)
                    rows += len(features)
        result_weights = get_weights(module)
    if engine is not None:
        sigma, sample_rate, steps = accounted_spend(engine, dp, steps)
    else:
        sigma, sample_rate = None, min(1.0, config.batch_size / len(x))
    return PredictorTrainResult(result_weights, loss_sum / max(rows, 1), steps, float(sample_rate), sigma)


def predict_outputs(network: nn.Module, weights: dict[str, np.ndarray], x: np.ndarray,
                    batch: int = 4096, device: str = "cpu") -> np.ndarray:
    """(N, outputs) float64 network outputs (logits) in evaluation mode (on ``device``: "cpu", "cuda", "auto")."""
    set_weights(network, weights)
    target = resolve_device(device)
    network.to(target).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            chunk = torch.as_tensor(x[start:start + batch], dtype=torch.float32).to(target)
            out.append(network(chunk).double().cpu().numpy())
    if out:
        return np.concatenate(out)
    return np.zeros((0, [m for m in network.modules() if isinstance(m, nn.Linear)][-1].out_features))
