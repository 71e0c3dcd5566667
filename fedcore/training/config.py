"""Configuration of one hospital's local training round."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

OptimizerName = Literal["adamw", "adam", "sgd"]
LrSchedule = Literal["constant", "cosine"]
# "auto": bfloat16 autocast on a CUDA GPU that supports bfloat16, float32 elsewhere; "off": float32 everywhere;
# "bf16": autocast on any device, the CPU included (tests and measurements; not offered to runs)
MixedPrecision = Literal["auto", "off", "bf16"]
RunMixedPrecision = Literal["auto", "off"]  # what a run may ask for


@dataclass(frozen=True)
class TrainConfig:
    """Local optimisation settings; identical with and without DP except for what DP adds.

    With DP, Opacus samples each row independently with probability q = 1 / ceil(N / batch_size)
    (its convention: one expected pass over the data per ceil(N / batch_size) steps), so the
    expected batch is N q <= batch_size. Without DP, rows are shuffled into batches of
    batch_size. The optimizer state starts fresh every round (FedAvg, McMahan et al. 2017).
    """

    batch_size: int = 256  # rows per step (expected rows per step under DP, see above)
    epochs: int = 5  # local passes over the data per federated round
    learning_rate: float = 1e-2  # AdamW step size (1e-2 beat 3e-3 and 1.5e-2 with and without DP)
    lr_schedule: LrSchedule = "constant"  # "cosine": decay to 0 over each local round
    optimizer: OptimizerName = "adamw"  # "adam", "adamw" (decoupled decay) or "sgd" (tests)
    weight_decay: float = 1e-4  # AdamW/SGD weight decay
    momentum: float = 0.0  # SGD only: heavy-ball momentum
    multiplicity: int = 32  # (t, noise) draws per row per step, averaged (Dockhorn et al. 2022)
    max_grad_norm: float | None = None  # non-DP only: clip the batch gradient norm; None = off
    proximal_mu: float = 0.0  # FedProx (Li et al. 2020) proximal strength; 0 = plain FedAvg
    device: str = "auto"  # "auto" = CUDA when available, else CPU; or any torch device string
    num_threads: int | None = None  # CPU threads while training (restored after); None = torch's setting
    mixed_precision: MixedPrecision = "auto"  # the predictive and image tasks' networks (see MixedPrecision)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.optimizer not in ("adamw", "adam", "sgd"):
            raise ValueError(f"optimizer must be 'adamw', 'adam' or 'sgd', got {self.optimizer!r}")
        if self.multiplicity < 1:
            raise ValueError(f"multiplicity must be >= 1, got {self.multiplicity}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}")
        if self.proximal_mu < 0:
            raise ValueError(f"proximal_mu must be >= 0, got {self.proximal_mu}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or None, got {self.num_threads}")
        if self.mixed_precision not in get_args(MixedPrecision):
            raise ValueError(f"mixed_precision must be one of {get_args(MixedPrecision)}, got {self.mixed_precision!r}")
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be 'auto' or a torch device string, got {self.device!r}")


@dataclass(frozen=True)
class DPConfig:
    """DP-SGD (Abadi et al. 2016) settings; pass ``dp=None`` to train without DP."""

    noise_multiplier: float  # Gaussian noise std / clipping norm; chosen by the privacy budget
    max_grad_norm: float  # per-row gradient clipping norm C: the run's privacy.max_grad_norm (its default is there)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.noise_multiplier) and self.noise_multiplier >= 0):
            raise ValueError(f"noise_multiplier must be a finite number >= 0, got {self.noise_multiplier}")
        if not (np.isfinite(self.max_grad_norm) and self.max_grad_norm > 0):
            raise ValueError(f"max_grad_norm must be a positive number, got {self.max_grad_norm}")
