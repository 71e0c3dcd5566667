"""Choose noise for a target epsilon, given what was already spent.

Same approach as ``opacus.accountants.utils.get_noise_multiplier`` (epsilon decreases
monotonically in the noise, so bisect on it), but over the composition of a prior history
and the planned steps. ``smallest_noise_scale`` is the one bisection; DP-SGD steps
(``plan_noise_multiplier``) and full-batch releases (``release_planner``) both use it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

from fedcore.privacy.accountant import AccountantName, StepRecord, compute_epsilon

logger = logging.getLogger(__name__)

__all__ = ["plan_noise_multiplier", "poisson_sample_rate", "smallest_noise_scale", "steps_per_round"]

# Sigma 1e4 is far more than needed: a Gaussian release at epsilon 0.001 (a 1% share of a
# 0.1 target) needs sigma ~2040 with RDP and ~1720 with PLD at delta 1e-5.
MAX_NOISE_SCALE = 1e4


def plan_noise_multiplier(
    target_epsilon: float,
    sample_rate: float,
    steps: int,
    delta: float,
    accountant: AccountantName = "rdp",
    prior_history: Sequence[StepRecord] = (),
    *,
    tolerance: float = 1e-3,  # sigma precision; the returned sigma always meets the target
    max_noise_multiplier: float = MAX_NOISE_SCALE,  # give up (target unreachable) beyond this sigma
) -> float:
    """Smallest sigma (within ``tolerance``) such that prior history plus
    ``StepRecord(sigma, sample_rate, steps)`` composes to at most ``target_epsilon``.

    Raises ``ValueError`` when the prior history alone already reaches the target, or no
    sigma up to ``max_noise_multiplier`` meets it.
    """
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
    StepRecord(1.0, sample_rate, steps)  # validates sample_rate and steps early
    sigma = smallest_noise_scale(
        lambda sigma: [StepRecord(sigma, sample_rate, steps)],
        target_epsilon, delta, accountant, prior_history,
        scale_tolerance=tolerance, max_scale=max_noise_multiplier,
    )
    logger.debug(
        "planned sigma=%.4f for target epsilon %s (q=%s, steps=%s)",
        sigma, target_epsilon, sample_rate, steps,
    )
    return sigma


def smallest_noise_scale(
    planned_records: Callable[[float], Sequence[StepRecord]],
    target_epsilon: float,
    delta: float,
    accountant: AccountantName = "rdp",
    prior_history: Sequence[StepRecord] = (),
    *,
    scale_tolerance: float = 0.0,  # stop once the bracket on the scale is this narrow ...
    epsilon_tolerance: float = 0.0,  # ... or epsilon is within this relative distance below target
    max_scale: float = MAX_NOISE_SCALE,  # give up (target unreachable) beyond this scale
) -> float:
    """Smallest scale s (by bisection) at which ``prior_history + planned_records(s)``
    composes to at most ``target_epsilon``; the returned s always meets the target.

    ``planned_records(s)`` must add more noise as s grows, so that epsilon decreases in s.
    Raises ``ValueError`` when the prior history alone already reaches the target, or no
    scale up to ``max_scale`` meets it.
    """
    if not math.isfinite(target_epsilon) or target_epsilon <= 0:
        raise ValueError(f"target_epsilon must be finite and > 0, got {target_epsilon!r}")
    if not scale_tolerance >= 0:
        raise ValueError(f"scale_tolerance must be >= 0, got {scale_tolerance!r}")
    if not 0 <= epsilon_tolerance < 1:
        raise ValueError(f"epsilon_tolerance must be in [0, 1), got {epsilon_tolerance!r}")
    prior = list(prior_history)
    prior_epsilon = compute_epsilon(prior, delta, accountant)
    if prior_epsilon >= target_epsilon:
        raise ValueError(
            f"prior history alone spends epsilon {prior_epsilon:.4f}, which already reaches "
            f"the target {target_epsilon}; no amount of noise can fit more"
        )

    def epsilon_at(scale: float) -> float:
        return compute_epsilon([*prior, *planned_records(scale)], delta, accountant)

    low, high = 0.0, 1.0  # invariant: epsilon_at(low) > target (no noise is not private)
    high_epsilon = epsilon_at(high)
    while high_epsilon > target_epsilon:
        low, high = high, high * 2
        if high > max_scale:
            raise ValueError(
                f"target epsilon {target_epsilon} is unreachable with noise scale "
                f"<= {max_scale} (prior epsilon {prior_epsilon:.4f})"
            )
        high_epsilon = epsilon_at(high)
    close_enough = target_epsilon * (1 - epsilon_tolerance) if epsilon_tolerance else math.inf
    # 1e-12 * high: floats stop narrowing there, so the loop ends even with both tolerances 0
    while high - low > max(scale_tolerance, 1e-12 * high) and high_epsilon < close_enough:
        middle = (low + high) / 2
        middle_epsilon = epsilon_at(middle)
        if middle_epsilon > target_epsilon:
            low = middle
        else:
            high, high_epsilon = middle, middle_epsilon
    return high


def poisson_sample_rate(rows: int, batch_size: int) -> float:
    """Poisson sampling probability q = batch_size / rows (expected batch = batch_size)."""
    _check_positive_int(rows=rows, batch_size=batch_size)
    if batch_size > rows:
        raise ValueError(f"batch_size {batch_size} exceeds rows {rows}")
    return batch_size / rows


def steps_per_round(rows: int, batch_size: int, epochs: int) -> int:
    """Steps for ``epochs`` passes with Poisson sampling: epochs * ceil(1 / q).

    With q = batch_size / rows, ceil(1/q) = ceil(rows / batch_size) steps see ``rows``
    records in expectation, the usual definition of an epoch. Opacus' DPDataLoader uses
    the same number of steps per epoch (len of the loader) with q = 1 / ceil(rows /
    batch_size) <= batch_size / rows, so accounting with batch_size / rows never
    under-charges a trainer that uses it.
    """
    _check_positive_int(rows=rows, batch_size=batch_size, epochs=epochs)
    poisson_sample_rate(rows, batch_size)
    return epochs * -(-rows // batch_size)  # exact integer ceil


def _check_positive_int(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
