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


class NonFiniteWeightsError(RuntimeError):
    """Local training ended with a NaN or infinite weight: nothing is released."""


def autocast_dtype(device: torch.device, mixed_precision: str) -> torch.dtype | None:
    """bfloat16 for the forward pass, or None (float32).

    "auto" autocasts on CUDA GPUs with bfloat16 (Ampere and later): Opacus 1.6 supports mixed precision with
    its "hooks" and "ghost" modes on GPUs, and casts per-sample gradients up to the float32 parameters before
    clipping and noise, so the sensitivity and the noise are float32's. bfloat16 keeps float32's exponent range,
    so no loss scaling is needed (float16 would need a GradScaler, which Opacus' optimizer does not take). On
    the CPU, "auto" stays float32: ResNet-18 under CPU bfloat16 autocast ended with non-finite weights in some
    runs here (oneDNN without native bfloat16), and a CPU gains little from it; "bf16" forces it anywhere."""
    if mixed_precision == "bf16":
        return torch.bfloat16
    if mixed_precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    return None


def train_predictor(network: nn.Module, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                    criterion: nn.Module, config: TrainConfig, dp: DPConfig | None, seed: int,
                    on_step=None) -> PredictorTrainResult:
    """Train ``network`` (started from ``weights``) on features ``x`` (N, ...) and targets ``y`` (N, L).

    The forward pass runs under autocast as ``config.mixed_precision`` and the device say (``autocast_dtype``);
    weights, gradients, clipping and noise stay float32. A NaN or infinite weight at the end raises
    ``NonFiniteWeightsError``, so no such update leaves the hospital.
    ``on_step(rows)`` is called after each optimizer step (progress)."""
    if len(x) < 1:
        raise ValueError("no training rows")
    device = resolve_device(config.device)
    dtype = autocast_dtype(device, config.mixed_precision)
    data_seed, dp_seed = (int(s) for s in np.random.SeedSequence(int(seed)).generate_state(2) % (2**31 - 1))
    with warnings.catch_warnings(), thread_limit(config.num_threads):
        silence_known_opacus_warnings()
        set_weights(network, weights)
        network.to(device).train()
        dataset = torch.utils.data.TensorDataset(torch.as_tensor(x, dtype=torch.float32),
                                                 torch.as_tensor(y, dtype=torch.float32))
        loader = shuffled_loader(dataset, config.batch_size, torch.Generator().manual_seed(data_seed),
                                 pin_memory=device.type == "cuda")
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
        autocast = {"device_type": device.type, "dtype": dtype or torch.bfloat16, "enabled": dtype is not None}
        for _ in range(config.epochs):
            for features, targets in loader:
                features, targets = features.to(device, non_blocking=True), targets.to(device, non_blocking=True)
                with torch.autocast(**autocast):
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
    broken = sorted(name for name, value in result_weights.items() if not np.all(np.isfinite(value)))
    if broken:
        precision = "bfloat16 autocast" if dtype is not None else "float32"
        raise NonFiniteWeightsError(
            f"local training ({precision}, {steps} steps) ended with non-finite weights in {broken[:3]}: nothing is "
            "released; lower training.learning_rate" + (", or set training.mixed_precision to 'off'" if dtype else ""))
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
