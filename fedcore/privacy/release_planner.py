"""Noise for full-batch Gaussian releases that share one privacy budget.

A release of a sum with L2 sensitivity 1 and noise ``N(0, sigma^2)`` is the Gaussian
mechanism (Dwork & Roth 2014, Theorem A.1); it is ``StepRecord(sigma, 1.0, 1)`` here (divide
the noise std by the sensitivity first). Under zero-concentrated DP it is
``rho = 1 / (2 sigma^2)``-zCDP and rhos add up under composition (Bun & Steinke 2016,
https://arxiv.org/abs/1605.02065, Prop. 1.6 and Lemma 1.7). So ``sigma_i = scale /
sqrt(share_i)`` gives release i the share ``share_i`` of the total rho. The common scale is
then found by the planner's bisection against the chosen accountant (not zCDP's own,
looser, conversion to epsilon), over the prior history and all the releases together.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence

from fedcore.privacy.accountant import AccountantName, StepRecord
from fedcore.privacy.planner import smallest_noise_scale

logger = logging.getLogger(__name__)

__all__ = ["RELEASE_EPSILON_TOLERANCE", "plan_release_sigmas"]

# The releases and the prior history compose to within this relative distance below the
# target (never above it).
RELEASE_EPSILON_TOLERANCE = 1e-3


def plan_release_sigmas(
    target_epsilon: float,
    shares: Sequence[float],
    delta: float,
    accountant: AccountantName,
    prior_history: Sequence[StepRecord] = (),
) -> tuple[float, ...]:
    """Noise multipliers, one per share, for Gaussian releases that together with
    ``prior_history`` compose to ``target_epsilon`` (within ``RELEASE_EPSILON_TOLERANCE``
    below it, never above).

    ``sigma_i`` is proportional to ``1 / sqrt(share_i)``: a larger share gets less noise.
    Shares only set the relative noise; each must be > 0 and they may add up to at most 1.
    Raises ``ValueError`` for bad shares, a prior history that already reaches the target,
    or a target no noise up to the planner's bound meets.
    """
    weights = _checked_shares(shares)

    def releases(scale: float) -> list[StepRecord]:
        return [StepRecord(scale / math.sqrt(share), 1.0, 1) for share in weights]

    scale = smallest_noise_scale(
        releases, target_epsilon, delta, accountant, prior_history,
        epsilon_tolerance=RELEASE_EPSILON_TOLERANCE,
    )
    sigmas = tuple(record.noise_multiplier for record in releases(scale))
    logger.debug("planned release sigmas %s for target epsilon %s", sigmas, target_epsilon)
    return sigmas


def _checked_shares(shares: Sequence[float]) -> tuple[float, ...]:
    if isinstance(shares, (str, bytes)) or not isinstance(shares, Sequence) or not shares:
        raise ValueError(f"shares must be a non-empty sequence of numbers, got {shares!r}")
    for share in shares:
        if isinstance(share, bool) or not isinstance(share, numbers.Real):
            raise ValueError(f"each share must be a number, got {share!r}")
        if not (math.isfinite(share) and share > 0):
            raise ValueError(f"each share must be finite and > 0, got {share!r}")
    total = math.fsum(shares)
    if total > 1 + 1e-9:  # slack for shares like (0.7, 0.2, 0.1) that sum past 1 in floats
        raise ValueError(f"shares must add up to at most 1, got {total!r}")
    return tuple(float(share) for share in shares)
