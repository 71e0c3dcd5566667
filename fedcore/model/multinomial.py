"""Multinomial diffusion on categorical features, in log space (Hoogeboom et al. 2021).

Features of different cardinalities are padded to ``K_max`` categories: log-probabilities are
(B, Dc, K_max) tensors whose padding slots hold ``NEG`` (probability exp(-1e4) = 0), so every
operation is one vectorised call instead of a loop over features. The forward process is
``q(x_t | x_s) = Cat(a x_s + (1 - a) / K)`` with ``a = alpha_bar_t / alpha_bar_s``, as in
TabDDPM (Kotelnikov et al. 2023).
"""

from __future__ import annotations

import torch

NEG = -1.0e4  # log-probability of an impossible (or padding) category; exp(NEG) == 0 in float32
_LOG_ZERO = -69.0  # log(1e-30): TabDDPM's floor for the zeros of a one-hot vector


class CategoricalCoder:
    """Index bookkeeping between flat one-hot blocks (B, sum K) and padded (B, Dc, K_max)."""

    def __init__(self, cardinalities: tuple[int, ...], device: torch.device | str = "cpu") -> None:
        cards = torch.tensor(cardinalities, dtype=torch.long)  # (Dc,)
        self.cardinalities = tuple(int(k) for k in cardinalities)
        self.num_features = len(self.cardinalities)
        self.total = int(cards.sum()) if self.num_features else 0
        self.k_max = int(cards.max()) if self.num_features else 1
        offsets = torch.cumsum(cards, 0) - cards  # (Dc,)
        slots = torch.arange(self.k_max)  # (K_max,)
        self.mask = (slots[None, :] < cards[:, None]).to(device)  # (Dc, K_max) valid slots
        # flat position of (feature, slot); padding slots point at the feature's first category
        pad_index = torch.where(slots[None, :] < cards[:, None], offsets[:, None] + slots[None, :], offsets[:, None])
        self.pad_index = pad_index.to(device)  # (Dc, K_max)
        self.offsets = offsets.to(device)  # (Dc,)
        self.log_k = cards.double().log().float().to(device)[:, None]  # (Dc, 1)
        self.device = torch.device(device)

    def to(self, device: torch.device | str) -> "CategoricalCoder":
        return CategoricalCoder(self.cardinalities, device)

    def onehot_flat(self, index: torch.Tensor) -> torch.Tensor:
        """(B, Dc) int64 category indices -> (B, sum K) float one-hot."""
        out = torch.zeros(index.shape[0], self.total, device=index.device)  # (B, sum K)
        return out.scatter_(1, index + self.offsets, 1.0)

    def pad(self, flat: torch.Tensor) -> torch.Tensor:
        """(B, sum K) per-category values -> (B, Dc, K_max), padding slots set to NEG."""
        padded = flat[:, self.pad_index]  # (B, Dc, K_max)
        return padded.masked_fill(~self.mask, NEG)

    def log_onehot(self, index: torch.Tensor) -> torch.Tensor:
        """(B, Dc) indices -> (B, Dc, K_max) log one-hot (0 at the index, a floor elsewhere)."""
        slots = torch.arange(self.k_max, device=index.device)  # (K_max,)
        log = torch.where(index[..., None] == slots, 0.0, _LOG_ZERO)  # (B, Dc, K_max)
        return log.masked_fill(~self.mask, NEG)

    def log_softmax(self, logits_flat: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """(B, sum K) logits -> (B, Dc, K_max) normalised log-probabilities per feature."""
        return torch.log_softmax(self.pad(logits_flat / temperature), dim=-1)

    def uniform_log(self, batch: int) -> torch.Tensor:
        """(B, Dc, K_max) log-probabilities of the uniform distribution, the limit of q(x_T)."""
        log = (-self.log_k).expand(self.num_features, self.k_max)  # (Dc, K_max)
        return log.masked_fill(~self.mask, NEG).expand(batch, -1, -1)

    def mix(self, log_x: torch.Tensor, log_keep: torch.Tensor, log_flip: torch.Tensor) -> torch.Tensor:
        """log(keep * x + (1 - keep) / K), with ``log_keep``, ``log_flip`` = log(1 - keep), (B, 1, 1)."""
        mixed = torch.logaddexp(log_x + log_keep, log_flip - self.log_k)  # (B, Dc, K_max)
        return mixed.masked_fill(~self.mask, NEG)

    def sample(self, log_probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Gumbel-max draw from (B, Dc, K_max) log-probabilities -> (B, Dc) int64."""
        u = torch.rand(log_probs.shape, generator=generator, device=generator.device)
        gumbel = -torch.log(-torch.log(u.to(log_probs.device).clamp(1e-20, 1.0 - 1e-7)))
        return (log_probs + gumbel).masked_fill(~self.mask, 2 * NEG).argmax(dim=-1)


def log_1m_exp(log_a: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(log_a)) for log_a <= 0, stable for log_a near 0; log(0) floored at NEG."""
    return torch.log(-torch.expm1(log_a)).clamp(min=NEG)


def posterior(
    coder: CategoricalCoder,
    log_x0: torch.Tensor,
    log_xt: torch.Tensor,
    log_ab_t: torch.Tensor,
    log_ab_s: torch.Tensor,
) -> torch.Tensor:
    """log q(x_s | x_t, x_0) for s < t (s = -1 meaning the clean data), (B, Dc, K_max).

    ``q(x_s | x_t, x_0) ∝ q(x_t | x_s) q(x_s | x_0)`` (Hoogeboom et al. 2021, eq. 12, for any
    s < t, so DDIM-style strided sampling stays exact). A soft ``log_x0`` (the model's
    predicted distribution) gives the model's ``p(x_s | x_t)`` as in TabDDPM. ``log_ab_*`` are
    log alpha_bar, broadcastable to (B, 1, 1), with ``log_ab_s = 0`` for s = -1.
    """
    log_ratio = log_ab_t - log_ab_s  # log alpha_bar_t / alpha_bar_s
    from_x0 = coder.mix(log_x0, log_ab_s, log_1m_exp(log_ab_s))  # q(x_s | x_0)
    to_xt = coder.mix(log_xt, log_ratio, log_1m_exp(log_ratio))  # q(x_t | x_s) as a function of x_s
    unnormed = from_x0 + to_xt  # (B, Dc, K_max)
    return torch.log_softmax(unnormed.masked_fill(~coder.mask, 2 * NEG), dim=-1).masked_fill(~coder.mask, NEG)


def kl_categorical(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """KL(q || p) per feature: (B, Dc, K_max) log-probabilities -> (B, Dc)."""
    return (log_q.exp() * (log_q - log_p)).sum(dim=-1)


def nll_categorical(index: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """-log p(index) per feature: (B, Dc) indices and (B, Dc, K_max) log-probs -> (B, Dc)."""
    return -log_p.gather(-1, index[..., None]).squeeze(-1)
