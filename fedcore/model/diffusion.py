"""Mixed-type tabular diffusion: schedules, denoiser and the forward (noising) process.

Numeric features follow Gaussian diffusion with an epsilon-predicting denoiser (Ho et al.
2020); categorical features follow multinomial diffusion (Hoogeboom et al. 2021) as in TabDDPM
(Kotelnikov et al. 2023), or, with ``cat_diffusion="gaussian_onehot"``, Gaussian diffusion on
+-1 scaled one-hot vectors decoded by argmax. All randomness of a training step (t, noise,
categorical corruption) is drawn here from a passed generator, outside the model, so that
``output = denoiser(x_t, t)`` and ``loss = criterion(output, target)`` is all Opacus sees.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from fedcore.model.config import DiffusionConfig
from fedcore.model.denoiser import Denoiser
from fedcore.model.multinomial import CategoricalCoder
from fedcore.model.schedules import NoiseSchedule
from fedcore.preprocessing.encoded import TabularLayout


class DiffusionTarget(NamedTuple):
    """What the criterion compares the denoiser output against, one row per training example."""

    t: torch.Tensor  # (B,) int64 timestep in [0, T)
    noise: torch.Tensor  # (B, Dn + G) Gaussian noise added (G = sum K for gaussian_onehot, else 0)
    x0_cat: torch.Tensor  # (B, Dc) int64 clean categories
    xt_cat: torch.Tensor  # (B, Dc) int64 corrupted categories (multinomial only; else == x0_cat)


class TrainingBatch(NamedTuple):
    x_t: torch.Tensor  # (B, in_dim) denoiser input
    t: torch.Tensor  # (B,) int64
    target: DiffusionTarget


def randn(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Standard normal draw from ``generator`` (on its own device), moved to ``device``."""
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


class TabularDiffusion:
    """The denoiser plus everything needed to noise data and to denoise it (not an nn.Module,
    so Opacus wraps only the parameter-only ``denoiser``)."""

    def __init__(self, layout: TabularLayout, config: DiffusionConfig, denoiser: Denoiser) -> None:
        self.layout = layout
        self.config = config
        self.denoiser = denoiser
        self.schedule = NoiseSchedule.build(config.schedule, config.timesteps)
        self._device = torch.device("cpu")
        self._cache_schedule()

    # ---- shapes -------------------------------------------------------------------------
    @property
    def gaussian_dim(self) -> int:
        """Width of the Gaussian-diffused block: numerics, plus one-hots for gaussian_onehot."""
        extra = sum(self.layout.cat_cardinalities) if self.config.cat_diffusion == "gaussian_onehot" else 0
        return self.layout.num_features + extra

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: torch.device | str) -> "TabularDiffusion":
        """Move the denoiser and cached schedule tensors to ``device`` (in place, returns self)."""
        self._device = torch.device(device)
        self.denoiser.to(self._device)
        self._cache_schedule()
        return self

    def _cache_schedule(self) -> None:
        ab = self.schedule.alpha_bar  # (T,) float64
        self.sqrt_ab = ab.sqrt().float().to(self._device)  # (T,)
        self.sqrt_1m_ab = (1 - ab).sqrt().float().to(self._device)  # (T,)
        self.log_ab = ab.log().float().to(self._device)  # (T,)
        self.log_ab_prev = torch.cat([ab.new_ones(1), ab[:-1]]).log().float().to(self._device)  # (T,)
        self.coder = CategoricalCoder(self.layout.cat_cardinalities, self._device)

    # ---- encoding -----------------------------------------------------------------------
    def onehot_signal(self, cat: torch.Tensor) -> torch.Tensor:
        """gaussian_onehot: (B, Dc) categories -> (B, sum K) clean signal in {-s, +s}."""
        return (2.0 * self.coder.onehot_flat(cat) - 1.0) * self.config.onehot_scale

    def model_input(self, num_t: torch.Tensor, cat_t: torch.Tensor) -> torch.Tensor:
        """Denoiser input: noisy numerics (B, Dn) and noisy categories -> (B, in_dim).

        ``cat_t`` is (B, Dc) int64 for multinomial diffusion (fed as one-hot, as in TabDDPM)
        or the (B, sum K) noisy one-hot signal for gaussian_onehot.
        """
        if self.config.cat_diffusion == "multinomial":
            cat_t = self.coder.onehot_flat(cat_t)  # (B, sum K)
        return torch.cat([num_t, cat_t], dim=1)

    # ---- forward process ----------------------------------------------------------------
    def q_sample_gaussian(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (Ho et al. 2020, eq. 4)."""
        return self.sqrt_ab[t][:, None] * x0 + self.sqrt_1m_ab[t][:, None] * noise  # (B, D)

    def q_sample_categorical(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """x_t ~ Cat(alpha_bar_t x_0 + (1 - alpha_bar_t)/K) (Hoogeboom et al. 2021), (B, Dc)."""
        log_keep = self.log_ab[t][:, None, None]  # (B, 1, 1)
        log_flip = torch.log(-torch.expm1(log_keep)).clamp(min=-1e4)
        log_q = self.coder.mix(self.coder.log_onehot(x0), log_keep, log_flip)  # (B, Dc, K_max)
        return self.coder.sample(log_q, generator)

    def training_inputs(
        self, batch_num: torch.Tensor, batch_cat: torch.Tensor, generator: torch.Generator, multiplicity: int = 1
    ) -> TrainingBatch:
        """Draw t uniformly, noise the batch, and pack the denoiser input with its targets.

        ``batch_num`` (B, Dn) float32 and ``batch_cat`` (B, Dc) int64 on ``self.device``; the
        generator may live on another device (draws are moved). Inputs are not modified. With
        ``multiplicity`` K > 1 every row gets K independent (t, noise) draws and all outputs
        gain a K axis after the batch axis, (B, K, ...): the K draws stay one sample for DP,
        and averaging their losses lowers the variance of each row's gradient before it is
        clipped (noise multiplicity, Dockhorn et al. 2022).
        """
        if multiplicity < 1:
            raise ValueError(f"multiplicity must be >= 1, got {multiplicity}")
        if multiplicity > 1:
            flat = self.training_inputs(
                batch_num.repeat_interleave(multiplicity, 0), batch_cat.repeat_interleave(multiplicity, 0), generator
            )
            b = batch_num.shape[0]
            unflat = lambda x: x.reshape(b, multiplicity, *x.shape[1:])  # noqa: E731  (B*K, ...) -> (B, K, ...)
            return TrainingBatch(unflat(flat.x_t), unflat(flat.t), DiffusionTarget(*(unflat(f) for f in flat.target)))
        b = batch_num.shape[0]
        t = torch.randint(0, self.config.timesteps, (b,), generator=generator, device=generator.device)
        t = t.to(self._device)  # (B,) uniform, as in Ho et al. 2020
        noise = randn((b, self.gaussian_dim), generator, self._device)  # (B, Dn + G)
        if self.config.cat_diffusion == "multinomial":
            num_t = self.q_sample_gaussian(batch_num, t, noise)  # (B, Dn)
            cat_t = self.q_sample_categorical(batch_cat, t, generator)  # (B, Dc)
            x_t = self.model_input(num_t, cat_t)
        else:
            x0 = torch.cat([batch_num, self.onehot_signal(batch_cat)], dim=1)  # (B, Dn + sum K)
            x_t = self.q_sample_gaussian(x0, t, noise)
            cat_t = batch_cat
        return TrainingBatch(x_t, t, DiffusionTarget(t=t, noise=noise, x0_cat=batch_cat, xt_cat=cat_t))
