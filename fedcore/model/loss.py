"""Per-row training loss of the tabular diffusion model (TabDDPM, Kotelnikov et al. 2023).

One loss per row is what DP-SGD needs: Opacus' ghost clipping calls the criterion with
``reduction="none"``, scales each row's loss by its clipping coefficient and backpropagates
again (``opacus.utils.fast_gradient_clipping_utils.DPLossFastGradientClipping``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fedcore.model.diffusion import DiffusionTarget, TabularDiffusion
from fedcore.model.multinomial import kl_categorical, nll_categorical, posterior

_REDUCTIONS = ("none", "mean", "sum")


class DiffusionLoss(nn.Module):
    """Numeric noise-prediction loss plus the categorical term, averaged over features.

    Numeric part: MSE (Ho et al. 2020) or Huber on the predicted noise. Categorical part for
    multinomial diffusion: KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) and, at t = 0, the
    decoder negative log-likelihood (Hoogeboom et al. 2021; TabDDPM), optionally plus a weighted
    cross-entropy of the predicted x_0 (Austin et al. 2021's hybrid loss). For gaussian_onehot the
    categorical part is the noise-prediction loss on the one-hot block. ``reduction`` follows
    torch loss semantics: ``"none"`` gives the (B,) per-row losses.
    """

    def __init__(self, diffusion: TabularDiffusion, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self.diffusion = diffusion  # plain object: not a submodule, holds no parameters here
        self.num_features = diffusion.layout.num_features
        self.num_cat = len(diffusion.layout.cat_cardinalities)
        self.config = diffusion.config

    def _noise_loss(self, pred: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """(B, D) prediction and target -> (B,) mean over features (0 when D == 0)."""
        if pred.shape[1] == 0:
            return pred.new_zeros(pred.shape[0])
        if self.config.loss == "huber":
            per_elem = F.huber_loss(pred, noise, reduction="none", delta=self.config.huber_delta)
        else:
            per_elem = (pred - noise) ** 2
        return per_elem.mean(dim=1)  # (B,)

    def per_row(self, output: torch.Tensor, target: DiffusionTarget) -> torch.Tensor:
        """(B, out_dim) denoiser output -> (B,) loss per row; (B, K, out_dim) -> (B,) mean over
        the K draws of each row (noise multiplicity)."""
        if output.dim() == 3:
            b, k = output.shape[:2]
            flat = DiffusionTarget(*(f.reshape(b * k, *f.shape[2:]) for f in target))
            return self._per_draw(output.reshape(b * k, output.shape[-1]), flat).reshape(b, k).mean(dim=1)
        return self._per_draw(output, target)

    def _per_draw(self, output: torch.Tensor, target: DiffusionTarget) -> torch.Tensor:
        dn = self.num_features
        d = self.diffusion
        if self.config.cat_diffusion == "gaussian_onehot":
            num_loss = self._noise_loss(output[:, :dn], target.noise[:, :dn])
            cat_loss = self._noise_loss(output[:, dn:], target.noise[:, dn:])
            return num_loss + self.config.cat_loss_weight * cat_loss
        num_loss = self._noise_loss(output[:, :dn], target.noise)  # (B,)
        if self.num_cat == 0:
            return num_loss
        coder = d.coder
        t = target.t
        log_ab_t = d.log_ab[t][:, None, None]  # (B, 1, 1)
        log_ab_s = d.log_ab_prev[t][:, None, None]  # (B, 1, 1)
        log_xt = coder.log_onehot(target.xt_cat)  # (B, Dc, K_max)
        log_q = posterior(coder, coder.log_onehot(target.x0_cat), log_xt, log_ab_t, log_ab_s)
        log_x0 = coder.log_softmax(output[:, dn:])  # (B, Dc, K_max) predicted p(x_0 | x_t)
        log_p = posterior(coder, log_x0, log_xt, log_ab_t, log_ab_s)
        kl = kl_categorical(log_q, log_p)  # (B, Dc)
        nll = nll_categorical(target.x0_cat, log_p)  # (B, Dc)
        cat_loss = torch.where((t == 0)[:, None], nll, kl).mean(dim=1)  # (B,)
        if self.config.cat_ce_weight > 0:  # Austin et al. 2021's auxiliary loss on x_0 itself
            cat_loss = cat_loss + self.config.cat_ce_weight * nll_categorical(target.x0_cat, log_x0).mean(dim=1)
        return num_loss + self.config.cat_loss_weight * cat_loss

    def forward(self, output: torch.Tensor, target: DiffusionTarget) -> torch.Tensor:
        losses = self.per_row(output, target)  # (B,)
        if self.reduction == "none":
            return losses
        if self.reduction == "sum":
            return losses.sum()
        return losses.mean()
