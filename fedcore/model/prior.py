"""Analytic marginal prior added to the denoiser output (a skip connection).

After the global quantile-normal transform each numeric feature is N(0, 1), for which the
optimal noise prediction is linear: ``E[eps | x_t] = sqrt(1 - alpha_bar_t) x_t``. For a
categorical feature under a uniform prior the x_0 posterior is ``q(x_t | x_0)``, i.e. logits
``log(alpha_bar_t onehot(x_t) + (1 - alpha_bar_t) / K)``. The denoiser predicts
``prior + scale * network`` (EDM-style preconditioning, Karras et al. 2022, with TabDDPM's
parametrisation, Kotelnikov et al. 2023): with a zero network the sampler already reproduces
the numeric marginals, and the network only learns what the data adds to this prior -
the dependencies between columns and the category frequencies. That matters most under
DP-SGD, where every step the network takes is noisy. The prior uses no data.
"""

from __future__ import annotations

import torch

from fedcore.model.multinomial import CategoricalCoder
from fedcore.model.schedules import NoiseSchedule


class MarginalPrior:
    """Per-timestep prior terms; plain tensors (no nn buffers), moved to the input's device."""

    def __init__(self, schedule: NoiseSchedule, num_features: int, cardinalities: tuple[int, ...],
                 multinomial: bool, onehot_scale: float = 1.0) -> None:
        ab = schedule.alpha_bar  # (T,) float64
        self.onehot_scale = onehot_scale
        self.num_features = num_features
        self.multinomial = multinomial
        self.cardinalities = cardinalities
        self._tables = {
            "sqrt_ab": ab.sqrt().float(),
            "sqrt_1m_ab": (1 - ab).sqrt().float(),
            "log_ab": ab.log().float(),
            "log_1m_ab": torch.log1p(-ab).float().clamp(min=-1e4),
        }
        self._device_cache: dict[torch.device, tuple[dict[str, torch.Tensor], CategoricalCoder]] = {}

    def _on(self, device: torch.device) -> tuple[dict[str, torch.Tensor], CategoricalCoder]:
        if device not in self._device_cache:
            tables = {k: v.to(device) for k, v in self._tables.items()}
            self._device_cache[device] = (tables, CategoricalCoder(self.cardinalities, device))
        return self._device_cache[device]

    def apply(self, raw: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
              cat_mean: torch.Tensor | None = None) -> torch.Tensor:
        """(B, out) network output, (B, in) denoiser input, (B,) t -> (B, out) prediction.

        ``cat_mean`` (B, sum K), gaussian_onehot only: the learned mean of each +-s one-hot
        dimension (s * (2 p - 1) for category frequency p); with it the prior is the optimal
        noise prediction for independent x_0 ~ N(mean, s^2 - mean^2) per dimension.
        """
        tables, coder = self._on(raw.device)
        a = tables["sqrt_ab"][t][:, None]  # (B, 1)
        b = tables["sqrt_1m_ab"][t][:, None]  # (B, 1)
        dn = self.num_features
        parts = [b * x_t[:, :dn] + a * raw[:, :dn]]  # (B, Dn): N(0, 1) prior + sqrt(alpha_bar) * network
        if self.multinomial:
            onehot = coder.pad(x_t[:, dn:])  # (B, Dc, K_max) one-hot of the current categories
            log_keep = tables["log_ab"][t][:, None, None]
            log_flip = tables["log_1m_ab"][t][:, None, None]
            prior = torch.logaddexp(onehot.clamp(min=1e-30).log() + log_keep, log_flip - coder.log_k)
            parts.append(raw[:, dn:] + prior[:, coder.mask])  # (B, sum K) x_0 logits
        elif raw.shape[1] > dn:
            s2 = self.onehot_scale**2
            mean = torch.zeros_like(x_t[:, dn:]) if cat_mean is None else cat_mean  # (B, sum K)
            var = (s2 - mean**2).clamp(min=1e-3 * s2)  # (B, sum K)
            prior = b * (x_t[:, dn:] - a * mean) / (a**2 * var + b**2)  # E[eps | x_t], Gaussian x_0
            parts.append(prior + a * raw[:, dn:])
        return torch.cat(parts, dim=1)
