"""Per-row losses of the predictive tasks: one loss per row, so DP-SGD's ghost clipping applies.

Opacus' ghost clipping calls the criterion with ``reduction="none"`` and rescales each row's loss.
A survival loss must be a sum over rows too, which rules out the Cox partial likelihood (its risk
sets couple rows) and admits the discrete-time logistic hazard (Gensheimer & Narasimhan 2019;
pycox's ``LogisticHazard``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _PerRowLoss(nn.Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction must be none, mean or sum, got {reduction!r}")
        self.reduction = reduction

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = self.per_row(output, target)  # (B,)
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()


class ClassificationLoss(_PerRowLoss):
    """Cross-entropy of class logits (B, K) against class indices; target (B, 1) float holding the index,
    -1 for a row without a label (its loss is 0: it is still sampled, so the sample rate is unchanged)."""

    def per_row(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        label = target[:, 0].long()
        known = label >= 0
        return F.cross_entropy(output, label.clamp(min=0), reduction="none") * known.to(output.dtype)


class LogisticHazardLoss(_PerRowLoss):
    """Negative log-likelihood of the discrete-time hazard model, per row.

    ``output`` (B, T): logit of the hazard h_j = P(event in interval j | alive at its start).
    ``target`` (B, 2): (interval of the row's time, event 1/0), interval -1 for a row without its labels
    (loss 0). A row alive through intervals before
    its own contributes -log(1 - h_j) for each; in its own interval -log h (event) or -log(1 - h)
    (censored there, counted as surviving it, as pycox does).
    """

    def per_row(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        interval, event = target[:, 0].long(), target[:, 1]
        known = (interval >= 0).to(output.dtype)  # (B,)
        steps = torch.arange(output.shape[1], device=output.device)[None, :]  # (1, T)
        at_risk = (steps <= interval[:, None]).to(output.dtype)  # (B, T)
        labels = (steps == interval[:, None]).to(output.dtype) * event[:, None]  # (B, T)
        bce = F.binary_cross_entropy_with_logits(output, labels, reduction="none")  # (B, T)
        return (bce * at_risk).sum(dim=1) * known
