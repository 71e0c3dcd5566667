"""Held-out diffusion loss of a set of weights: a cheap round metric that needs no sampling."""

from __future__ import annotations

import numpy as np
import torch

from fedcore.model.config import DiffusionConfig
from fedcore.model.loss import DiffusionLoss
from fedcore.model.weights import build_model, resolve_device, set_weights
from fedcore.preprocessing.encoded import EncodedTable, TabularLayout
from fedcore.training.data import check_table


def evaluate_loss(
    weights: dict[str, np.ndarray],
    data: EncodedTable,
    layout: TabularLayout,
    model_config: DiffusionConfig,
    seed: int = 0,
    *,
    repeats: int = 4,
    batch_size: int = 4096,
    device: str = "auto",
) -> float:
    """Mean per-row training loss over ``repeats`` draws of (t, noise) per row.

    The draws depend only on ``seed``, so two sets of weights scored with the same seed and
    data see identical noise and their losses are directly comparable.
    """
    check_table(data, layout)
    if repeats < 1 or batch_size < 1:
        raise ValueError("repeats and batch_size must be >= 1")
    model = build_model(layout, model_config, seed=0)
    set_weights(model, weights)
    model.to(resolve_device(device))
    model.denoiser.eval()
    criterion = DiffusionLoss(model, reduction="sum")
    generator = torch.Generator(device=model.device).manual_seed(int(seed))
    num = torch.as_tensor(np.asarray(data.num, dtype=np.float32))  # (N, Dn)
    cat = torch.as_tensor(np.asarray(data.cat, dtype=np.int64))  # (N, Dc)
    total = 0.0
    with torch.inference_mode():
        for _ in range(repeats):
            for start in range(0, len(data), batch_size):
                b_num = num[start : start + batch_size].to(model.device)
                b_cat = cat[start : start + batch_size].to(model.device)
                batch = model.training_inputs(b_num, b_cat, generator)
                total += float(criterion(model.denoiser(batch.x_t, batch.t), batch.target))
    return total / (repeats * len(data))
