"""Generating encoded rows: DDPM ancestral and DDIM strided sampling, with conditioning.

Numerics use the DDIM update (Song et al. 2021, eq. 12); with every timestep and eta = 1 it
is exactly DDPM's ancestral sampler (Ho et al. 2020), which is how ``sampler="ddpm"`` runs.
Categoricals under multinomial diffusion are drawn from the exact posterior
``q(x_s | x_t, x_0)`` between the visited timesteps, with x_0 replaced by the model's
predicted distribution (Hoogeboom et al. 2021; TabDDPM, Kotelnikov et al. 2023).

Conditioning (``conditions={feature: category}``) is inpainting by replacement (RePaint,
Lugmayr et al. 2022; TabDDPM's conditional sampling): before every denoiser call the fixed
columns are overwritten with a fresh draw from the forward process q(x_t | x_0 = fixed), so the
denoiser always sees them at the noise level it was trained on, and the other columns are
denoised in their light. The returned table holds exactly the fixed categories.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from fedcore.model.config import DiffusionConfig, SamplingConfig
from fedcore.model.diffusion import TabularDiffusion, randn
from fedcore.model.multinomial import posterior
from fedcore.model.weights import build_model, resolve_device, set_weights
from fedcore.preprocessing.encoded import EncodedTable, TabularLayout

logger = logging.getLogger(__name__)

_X0_CLIP = 6.0  # |x_0| bound for numerics: the quantile-normal transform's range is about +-5.2


def timestep_sequence(config: SamplingConfig, timesteps: int) -> list[int]:
    """Timesteps visited, descending: all T for DDPM, ``steps`` evenly spaced for DDIM."""
    if config.sampler == "ddpm":
        return list(range(timesteps - 1, -1, -1))
    if config.steps > timesteps:
        raise ValueError(f"ddim steps ({config.steps}) cannot exceed the model's timesteps ({timesteps})")
    ts = np.unique(np.round(np.linspace(0, timesteps - 1, config.steps)).astype(int))
    return [int(t) for t in ts[::-1]]


def _check_conditions(layout: TabularLayout, conditions: dict[int, int] | None) -> dict[int, int]:
    conditions = dict(conditions or {})
    cards = layout.cat_cardinalities
    for feature, category in conditions.items():
        if not 0 <= int(feature) < len(cards):
            raise ValueError(f"condition on categorical feature {feature}, but the layout has {len(cards)}")
        if not 0 <= int(category) < cards[feature]:
            raise ValueError(f"feature {feature} has {cards[feature]} categories; cannot fix it to {category}")
    return {int(f): int(c) for f, c in conditions.items()}


class _Reverse:
    """One batch's reverse process; holds the fixed columns and the generator."""

    def __init__(self, model: TabularDiffusion, config: SamplingConfig, conditions: dict[int, int],
                 generator: torch.Generator) -> None:
        self.m, self.cfg, self.gen = model, config, generator
        self.dn = model.layout.num_features
        self.gaussian_cat = model.config.cat_diffusion == "gaussian_onehot"
        self.fixed_idx = torch.tensor(sorted(conditions), dtype=torch.long, device=model.device)
        self.fixed_val = torch.tensor([conditions[k] for k in sorted(conditions)], dtype=torch.long,
                                      device=model.device)
        cards = model.layout.cat_cardinalities
        fixed = sorted(conditions)
        signal = torch.zeros(1, model.coder.total, device=model.device)  # (1, sum K) one-hot signal
        if conditions:
            index = torch.tensor([[conditions.get(f, 0) for f in range(len(cards))]], device=model.device)
            signal = model.onehot_signal(index)
        # flat one-hot columns of the fixed features, and their clean +-s values (gaussian_onehot)
        self.fixed_cols = torch.cat(
            [torch.arange(cards[f], device=model.device) + int(model.coder.offsets[f]) for f in fixed]
        ) if conditions else torch.zeros(0, dtype=torch.long, device=model.device)
        self.fixed_signal = signal[:, self.fixed_cols]  # (1, C)

    def _fixed_cat(self, b: int) -> torch.Tensor:
        return self.fixed_val.expand(b, -1)  # (B, F)

    def clamp(self, x: torch.Tensor, cat: torch.Tensor | None, t: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Replace the fixed columns by a draw from q(x_t | x_0 = fixed) (RePaint)."""
        if self.fixed_idx.numel() == 0:
            return x, cat
        m, b = self.m, x.shape[0]
        if self.gaussian_cat:
            z = randn((b, self.fixed_cols.numel()), self.gen, m.device)  # (B, C)
            x = x.clone()
            x[:, self.dn + self.fixed_cols] = m.sqrt_ab[t] * self.fixed_signal + m.sqrt_1m_ab[t] * z
            return x, cat
        tt = torch.full((b,), t, dtype=torch.long, device=m.device)
        full = torch.zeros(b, len(m.layout.cat_cardinalities), dtype=torch.long, device=m.device)
        full[:, self.fixed_idx] = self._fixed_cat(b)
        noisy = m.q_sample_categorical(full, tt, self.gen)  # (B, Dc)
        cat = cat.clone()
        cat[:, self.fixed_idx] = noisy[:, self.fixed_idx]
        return x, cat

    def step(self, x: torch.Tensor, cat: torch.Tensor | None, t: int, s: int):
        """One reverse move from timestep t to s < t (s = -1: the clean data)."""
        m, b = self.m, x.shape[0]
        x, cat = self.clamp(x, cat, t)
        tt = torch.full((b,), t, dtype=torch.long, device=m.device)
        out = m.denoiser(m.model_input(x[:, : self.dn], cat) if not self.gaussian_cat else x, tt)  # (B, out)
        g = m.gaussian_dim
        ab_t = m.schedule.alpha_bar[t].item()
        ab_s = m.schedule.alpha_bar[s].item() if s >= 0 else 1.0
        eta = 1.0 if self.cfg.sampler == "ddpm" else self.cfg.eta
        eps = out[:, :g]  # (B, G)
        x0 = ((x - (1 - ab_t) ** 0.5 * eps) / ab_t**0.5).clamp(-_X0_CLIP, _X0_CLIP)  # (B, G)
        eps = (x - ab_t**0.5 * x0) / (1 - ab_t) ** 0.5  # consistent with the clipped x0
        sigma = eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)) ** 0.5
        sigma = min(sigma, (1 - ab_s) ** 0.5)
        x_s = ab_s**0.5 * x0 + max(1 - ab_s - sigma**2, 0.0) ** 0.5 * eps
        if sigma > 0:
            x_s = x_s + sigma * randn(tuple(x.shape), self.gen, m.device)
        if self.gaussian_cat:
            return x_s, cat
        coder = m.coder
        log_x0 = coder.log_softmax(out[:, g:], self.cfg.cat_temperature)  # (B, Dc, K_max)
        log_ab_t = torch.tensor(np.log(ab_t), device=m.device)
        log_ab_s = torch.tensor(np.log(ab_s), device=m.device)
        log_post = posterior(coder, log_x0, coder.log_onehot(cat), log_ab_t, log_ab_s)
        return x_s, coder.sample(log_post, self.gen)

    def renoise(self, x: torch.Tensor, cat: torch.Tensor | None, t: int, s: int):
        """Draw x_t ~ q(x_t | x_s) for s < t: the forward process between two visited steps."""
        m = self.m
        ratio = (m.schedule.alpha_bar[t] / m.schedule.alpha_bar[s]).item()
        x = ratio**0.5 * x + (1 - ratio) ** 0.5 * randn(tuple(x.shape), self.gen, m.device)
        if cat is not None:
            log_keep = torch.tensor(np.log(ratio), device=m.device)
            log_flip = torch.tensor(np.log1p(-ratio), device=m.device).clamp(min=-1e4)
            cat = m.coder.sample(m.coder.mix(m.coder.log_onehot(cat), log_keep, log_flip), self.gen)
        return x, cat

    def run(self, b: int, timesteps: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.m
        x = randn((b, m.gaussian_dim), self.gen, m.device)  # (B, G): x_T ~ N(0, I)
        cat = None
        if not self.gaussian_cat:
            cat = m.coder.sample(m.coder.uniform_log(b), self.gen)  # (B, Dc): x_T ~ uniform
        repeats = self.cfg.resample if self.fixed_idx.numel() else 1
        for t, s in zip(timesteps, timesteps[1:] + [-1]):
            for r in range(repeats):
                x_s, cat_s = self.step(x, cat, t, s)
                if r + 1 == repeats or s < 0:
                    break
                x, cat = self.renoise(x_s, cat_s, t, s)  # RePaint: back to t, denoise again
            x, cat = x_s, cat_s
        num = x[:, : self.dn]
        if self.gaussian_cat:
            cat = m.coder.pad(x[:, self.dn :]).argmax(dim=-1)  # (B, Dc)
        cat = cat.clone()
        cat[:, self.fixed_idx] = self._fixed_cat(b)
        return num, cat


def sample(
    model: TabularDiffusion | dict[str, np.ndarray],
    layout: TabularLayout,
    n: int,
    sampling_config: SamplingConfig,
    generator: torch.Generator,
    conditions: dict[int, int] | None = None,
    *,
    model_config: DiffusionConfig | None = None,
    device: str = "auto",
) -> EncodedTable:
    """Generate ``n`` encoded rows from a model or its weights (``model_config`` describes the
    weights; default ``DiffusionConfig()``), ``sampling_config.batch_size`` rows at a time.

    ``conditions`` maps categorical feature index to the category every row must have; the
    fixed columns are re-noised into the denoiser input at every step, each step repeated
    ``sampling_config.resample`` times (RePaint), and set exactly in the output. All randomness
    comes from ``generator``. The module's mode, device and weights are left as they were.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    conditions = _check_conditions(layout, conditions)
    if isinstance(model, dict):
        diffusion = build_model(layout, model_config or DiffusionConfig(), seed=0)
        set_weights(diffusion, model)
        diffusion.to(resolve_device(device))
    else:
        if model.layout != layout:
            raise ValueError(f"the model was built for {model.layout}, not {layout}")
        diffusion = model
    timesteps = timestep_sequence(sampling_config, diffusion.config.timesteps)
    was_training = diffusion.denoiser.training
    diffusion.denoiser.eval()
    nums, cats = [], []
    try:
        with torch.inference_mode():
            reverse = _Reverse(diffusion, sampling_config, conditions, generator)
            for start in range(0, n, sampling_config.batch_size):
                b = min(sampling_config.batch_size, n - start)
                num, cat = reverse.run(b, timesteps)
                nums.append(num.float().cpu().numpy())
                cats.append(cat.cpu().numpy().astype(np.int64))
    finally:
        diffusion.denoiser.train(was_training)
    logger.debug("sampled %d rows with %s over %d timesteps", n, sampling_config.sampler, len(timesteps))
    if not nums:
        return EncodedTable(np.zeros((0, layout.num_features), np.float32),
                            np.zeros((0, len(layout.cat_cardinalities)), np.int64))
    return EncodedTable(np.concatenate(nums).astype(np.float32), np.concatenate(cats))
