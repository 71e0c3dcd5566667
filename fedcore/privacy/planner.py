"""Choose a noise multiplier for a target epsilon, given what was already spent.

Same approach as ``opacus.accountants.utils.get_noise_multiplier`` (epsilon decreases
monotonically in sigma, so bisect on sigma), but over the composition of a prior history
and the planned steps, and with the tolerance on sigma rather than on epsilon.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from fedcore.privacy.accountant import AccountantName, StepRecord, compute_epsilon

logger = logging.getLogger(__name__)

__all__ = ["plan_noise_multiplier", "poisson_sample_rate", "steps_per_round"]


def plan_noise_multiplier(
    target_epsilon: float,
    sample_rate: float,
    steps: int,
    delta: float,
    accountant: AccountantName = "rdp",
    prior_history: Sequence[StepRecord] = (),
    *,
    tolerance: float = 1e-3,  # sigma precision; the returned sigma always meets the target
    max_noise_multiplier: float = 1e4,  # give up (target unreachable) beyond this sigma
) -> float:
    """Smallest sigma (within ``tolerance``) such that prior history plus
    ``StepRecord(sigma, sample_rate, steps)`` composes to at most ``target_epsilon``.

    Raises ``ValueError`` when the prior history alone already reaches the target, or no
    sigma up to ``max_noise_multiplier`` meets it.
    """
    if not math.isfinite(target_epsilon) or target_epsilon <= 0:
        raise ValueError(f"target_epsilon must be finite and > 0, got {target_epsilon!r}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
    StepRecord(1.0, sample_rate, steps)  # validates sample_rate and steps early
    prior = list(prior_history)
    prior_epsilon = compute_epsilon(prior, delta, accountant)
    if prior_epsilon >= target_epsilon:
        raise ValueError(
            f"prior history alone spends epsilon {prior_epsilon:.4f}, which already reaches "
            f"the target {target_epsilon}; no noise multiplier can fit more steps"
        )

    def epsilon_at(sigma: float) -> float:
        return compute_epsilon([*prior, StepRecord(sigma, sample_rate, steps)], delta, accountant)

    low, high = 0.0, 1.0  # invariant: epsilon_at(low) > target (sigma 0 is not private)
    while epsilon_at(high) > target_epsilon:
        low, high = high, high * 2
        if high > max_noise_multiplier:
            raise ValueError(
                f"target epsilon {target_epsilon} is unreachable with noise multiplier "
                f"<= {max_noise_multiplier} (prior epsilon {prior_epsilon:.4f})"
            )
    while high - low > tolerance:
        middle = (low + high) / 2
        if epsilon_at(middle) > target_epsilon:
            low = middle
        else:
            high = middle
    logger.debug(
        "planned sigma=%.4f for target epsilon %s (q=%s, steps=%s)",
        high, target_epsilon, sample_rate, steps,
    )
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
